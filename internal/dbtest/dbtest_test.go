package dbtest_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"behalf/internal/dbtest"
	"behalf/store"

	"gorm.io/gorm"
)

func countOrgs(t testing.TB, db *gorm.DB) int64 {
	t.Helper()
	var n int64
	if err := db.Raw("SELECT count(*) FROM organizations").Scan(&n).Error; err != nil {
		t.Fatalf("count organizations: %v", err)
	}
	return n
}

func insertOrg(t testing.TB, db *gorm.DB, id string) {
	t.Helper()
	now := time.Now().UTC()
	if err := db.Exec("INSERT INTO organizations (id, name, search_text, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
		id, "Org "+id, "org "+id, now, now).Error; err != nil {
		t.Fatalf("insert organization: %v", err)
	}
}

func TestEachGivesDistinctEmptyMigratedDatabases(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		mu.Lock()
		seen = append(seen, store.Dialect(db))
		mu.Unlock()
		if v, err := store.Version(db); err != nil || v <= 0 {
			t.Fatalf("store.Version = %d, %v; want a migrated database", v, err)
		}
		if n := countOrgs(t, db); n != 0 {
			t.Fatalf("fresh database has %d organizations, want 0", n)
		}
		insertOrg(t, db, "o1")
		if n := countOrgs(t, db); n != 1 {
			t.Fatalf("after insert: %d organizations, want 1", n)
		}
		// A second fresh database of the same dialect does not see the row.
		other := dbtest.Open(t, store.Dialect(db))
		if n := countOrgs(t, other); n != 0 {
			t.Fatalf("second fresh database has %d organizations, want 0", n)
		}
		insertOrg(t, other, "o1") // same primary key: no clash, they are distinct databases
	})
	if !t.Failed() && len(seen) > 0 && seen[0] != store.SQLite {
		t.Errorf("first subtest ran on %q, want sqlite", seen[0])
	}
	for _, d := range seen {
		if d != store.SQLite && d != store.Postgres {
			t.Errorf("unexpected dialect %q", d)
		}
	}
}

func TestEachSubtestDialects(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		want := t.Name()[len(t.Name())-len(store.Dialect(db)):]
		if want != store.Dialect(db) {
			t.Fatalf("subtest %s got a %s database", t.Name(), store.Dialect(db))
		}
	})
}

func TestMigrateTwice(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		before, err := store.Version(db)
		if err != nil {
			t.Fatal(err)
		}
		if before <= 0 {
			t.Fatalf("version %d: database not migrated", before)
		}
		if err := store.Migrate(db); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		after, err := store.Version(db)
		if err != nil {
			t.Fatal(err)
		}
		if after != before {
			t.Fatalf("second Migrate changed the version from %d to %d", before, after)
		}
	})
}

func TestFreshDSN(t *testing.T) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			dsn := dbtest.FreshDSN(t, dialect)
			if dsn2 := dbtest.FreshDSN(t, dialect); dsn2 == dsn {
				t.Fatalf("two FreshDSN calls returned the same DSN %q", dsn)
			}
			db, err := store.Open(dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if sqlDB, err := db.DB(); err == nil {
					sqlDB.Close()
				}
			})
			if got := store.Dialect(db); got != dialect {
				t.Fatalf("DSN %q opened a %s database", dsn, got)
			}
			if n := countOrgs(t, db); n != 0 {
				t.Fatalf("fresh database has %d organizations, want 0", n)
			}
			insertOrg(t, db, "o1")
		})
	}
}

func TestPostgresHasTrigram(t *testing.T) {
	db := dbtest.Postgres(t)
	var sim float64
	if err := db.Raw("SELECT similarity('behalf', 'behave')").Scan(&sim).Error; err != nil {
		t.Fatalf("pg_trgm not usable in a cloned database: %v", err)
	}
	if sim <= 0 || sim >= 1 {
		t.Fatalf("similarity = %v", sim)
	}
}

func TestSQLiteForeignKeysOn(t *testing.T) {
	db := dbtest.SQLite(t)
	var on int
	if err := db.Raw("PRAGMA foreign_keys").Scan(&on).Error; err != nil || on != 1 {
		t.Fatalf("PRAGMA foreign_keys = %d, %v; want 1", on, err)
	}
}

// Parallel tests each get their own database (concurrent clones of the same template).
func TestParallel(t *testing.T) {
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
				if n := countOrgs(t, db); n != 0 {
					t.Fatalf("fresh database has %d organizations, want 0", n)
				}
				insertOrg(t, db, "same-id")
			})
		})
	}
}

func TestUnknownDialectFails(t *testing.T) {
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		dbtest.FreshDSN(ft, "oracle")
	}()
	<-done
	if !ft.failed {
		t.Fatal("FreshDSN with an unknown dialect did not fail the test")
	}
}

// fakeTB records Fatalf instead of failing the real test.
type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = true
	runtime.Goexit()
}

// BenchmarkOpen measures the cost of one fresh migrated database per dialect.
func BenchmarkOpen(b *testing.B) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		b.Run(dialect, func(b *testing.B) {
			dbtest.Open(b, dialect) // builds the template outside the timing
			b.ResetTimer()
			for b.Loop() {
				sub := &subTB{TB: b}
				dbtest.Open(sub, dialect)
				sub.cleanup()
			}
		})
	}
}

// subTB runs cleanups right away, so a benchmark loop does not pile up databases.
type subTB struct {
	testing.TB
	fns []func()
}

func (s *subTB) Cleanup(fn func()) { s.fns = append(s.fns, fn) }
func (s *subTB) cleanup() {
	for i := len(s.fns) - 1; i >= 0; i-- {
		s.fns[i]()
	}
	s.fns = nil
}

// Each may run twice in one test: the second pair of subtests ("sqlite#01", "postgres#01") gets fresh,
// migrated databases too.
func TestEachTwiceInOneTest(t *testing.T) {
	for range 2 {
		dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
			var n int64
			if err := db.Table("users").Count(&n).Error; err != nil {
				t.Fatalf("fresh database is not migrated: %v", err)
			}
		})
	}
}
