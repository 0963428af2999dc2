package store

import "sync/atomic"

// lostBookkeeping counts failure-path writes (a FAILURE audit event, a throttle counter, a burnt
// ticket) that could not be written. Each is also logged at error level with the request id; the
// count lets monitoring alert on it.
var lostBookkeeping atomic.Int64

// CountLostBookkeeping records one failure-path write that could not be written.
func CountLostBookkeeping() { lostBookkeeping.Add(1) }

// LostBookkeeping returns how many failure-path writes were lost since the process started.
func LostBookkeeping() int64 { return lostBookkeeping.Load() }
