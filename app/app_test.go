package app_test

import (
	"context"
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"

	"gorm.io/gorm"
)

// TestSweepRemovesExpiredIdempotencyKeys: keys older than their 24h lifetime go, younger ones stay.
func TestSweepRemovesExpiredIdempotencyKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		carla := env.CreateUser("carla", []string{"customer"}, nil)
		now := env.Clock.Now()
		for i, age := range []time.Duration{25 * time.Hour, 23 * time.Hour, time.Minute} {
			k := model.IdempotencyKey{ID: model.NewID(), CustomerID: carla.ID, Scope: "order.place",
				Key: string(rune('a' + i)), RequestHash: "h", ResultID: "r", CreatedAt: now.Add(-age)}
			if err := db.Create(&k).Error; err != nil {
				t.Fatal(err)
			}
		}
		n, err := env.App.Sweep(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("Sweep = %d, %v; want 1 key removed", n, err)
		}
		var left int64
		dbtest.Must(t, db.Model(&model.IdempotencyKey{}).Count(&left))
		if left != 2 {
			t.Fatalf("%d keys left, want 2", left)
		}
	})
}
