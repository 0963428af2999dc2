package audit_test

import (
	"context"
	"testing"

	"behalf/audit"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/metrics"
	"behalf/model"
)

// TestWriteFailuresAreCounted checks that an audit event the database refuses moves
// behalf_audit_write_failures_total.
func TestWriteFailuresAreCounted(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	m := metrics.New()
	a := audit.New(db, clock.Real{}, m)
	if err := a.Record(context.Background(), &model.AuditEvent{Action: "test.ok"}); err != nil {
		t.Fatal(err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlDB.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Record(context.Background(), &model.AuditEvent{Action: "test.lost"}); err == nil {
		t.Fatal("recording on a closed database succeeded")
	}
	if v, err := metrics.Read(m.Gatherer(), "behalf_audit_write_failures_total", nil); err != nil || v != 1 {
		t.Errorf("audit write failures = %v (%v), want 1", v, err)
	}
}
