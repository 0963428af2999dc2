package integrations_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"behalf/config"
	"behalf/integrations"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/metrics"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// fixture is an in-process server whose outbox the test drives directly, as an administrator.
type fixture struct {
	env   *apptest.Env
	svc   *integrations.Service
	admin context.Context
	actor *model.User
}

func newFixture(t *testing.T, db *gorm.DB, opts ...func(*config.Config)) *fixture {
	t.Helper()
	opts = append([]func(*config.Config){func(c *config.Config) { c.WebhookAllowPrivate = true }}, opts...)
	env := apptest.New(t, db, opts...)
	admin := env.CreateUser("admin", []string{"administrator"}, nil)
	ctx := security.WithIdentity(context.Background(), security.NewIdentity(admin, ""))
	return &fixture{env: env, svc: env.App.Integrations, admin: ctx, actor: admin}
}

func (f *fixture) endpoint(t *testing.T, rcv *receiver, events ...string) *integrations.EndpointSecret {
	t.Helper()
	u := rcv.URL()
	ep, err := f.svc.CreateEndpoint(f.admin, integrations.EndpointInput{URL: &u, Events: events})
	if err != nil {
		t.Fatal(err)
	}
	rcv.setSecret(ep.Secret)
	return ep
}

// emit writes a session.revoked event in its own committed transaction, as the @audit directive does.
func (f *fixture) emit(t *testing.T) {
	t.Helper()
	err := store.RunInTx(f.admin, f.env.DB, func(ctx context.Context) error {
		ev := &model.AuditEvent{Action: "session.revokeAll", Outcome: "SUCCESS", ActorID: &f.actor.ID, SubjectID: &f.actor.ID, At: f.env.Clock.Now()}
		wrote, err := f.svc.Emit(ctx, ev, 1)
		if err == nil && !wrote {
			t.Error("Emit wrote nothing")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) deliveries(t *testing.T, status *string) []*model.WebhookDelivery {
	t.Helper()
	conn, err := f.svc.Deliveries(f.admin, nil, status, store.PageArgs{})
	if err != nil {
		t.Fatal(err)
	}
	var out []*model.WebhookDelivery
	for _, e := range conn.Edges {
		out = append(out, e.Node)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// TestDeadLetterAndRetry: after the last allowed attempt a delivery is DEAD and not tried again; an
// administrator's retry queues it for an attempt now; a delivered one cannot be retried.
func TestDeadLetterAndRetry(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		f := newFixture(t, db, func(c *config.Config) { c.WebhookMaxAttempts = 2 })
		rcv := newReceiver(t)
		f.endpoint(t, rcv, "session.revoked")
		rcv.failNext(100)
		f.emit(t)
		if n := deliverAll(t, f.svc); n != 1 {
			t.Fatalf("first round attempted %d", n)
		}
		f.env.Clock.Advance(time.Hour)
		if n := deliverAll(t, f.svc); n != 1 {
			t.Fatalf("second round attempted %d", n)
		}
		dead := f.deliveries(t, ptr(integrations.StatusDead))
		if len(dead) != 1 || dead[0].Attempts != 2 || !strings.Contains(dead[0].LastError, "500") {
			t.Fatalf("dead letters: %+v", dead)
		}
		// The metrics see the dead letter (read at scrape time).
		if v, err := metrics.Read(f.env.App.Metrics.Gatherer(), "behalf_outbox_dead_letters", nil); err != nil || v != 1 {
			t.Errorf("behalf_outbox_dead_letters = %v (%v), want 1", v, err)
		}
		f.env.Clock.Advance(24 * time.Hour)
		if n := deliverAll(t, f.svc); n != 0 {
			t.Fatalf("a dead letter was tried again (%d)", n)
		}
		rcv.failNext(0)
		d, err := f.svc.Retry(f.admin, dead[0].ID)
		if err != nil || d.Status != integrations.StatusPending || d.Attempts != 0 || d.EventType != "session.revoked" {
			t.Fatalf("retry: %+v %v", d, err)
		}
		if n := deliverAll(t, f.svc); n != 1 {
			t.Fatalf("retried delivery attempted %d times", n)
		}
		if got, bad := rcv.snapshot(); len(got) != 1 || len(bad) > 0 || rcv.attemptsOf(got[0].ID) != 3 {
			t.Fatalf("received %+v %v", got, bad)
		}
		if _, err := f.svc.Retry(f.admin, dead[0].ID); err == nil || !strings.Contains(err.Error(), "already delivered") {
			t.Errorf("retrying a delivered one: %v", err)
		}
		// Other users may not.
		support := f.env.CreateUser("sue", []string{"support"}, nil)
		if _, err := f.svc.Retry(security.WithIdentity(context.Background(), security.NewIdentity(support, "")), dead[0].ID); err == nil {
			t.Error("support retried a delivery")
		}
	})
}

// TestOrderPerEndpoint: a failing endpoint holds back its later events (delivered in order once it
// recovers), while another endpoint gets them at once.
func TestOrderPerEndpoint(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		f := newFixture(t, db)
		slow, fast := newReceiver(t), newReceiver(t)
		f.endpoint(t, slow, "session.revoked")
		f.endpoint(t, fast, "session.revoked")
		slow.failNext(1)
		f.emit(t)
		f.emit(t)
		deliverAll(t, f.svc)
		if got, _ := fast.snapshot(); len(got) != 2 {
			t.Fatalf("fast endpoint got %d", len(got))
		}
		if got, _ := slow.snapshot(); len(got) != 0 {
			t.Fatalf("slow endpoint got %d while its first event failed", len(got))
		}
		f.env.Clock.Advance(time.Hour)
		deliverAll(t, f.svc)
		fastGot, _ := fast.snapshot()
		slowGot, bad := slow.snapshot()
		if len(bad) > 0 || len(slowGot) != 2 || slowGot[0].ID != fastGot[0].ID || slowGot[1].ID != fastGot[1].ID {
			t.Fatalf("slow endpoint after recovery: %+v (fast %+v) %v", slowGot, fastGot, bad)
		}
	})
}

// TestSecretRotationOverlap: after a rotation both secrets sign until the overlap ends, so a receiver
// still holding the old secret verifies; afterwards only the new one does.
func TestSecretRotationOverlap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		f := newFixture(t, db)
		rcv := newReceiver(t)
		ep := f.endpoint(t, rcv, "session.revoked")
		rotated, err := f.svc.RotateSecret(f.admin, ep.Endpoint.ID)
		if err != nil || rotated.Secret == ep.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
			t.Fatalf("rotate: %v", err)
		}
		f.emit(t) // the receiver still has the old secret
		deliverAll(t, f.svc)
		if got, bad := rcv.snapshot(); len(got) != 1 || len(bad) > 0 || len(strings.Fields(got[0].Sigs)) != 2 {
			t.Fatalf("during the overlap: %+v %v", got, bad)
		}
		f.env.Clock.Advance(25 * time.Hour)
		f.emit(t)
		deliverAll(t, f.svc)
		if got, bad := rcv.snapshot(); len(got) != 1 || len(bad) != 1 {
			t.Fatalf("after the overlap the old secret still verified: %+v %v", got, bad)
		}
		rcv.setSecret(rotated.Secret)
		f.env.Clock.Advance(time.Hour)
		deliverAll(t, f.svc)
		if got, _ := rcv.snapshot(); len(got) != 2 || len(strings.Fields(got[1].Sigs)) != 1 {
			t.Fatalf("with the new secret: %+v", got)
		}
	})
}

