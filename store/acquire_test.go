package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"behalf/internal/dbtest"
	"behalf/store"
)

// TestAcquireTimeoutFailsFast holds the only connection of a pool in a transaction: a statement on
// another request fails with ErrPoolTimeout instead of waiting, and works again once it is free.
func TestAcquireTimeoutFailsFast(t *testing.T) {
	t.Parallel()
	dsn := dbtest.FreshDSN(t, store.Postgres)
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 1, AcquireTimeout: 50 * time.Millisecond, StatementTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	var timeout string
	if err := db.Raw("SHOW statement_timeout").Scan(&timeout).Error; err != nil || timeout != "5s" {
		t.Fatalf("statement_timeout %q, %v", timeout, err)
	}
	ctx := context.Background()
	held := make(chan struct{})
	release := make(chan struct{})
	txDone := make(chan error, 1)
	go func() {
		txDone <- store.RunInTx(ctx, db, func(ctx context.Context) error {
			if err := store.Conn(ctx, db).Exec("SELECT 1").Error; err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	var n int
	err = db.WithContext(ctx).Raw("SELECT 1").Scan(&n).Error
	close(release)
	if !errors.Is(err, store.ErrPoolTimeout) {
		t.Fatalf("got %v, want ErrPoolTimeout", err)
	}
	if err := <-txDone; err != nil {
		t.Fatal(err)
	}
	if err := db.WithContext(ctx).Raw("SELECT 1").Scan(&n).Error; err != nil || n != 1 {
		t.Fatalf("after release: %d %v", n, err)
	}
}
