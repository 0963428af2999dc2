package directory_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"behalf/directory"
	"behalf/internal/dbtest"
	"behalf/store"
)

// TestSearchPlanIsBoundedWalk: on PostgreSQL, with statistics over a table of realistic shape (many
// contacts, a few common first and last names), the statement of every term class is the ordered
// walk of the primary key with a LIMIT and a lookup of each page row by primary key: no hash join,
// no sequential scan, no sort, no bitmap scan, whatever the statistics. It checks the plan behalf
// runs: the generic plan of the prepared statement, made under store.GenericPlanSQL's settings
// (store.QueryGenericPlan). (The custom plan for the values is no longer used; with the walk's cap
// of 2,000 entries it does turn into a bitmap scan and a sort for one letter.) It runs after
// ANALYZE without VACUUM, as after a bulk import (no visibility map yet), where index-only scans
// look dearest to the planner.
func TestSearchPlanIsBoundedWalk(t *testing.T) {
	t.Parallel()
	db := dbtest.Postgres(t)
	ctx := context.Background()
	// 8,000 contacts, five words each, named like the benchmark's data.
	for _, q := range []string{
		`INSERT INTO organizations (id, name, search_text, created_at, updated_at)
		 SELECT 'o' || i, 'Org ' || i, 'org ' || i, now(), now() FROM generate_series(0, 39) i`,
		`CREATE TEMP TABLE plan_words AS
		 SELECT 'c' || lpad(i::text, 6, '0') AS id, 'o' || (i % 40) AS org,
		        (ARRAY['anna','anne','bert','carla','jurgen','lena','max','mia','paul','zoe'])[i % 10 + 1] AS first,
		        (ARRAY['schmidt','schmitt','muller','mulder','meyer','albers','becker','wolf','kraus','lange','fischer'])[i % 11 + 1] AS last,
		        'u' || i AS u
		 FROM generate_series(1, 8000) i`,
		`INSERT INTO contacts (id, first_name, last_name, email, organization_id, created_at, updated_at)
		 SELECT id, first, last, u || '.' || last || '@' || org || '.example', org, now(), now() FROM plan_words`,
		`INSERT INTO contact_search_tokens (token, contact_id, words, organization_id)
		 SELECT w, p.id, array_to_string(ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(ws) x ORDER BY 1), ' '), p.org
		 FROM (SELECT id, org, ARRAY[first, last, u, org, 'example'] AS ws FROM plan_words) p, unnest(p.ws) w`,
		`ANALYZE contacts`,
		`ANALYZE contact_search_tokens`,
	} {
		dbtest.Must(t, db.WithContext(ctx).Exec(q))
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	org := "o7"
	for _, tc := range []struct {
		name  string
		words []string
		org   *string
		after *directory.SearchPosition
	}{
		{"one letter", []string{"a"}, nil, nil},
		{"common prefix", []string{"schm"}, nil, nil},
		{"two words", []string{"anna", "schm"}, nil, nil},
		{"three words", []string{"a", "example", "m"}, nil, nil},
		{"non-ASCII prefix folded", []string{"mul"}, nil, nil},
		{"no match", []string{"schmdt"}, nil, nil},
		{"every row matches", []string{"example"}, nil, nil},
		{"one letter in an organization", []string{"a"}, &org, nil},
		{"next page", []string{"schm"}, nil, &directory.SearchPosition{Token: "schmidt", ContactID: "c004000"}},
	} {
		stmt, args := directory.SearchSQL(store.Postgres, directory.SearchQuery{Words: tc.words, OrganizationID: tc.org, After: tc.after, Limit: 21})
		plan, err := explain(ctx, sqlDB, stmt, args)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		checkWalk(t, tc.name, plan)
	}
}

// checkWalk fails t unless plan is the walk of the primary key with a LIMIT and a lookup by
// contacts' primary key, and nothing else.
func checkWalk(t *testing.T, name, plan string) {
	t.Helper()
	if !strings.Contains(plan, "Index Only Scan using contact_search_tokens_pkey") || !strings.Contains(plan, "Limit") ||
		!strings.Contains(plan, "Index Scan using contacts_pkey") {
		t.Errorf("%s: not the walk of the primary key:\n%s", name, plan)
	}
	for _, bad := range []string{"Seq Scan", "Hash", "Sort", "Bitmap", "Merge", "Materialize"} {
		if strings.Contains(plan, bad) {
			t.Errorf("%s: plan has a %s:\n%s", name, bad, plan)
		}
	}
}

// explain returns the plan PostgreSQL uses for stmt when behalf runs it (store.QueryGenericPlan):
// the generic plan of the prepared statement, made under store.GenericPlanSQL's settings.
func explain(ctx context.Context, db *sql.DB, stmt string, args []any) (string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()                 //nolint:errcheck // read only; the statement is the test's own
	params := make([]string, len(args)) // EXECUTE in EXPLAIN takes no bound parameters: literals
	for i, a := range args {
		params[i] = "'" + strings.ReplaceAll(fmt.Sprint(a), "'", "''") + "'"
	}
	for _, s := range []string{store.GenericPlanSQL, "PREPARE search_page AS " + stmt} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return "", err
		}
	}
	defer tx.ExecContext(ctx, "DEALLOCATE search_page") //nolint:errcheck // see above
	rows, err := tx.QueryContext(ctx, "EXPLAIN (COSTS OFF) EXECUTE search_page("+strings.Join(params, ", ")+")")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			return "", err
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, "\n"), rows.Err()
}
