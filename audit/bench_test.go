package audit_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"behalf/audit"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// benchDialects runs on SQLite, and on PostgreSQL too when BEHALF_TEST_POSTGRES_URL is set.
func benchDialects(b *testing.B, fn func(b *testing.B, db *gorm.DB)) {
	dialects := []string{store.SQLite}
	if os.Getenv(dbtest.EnvPostgresURL) != "" {
		dialects = append(dialects, store.Postgres)
	}
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) { fn(b, dbtest.Open(b, d)) })
	}
}

func benchEvent(i int) *model.AuditEvent {
	actor, session := "01a1ffa6-2809-7000-8000-000000000001", "01a1ffa6-537f-7000-8000-000000000002"
	return &model.AuditEvent{
		Action: "cart.add", ActorID: &actor, ActorLogin: "sam", SubjectID: &actor, SubjectLogin: "carla", OnBehalf: true,
		SessionID: &session, Reason: "ticket #4711", Operation: "addToCart",
		Arguments: fmt.Sprintf(`{"quantity":%d,"sku":"FAS-M8-40-100"}`, i%50), IP: "192.0.2.10",
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64) bench", RequestID: fmt.Sprintf("req-%d", i),
	}
}

// BenchmarkRecord is what the chain costs a mutation: one audit event appended in its own
// transaction, chained (lock, read the head, hash, insert) and, for the baseline, inserted as before
// the chain (insert only).
func BenchmarkRecord(b *testing.B) {
	benchDialects(b, func(b *testing.B, db *gorm.DB) {
		svc := audit.New(db, clock.Real{})
		ctx := context.Background()
		b.Run("chained", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				if err := svc.Record(ctx, benchEvent(i)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("unchained-baseline", func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				ev := benchEvent(i)
				ev.ID, ev.At, ev.Outcome = model.NewID(), time.Now().UTC(), audit.Success
				err := store.RunInTx(ctx, db, func(ctx context.Context) error {
					return store.Conn(ctx, db).Omit("seq").Create(ev).Error
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// BenchmarkVerify walks a chain of BEHALF_BENCH_EVENTS events (default 1,000,000), built first with
// bulk inserts (not timed). Not part of the test suite: run it with
//
//	bash scripts/test.sh -run '^$' -bench Verify -benchtime 1x -timeout 60m ./audit/
func BenchmarkVerify(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("BEHALF_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	benchDialects(b, func(b *testing.B, db *gorm.DB) {
		start := time.Now()
		buildChain(b, db, n)
		b.Logf("built a chain of %d events in %s", n, time.Since(start).Round(time.Second))
		b.ResetTimer()
		for b.Loop() {
			res, err := audit.Verify(context.Background(), audit.DBSource{DB: db}, 1, nil)
			if err != nil {
				b.Fatal(err)
			}
			if res.Break != nil || res.Events != int64(n) {
				b.Fatalf("verify: %d events, %v", res.Events, res.Break)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/verify")
	})
}

// buildChain appends n chained events in bulk (as Record would, without its per-event transaction).
func buildChain(b *testing.B, db *gorm.DB, n int) {
	prev := audit.GenesisHash
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	const batch = 1000
	evs := make([]*model.AuditEvent, 0, batch)
	for i := 1; i <= n; i++ {
		ev := benchEvent(i)
		ev.ID, ev.At, ev.Outcome, ev.Seq, ev.PrevHash = model.NewID(), at.Add(time.Duration(i)*time.Millisecond), audit.Success, int64(i), prev
		ev.Hash = audit.Hash(ev)
		prev = ev.Hash
		evs = append(evs, ev)
		if len(evs) == batch || i == n {
			if err := db.CreateInBatches(evs, batch).Error; err != nil {
				b.Fatal(err)
			}
			evs = evs[:0]
		}
	}
}