// TestDispatcherWakesAfterCommitAndStops: with a poll interval of an hour, Wake alone makes Run
// deliver; cancelling the context stops it.
func TestDispatcherWakesAfterCommitAndStops(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		f := newFixture(t, db, func(c *config.Config) { c.OutboxPollInterval = time.Hour })
		rcv := newReceiver(t)
		f.endpoint(t, rcv, "session.revoked")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { f.svc.Run(ctx); close(done) }()
		for i := range 2 {
			f.emit(t)
			f.svc.Wake()
			select {
			case <-rcv.got:
			case <-time.After(30 * time.Second): // a guard against hanging, not a synchronisation
				t.Fatalf("event %d not delivered after Wake", i)
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not stop")
		}
	})
}

// TestConcurrentDispatchersDeliverOnce: two dispatchers (as two replicas would) drain one outbox
// together; every event reaches the receiver exactly once.
func TestConcurrentDispatchersDeliverOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		f := newFixture(t, db)
		rcvs := []*receiver{newReceiver(t), newReceiver(t), newReceiver(t)}
		for _, r := range rcvs {
			f.endpoint(t, r, "session.revoked")
		}
		const events = 15
		for range events {
			f.emit(t)
		}
		other, err := integrations.New(db, f.env.Clock, nil, f.env.App.Log, f.svc.Options())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, s := range []*integrations.Service{f.svc, other} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					n, err := s.DeliverDue(context.Background())
					if err != nil {
						errs <- err
						return
					}
					if n == 0 {
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		deliverAll(t, f.svc) // whatever a dispatcher left because the other held its predecessor
		for i, r := range rcvs {
			got, bad := r.snapshot()
			if len(got) != events || len(bad) > 0 {
				t.Fatalf("receiver %d got %d, want %d (%v)", i, len(got), events, bad)
			}
			seen := map[string]bool{}
			for _, g := range got {
				if seen[g.ID] || r.attemptsOf(g.ID) != 1 {
					t.Fatalf("receiver %d got %s more than once", i, g.ID)
				}
				seen[g.ID] = true
			}
		}
	})
}
