package store_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"behalf/internal/dbtest"
	"behalf/store"

	"gorm.io/gorm"
)

// TestPublishAtCommit: a change published inside a transaction reaches this process's subscribers only
// after the commit, and never when the transaction rolls back; outside a transaction at once.
func TestPublishAtCommit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		bus, err := store.InstallBus(db)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := store.InstallBus(db); err != nil || again != bus {
			t.Fatalf("second InstallBus: %v, same bus %v", err, again == bus)
		}
		var mu sync.Mutex
		var heard []string
		bus.Subscribe(func(keys []string) {
			mu.Lock()
			heard = append(heard, keys...)
			mu.Unlock()
		})
		got := func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(heard)
		}
		ctx := context.Background()
		errRollback := errors.New("roll back")
		err = store.RunInTx(ctx, db, func(ctx context.Context) error {
			if err := store.Publish(ctx, db, store.UserKey("rolled-back")); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) || len(got()) != 0 {
			t.Fatalf("rolled back: %v, heard %v", err, got())
		}
		err = store.RunInTx(ctx, db, func(ctx context.Context) error {
			if err := store.Publish(ctx, db, store.SessionKey("s1"), store.APIKeyKey("k1")); err != nil {
				return err
			}
			if len(got()) != 0 {
				t.Errorf("heard %v before the commit", got())
			}
			return nil
		})
		if err != nil || !slices.Equal(got(), []string{"s:s1", "k:k1"}) {
			t.Fatalf("committed: %v, heard %v", err, got())
		}
		if err := store.Publish(ctx, db, store.UserKey("u1")); err != nil || !slices.Contains(got(), "u:u1") {
			t.Fatalf("outside a transaction: %v, heard %v", err, got())
		}
		// Without a listener a PostgreSQL replica cannot be sure to hear other replicas' changes.
		if want := store.Dialect(db) == store.SQLite; bus.Trusted() != want {
			t.Errorf("Trusted() = %v without a listener, want %v", bus.Trusted(), want)
		}
	})
}
