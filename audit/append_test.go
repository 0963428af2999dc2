package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"behalf/audit"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"

	"gorm.io/gorm"
)

// TestAppendHashesTheCanonicalEncoding: the hash stored for an appended event is audit.Hash of the
// event as read back, for values that test the encoding's edges (absent and empty ids, non-ASCII
// text, a field longer than 64 KiB whose length prefix needs three bytes), on both databases. On
// PostgreSQL the database computes it (audit_append), so this holds that copy of the encoding to v1.
func TestAppendHashesTheCanonicalEncoding(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		svc := audit.New(db, clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 987654321, time.UTC)))
		empty, id := "", "01a1ffa6-2809-7000-8000-000000000001"
		evs := []*model.AuditEvent{
			{Action: "cart.add"},
			{Action: "order.place", ActorID: &id, ActorLogin: "sam", SubjectID: &empty, SubjectLogin: "Müller-Lüdenscheidt ✓",
				OnBehalf: true, SessionID: &id, Reason: "ticket #4711 — Grüße", Outcome: audit.Failure, ErrorCode: "FORBIDDEN",
				Operation: "placeOrder", Arguments: `{"idempotencyKey":"` + strings.Repeat("é", 40000) + `"}`,
				IP: "2001:db8::1", UserAgent: "Mozilla/5.0", RequestID: "req-1", ClientRequestID: "client-1"},
			{Action: "cart.add", ActorID: &id, SubjectID: &id},
		}
		for _, ev := range evs {
			if err := svc.Record(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
		var got []model.AuditEvent
		must(t, db.Order("seq").Find(&got))
		prev := audit.GenesisHash
		for i, ev := range got {
			if ev.Seq != int64(i+1) || ev.PrevHash != prev || ev.Hash != audit.Hash(&ev) || ev.Hash != evs[i].Hash {
				t.Errorf("event %d: seq %d prev %s hash %s, want %s", i, ev.Seq, ev.PrevHash, ev.Hash, audit.Hash(&ev))
			}
			prev = ev.Hash
		}
		if res := verify(t, db, nil); res.Break != nil || res.Events != int64(len(evs)) {
			t.Fatalf("verify: %+v %v", res, res.Break)
		}
	})
}

// TestAppendRefusesADatabaseHashThatIsNotCanonical: when audit_append hashes anything but the v1
// encoding (here: a function changed to hash a "v2" prefix), Record fails and its event is rolled
// back, so no event whose hash audit.Canonical does not give is ever committed. PostgreSQL only: SQLite
// hashes in Go.
func TestAppendRefusesADatabaseHashThatIsNotCanonical(t *testing.T) {
	t.Parallel()
	db := dbtest.Postgres(t)
	var def string
	must(t, db.Raw("SELECT pg_get_functiondef('audit_append'::regproc)").Scan(&def))
	if !strings.Contains(def, "behalf.audit.v1") {
		t.Fatalf("audit_append does not hash the v1 prefix:\n%s", def)
	}
	must(t, db.Exec(strings.Replace(def, "behalf.audit.v1", "behalf.audit.v2", 1)))
	svc := audit.New(db, clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)))
	err := svc.Record(context.Background(), &model.AuditEvent{Action: "cart.add"})
	if err == nil || !strings.Contains(err.Error(), "the database hashed") {
		t.Fatalf("Record with a non-canonical database hash: %v", err)
	}
	var n int64
	must(t, db.Model(&model.AuditEvent{}).Count(&n))
	if n != 0 {
		t.Fatalf("%d events stored after a refused append", n)
	}
}
