package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

func TestStampCallback(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		now := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
		for _, login := range []string{"carla", "sam"} {
			u := &model.User{ID: login + "-id", Login: login, Email: login + "@example.com", CreatedAt: now, UpdatedAt: now}
			if err := db.Create(u).Error; err != nil {
				t.Fatal(err)
			}
		}
		staff := "sam-id"
		own := store.WithStamp(context.Background(), store.Stamp{Login: "carla", SubjectID: "carla-id"})
		onBehalf := store.WithStamp(context.Background(), store.Stamp{Login: "sam", OperatorID: &staff, SubjectID: "carla-id"})
		load := func(id string) model.Cart {
			t.Helper()
			var c model.Cart
			if err := db.Take(&c, "id = ?", id).Error; err != nil {
				t.Fatal(err)
			}
			return c
		}
		check := func(step string, c model.Cart, created, modified string, operator *string) {
			t.Helper()
			if c.CreatedBy != created || c.ModifiedBy != modified {
				t.Errorf("%s: created_by=%q modified_by=%q, want %q %q", step, c.CreatedBy, c.ModifiedBy, created, modified)
			}
			if (operator == nil) != (c.OperatorID == nil) || (operator != nil && *operator != *c.OperatorID) {
				t.Errorf("%s: operator_id=%v, want %v", step, c.OperatorID, operator)
			}
		}

		// Insert on behalf: customer_id is filled from the subject; the stamp names the staff member.
		c := &model.Cart{ID: model.NewID(), CreatedAt: now, UpdatedAt: now}
		if err := db.WithContext(onBehalf).Create(c).Error; err != nil {
			t.Fatal(err)
		}
		got := load(c.ID)
		if got.CustomerID != "carla-id" {
			t.Errorf("customer_id = %q, want the subject", got.CustomerID)
		}
		check("create on behalf", got, "sam", "sam", &staff)

		// Updates(struct) in the customer's own session clears the operator even though nil is zero.
		if err := db.WithContext(own).Model(&model.Cart{ID: c.ID}).Updates(model.Cart{Version: 2}).Error; err != nil {
			t.Fatal(err)
		}
		got = load(c.ID)
		check("Updates(struct) own", got, "sam", "carla", nil)
		if got.Version != 2 {
			t.Errorf("version = %d, want 2 (the struct's own field still written)", got.Version)
		}

		// Updates(map) on behalf.
		if err := db.WithContext(onBehalf).Model(&model.Cart{ID: c.ID}).Updates(map[string]any{"version": gorm.Expr("version + 1")}).Error; err != nil {
			t.Fatal(err)
		}
		got = load(c.ID)
		check("Updates(map) on behalf", got, "sam", "sam", &staff)
		if got.Version != 3 {
			t.Errorf("version = %d, want 3", got.Version)
		}

		// Update(column) and UpdateColumn in the own session.
		if err := db.WithContext(own).Model(&model.Cart{ID: c.ID}).Update("version", 4).Error; err != nil {
			t.Fatal(err)
		}
		check("Update(col) own", load(c.ID), "sam", "carla", nil)
		if err := db.WithContext(onBehalf).Model(&model.Cart{ID: c.ID}).UpdateColumn("version", 5).Error; err != nil {
			t.Fatal(err)
		}
		check("UpdateColumn on behalf", load(c.ID), "sam", "sam", &staff)

		// Save writes every column; the stamp wins over whatever the struct held.
		got = load(c.ID)
		got.ModifiedBy, got.CreatedBy = "forged", "forged-too"
		if err := db.WithContext(own).Save(&got).Error; err != nil {
			t.Fatal(err)
		}
		after := load(c.ID)
		if after.ModifiedBy != "carla" || after.OperatorID != nil {
			t.Errorf("Save own: modified_by=%q operator=%v, want carla and nil", after.ModifiedBy, after.OperatorID)
		}

		// Batch insert stamps every row.
		o := []*model.Order{
			{ID: model.NewID(), Number: "SO-1", CustomerID: "carla-id", Status: model.OrderPlaced, Currency: "EUR", CreatedAt: now, UpdatedAt: now},
			{ID: model.NewID(), Number: "SO-2", CustomerID: "carla-id", Status: model.OrderPlaced, Currency: "EUR", CreatedAt: now, UpdatedAt: now},
		}
		if err := db.WithContext(onBehalf).Create(o).Error; err != nil {
			t.Fatal(err)
		}
		var orders []model.Order
		dbtest.Must(t, db.Order("number").Find(&orders))
		for _, x := range orders {
			if x.CreatedBy != "sam" || x.OperatorID == nil || *x.OperatorID != staff {
				t.Errorf("batch insert: %s stamped %q/%v", x.Number, x.CreatedBy, x.OperatorID)
			}
		}

		// A stamped table refuses writes without a stamp; unstamped tables do not care.
		err := db.Create(&model.Cart{ID: model.NewID(), CustomerID: "sam-id", CreatedAt: now, UpdatedAt: now}).Error
		if !errors.Is(err, store.ErrNoStamp) {
			t.Errorf("insert without stamp: %v, want ErrNoStamp", err)
		}
		if err := db.Model(&model.Cart{ID: c.ID}).Update("version", 9).Error; !errors.Is(err, store.ErrNoStamp) {
			t.Errorf("update without stamp: %v, want ErrNoStamp", err)
		}
		p := &model.Product{ID: model.NewID(), SKU: "X-1", Name: "x", PriceMinor: 1, Currency: "EUR", CreatedAt: now, UpdatedAt: now}
		if err := db.Create(p).Error; err != nil {
			t.Errorf("unstamped insert: %v", err)
		}
	})
}
