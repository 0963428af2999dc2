package store_test

import (
	"context"
	"strings"
	"testing"

	"behalf/internal/dbtest"
	"behalf/store"

	"github.com/jackc/pgx/v5"
)

// TestQueryGenericPlan runs a statement through QueryGenericPlan on a pool of one connection:
// PostgreSQL executes it with a generic plan every time (pg_prepared_statements counts no custom
// plan for it), the connection's own plan_cache_mode is force_custom_plan again afterwards, also
// after a failing statement, and the connection stays usable. PostgreSQL only: the setting and
// pgx's pipeline do not exist on SQLite, which never calls it.
func TestQueryGenericPlan(t *testing.T) {
	t.Parallel()
	db, err := store.Open(dbtest.FreshDSN(t, store.Postgres), store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	ctx := context.Background()
	const q = "SELECT n FROM generate_series(1, $1::int) n WHERE n % 2 = 0"
	for range 3 {
		var got []int
		err := store.QueryGenericPlan(ctx, db, q, []any{10}, func(rows pgx.Rows) error {
			for rows.Next() {
				var n int
				if err := rows.Scan(&n); err != nil {
					return err
				}
				got = append(got, n)
			}
			return nil
		})
		if err != nil || len(got) != 5 || got[4] != 10 {
			t.Fatalf("rows %v, %v", got, err)
		}
	}
	var generic, custom int64
	if err := db.Raw("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = ?", q).Row().Scan(&generic, &custom); err != nil {
		t.Fatal(err)
	}
	if generic != 3 || custom != 0 {
		t.Fatalf("generic plans %d, custom plans %d: want 3 and 0", generic, custom)
	}
	mode := func() string {
		var m string
		if err := db.Raw("SHOW plan_cache_mode").Scan(&m).Error; err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := mode(); m != "force_custom_plan" {
		t.Fatalf("plan_cache_mode after the query: %q", m)
	}
	err = store.QueryGenericPlan(ctx, db, "SELECT 1/($1::int - 1)", []any{1}, func(rows pgx.Rows) error {
		for rows.Next() {
		}
		return rows.Err()
	})
	if err == nil || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("failing statement: %v", err)
	}
	if m := mode(); m != "force_custom_plan" {
		t.Fatalf("plan_cache_mode after a failed query: %q", m)
	}
}
