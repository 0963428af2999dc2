package store_test

import (
	"context"
	"testing"

	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

func TestCountStatements(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		c, err := store.CountStatements(db)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cc := store.WithStatementCount(context.Background())
		var n int64
		if err := db.WithContext(ctx).Model(&model.AuditEvent{}).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		var one int
		if err := db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Exec("SELECT 1").Error; err != nil {
			t.Fatal(err)
		}
		if got := cc.N(); got != 2 {
			t.Errorf("context count = %d, want 2", got)
		}
		if got := c.Total(); got != 3 {
			t.Errorf("total = %d, want 3", got)
		}
	})
}
