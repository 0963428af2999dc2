package store_test

import (
	"errors"
	"testing"

	"behalf/internal/dbtest"
	"behalf/store"

	"gorm.io/gorm"
)

// TestIsUniqueViolation: a duplicate key is recognised by its code on both dialects, through GORM and
// straight from the driver; other constraint errors are not duplicates.
func TestIsUniqueViolation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		insert := `INSERT INTO organizations (id, name, search_text, created_at, updated_at) VALUES (?, 'Acme', ' acme ', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`
		dbtest.Must(t, db.Exec(insert, "org-1"))
		if err := db.Exec(insert, "org-1").Error; !store.IsUniqueViolation(err) {
			t.Errorf("duplicate id through GORM: %v not recognised", err)
		}
		sqlDB, err := db.DB()
		if err != nil {
			t.Fatal(err)
		}
		raw := insert
		if store.Dialect(db) == store.Postgres {
			raw = `INSERT INTO organizations (id, name, search_text, created_at, updated_at) VALUES ($1, 'Acme', ' acme ', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)`
		}
		if _, err := sqlDB.Exec(raw, "org-1"); !store.IsUniqueViolation(err) {
			t.Errorf("duplicate id from the driver: %v not recognised", err)
		}
		if err := db.Exec(`INSERT INTO organizations (id) VALUES (NULL)`).Error; err == nil || store.IsUniqueViolation(err) {
			t.Errorf("a NOT NULL violation is not a duplicate: %v", err)
		}
		if store.IsUniqueViolation(errors.New("UNIQUE constraint failed: duplicate key")) {
			t.Error("message text alone counts as a duplicate")
		}
	})
}
