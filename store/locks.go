package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Advisory lock keys of the jobs that must run on one replica at a time. PostgreSQL advisory locks are
// per database, so replicas sharing one database share them; the values only need to differ from each
// other and from goose's migration lock.
const (
	LockDemoData int64 = 0x62686c66_00000001 // "bhlf" 1: loading demo data
	LockSweep    int64 = 0x62686c66_00000002 // "bhlf" 2: the periodic sweep (idempotency keys, tickets)
)

// XactLock waits for the transaction-scoped advisory lock key; it is released when the transaction in
// ctx ends. Call it inside RunInTx. On SQLite it does nothing: its write transactions already run one at
// a time (_txlock=immediate).
func XactLock(ctx context.Context, db *gorm.DB, key int64) error {
	if Dialect(db) != Postgres {
		return nil
	}
	if err := Conn(ctx, db).Exec("SELECT pg_advisory_xact_lock(?)", key).Error; err != nil {
		return fmt.Errorf("advisory lock %x: %w", key, err)
	}
	return nil
}

// TryXactLock takes the transaction-scoped advisory lock key if it is free and reports whether it did;
// another replica holding it means the job is being done there. Call it inside RunInTx. On SQLite it
// always succeeds.
func TryXactLock(ctx context.Context, db *gorm.DB, key int64) (bool, error) {
	if Dialect(db) != Postgres {
		return true, nil
	}
	var ok bool
	if err := Conn(ctx, db).Raw("SELECT pg_try_advisory_xact_lock(?)", key).Scan(&ok).Error; err != nil {
		return false, fmt.Errorf("advisory lock %x: %w", key, err)
	}
	return ok, nil
}
