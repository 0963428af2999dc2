package app

import (
	"context"
	"sync"
	"time"

	"behalf/store"
)

// SweepInterval is how often RunSweeper runs in a served process.
const SweepInterval = time.Hour

// Background runs what a served replica does besides answering requests, until ctx ends: on
// PostgreSQL the change listener (its own connection, LISTENing for the changes other replicas
// publish; until it is connected the identity cache is bypassed), the writer of last-seen stamps (one
// statement per BEHALF_LAST_SEEN_INTERVAL), and the hourly sweep (on one replica at a time). The
// returned function waits until they stopped, after writing the last stamps.
func (a *App) Background(ctx context.Context) (wait func()) {
	var wg sync.WaitGroup
	if bus := store.BusOf(a.DB); bus != nil && store.Dialect(a.DB) == store.Postgres {
		dsn := a.Config.ListenDB
		if dsn == "" {
			dsn = store.DSN(a.DB)
		}
		wg.Go(func() {
			bus.Listen(ctx, dsn, store.ListenOptions{Heartbeat: a.Config.ChangeHeartbeat, Log: a.Log})
		})
	}
	wg.Go(func() { a.Security.RunLastSeenFlusher(ctx, a.Config.LastSeenInterval, a.Log) })
	wg.Go(func() { a.RunSweeper(ctx, SweepInterval) })
	return wg.Wait
}
