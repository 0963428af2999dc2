package directory_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// TestPostgresSearchUsesIndexAndCustomPlans: contact search is answered from the GIN index, and
// connections use custom plans (a cached generic plan cannot see the tsquery and may scan).
func TestPostgresSearchUsesIndexAndCustomPlans(t *testing.T) {
	t.Parallel()
	db := dbtest.Postgres(t)
	var mode string
	if err := db.Raw("SHOW plan_cache_mode").Scan(&mode).Error; err != nil || mode != "force_custom_plan" {
		t.Fatalf("plan_cache_mode = %q (%v)", mode, err)
	}
	term := "gib pet"
	q := store.MatchWords(db.Model(&model.Contact{}), "contacts", &term)
	stmt := q.Session(&gorm.Session{DryRun: true}).Find(&[]model.Contact{}).Statement
	sqlDB, _ := db.DB()
	ctx := context.Background()
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt.SQL.String(), stmt.Vars...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		_ = rows.Scan(&line)
		plan = append(plan, line)
	}
	rows.Close()
	if !strings.Contains(strings.Join(plan, "\n"), "contacts_search_idx") {
		t.Fatalf("search does not use the GIN index:\n%s", strings.Join(plan, "\n"))
	}
}

// BenchmarkPostgresSearchLarge measures prefix search over a large directory (default 1,000,000
// contacts; BEHALF_BENCH_CONTACTS changes it). Seeding takes a while, so it runs only when asked:
//
//	bash scripts/test.sh -run '^$' -bench PostgresSearchLarge ./directory/
func BenchmarkPostgresSearchLarge(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("BEHALF_BENCH_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	db := dbtest.Postgres(b)
	err := db.Exec(fmt.Sprintf(`INSERT INTO contacts (id, first_name, last_name, email, search_text, created_at, updated_at)
		SELECT lpad(g::text, 12, '0'), 'First' || (g %% 5000), 'Last' || g, 'user' || g || '@example.com',
		       ' first' || (g %% 5000) || ' last' || g || ' user' || g || ' example com ', now(), now()
		FROM generate_series(1, %d) g`, n)).Error
	if err != nil {
		b.Fatal(err)
	}
	dbtest.Must(b, db.Exec("ANALYZE contacts"))
	for _, term := range []string{"first4999", "last12345", "user99999", "f"} {
		b.Run(term, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var rows []model.Contact
				q := store.MatchWords(db.Model(&model.Contact{}), "contacts", &term)
				if err := q.Order("id").Limit(21).Find(&rows).Error; err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
