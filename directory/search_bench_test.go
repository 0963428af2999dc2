package directory_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"behalf/directory"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/store"
)

// BenchmarkSearchLarge imports BEHALF_BENCH_CONTACTS contacts (default 100,000) through the importer
// and reports the p95 of a search page per term class. It seeds a large database, so it runs only
// when asked, on SQLite (scripts/bench.sh measures PostgreSQL at 1,000,000):
//
//	BEHALF_BENCH_CONTACTS=100000 go test -run '^$' -bench SearchLarge -benchtime 200x ./directory/
func BenchmarkSearchLarge(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("BEHALF_BENCH_CONTACTS")); err == nil && v > 0 {
		n = v
	}
	env := apptest.New(b, dbtest.SQLite(b))
	ctx := staffCtx(env)
	first := []string{"Anna", "Anne", "Jürgen", "Peter", "Maria", "Thomas", "Sabine", "Lukas", "Zoë", "Ömer"}
	last := []string{"Schmidt", "Schmitt", "Müller", "Meyer", "Weber", "Wagner", "Becker", "Schulz", "Hoffmann", "Koch", "Smith", "Garcia"}
	pr, pw := io.Pipe()
	go func() {
		fmt.Fprintln(pw, "organization,first_name,last_name,email,phone")
		for i := range n {
			l := last[(i*7)%len(last)]
			fmt.Fprintf(pw, "Org %d,%s,%s%d,u%d.%s@org%d.example,\n", i%500, first[i%len(first)], l, i%97, i, strings.ToLower(l[:3]), i%500)
		}
		pw.Close()
	}()
	t0 := time.Now()
	res, err := env.App.Directory.ImportContacts(context.Background(), pr, func(e directory.LineError) { b.Errorf("line %d: %s", e.Line, e.Message) })
	if err != nil || res.Imported != n {
		b.Fatalf("import: %+v %v", res, err)
	}
	b.Logf("imported %d contacts in %s", n, time.Since(t0).Round(time.Millisecond))
	first20 := 20
	for _, term := range []string{"a", "schm", "anna schm", "mül", "schmdt"} {
		b.Run(term, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				t := time.Now()
				if _, err := env.App.Directory.Contacts(ctx, &term, nil, store.PageArgs{First: &first20}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}
