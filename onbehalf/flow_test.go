package onbehalf_test

import (
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/onbehalf"
	"behalf/security"

	"gorm.io/gorm"
)

// TestWhatItMustShow is the acceptance paragraph, end to end through GraphQL.
func TestWhatItMustShow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		env := w.env
		locked := env.CreateUser("larry", []string{security.RoleCustomer}, nil)
		w.update(map[string]any{"id": locked.ID, "locked": true})
		refuser := env.CreateUser("rosa", []string{security.RoleCustomer}, nil)
		env.MustDo(env.Login("rosa", apptest.DefaultPassword), qSetConsent, vars("a", false), nil)

		// Admin logs in, asks for a ticket for a customer, confirms with their own password: the new token
		// answers me with the customer and session.operator with the admin.
		admin := env.Login(w.admin.Login, apptest.DefaultPassword)
		tk := w.mustTicket(admin, w.customer.ID, "cart problem")
		s := w.mustConfirm(tk.Ticket, w.admin.Login)
		got := w.whoAmI(s.Token)
		if got.Me.ID != w.customer.ID || got.Session.Operator == nil || got.Session.Operator.ID != w.admin.ID || !got.Session.OnBehalf {
			t.Fatalf("scoped token answers %+v", got)
		}
		// The admin's own token still works as the admin.
		if own := w.whoAmI(admin); own.Me.ID != w.admin.ID || own.Session.OnBehalf {
			t.Fatalf("admin's own token answers %+v", own)
		}

		// Replaying the ticket, another staff member's credentials, expiry, a wrong password: each fails.
		if c := w.confirm(tk.Ticket, w.admin.Login, apptest.DefaultPassword).Code(); c != "UNAUTHENTICATED" {
			t.Errorf("replay: %q", c)
		}
		if c := w.confirm(w.mustTicket(admin, w.customer.ID, "").Ticket, w.support.Login, apptest.DefaultPassword).Code(); c != "UNAUTHENTICATED" {
			t.Errorf("another staff member's credentials: %q", c)
		}
		late := w.mustTicket(admin, w.customer.ID, "").Ticket
		env.Clock.Advance(2*time.Minute + time.Second)
		if c := w.confirm(late, w.admin.Login, apptest.DefaultPassword).Code(); c != "UNAUTHENTICATED" {
			t.Errorf("after expiry: %q", c)
		}
		if c := w.confirm(w.mustTicket(admin, w.customer.ID, "").Ticket, w.admin.Login, "not my password").Code(); c != "UNAUTHENTICATED" {
			t.Errorf("wrong password: %q", c)
		}

		// An administrator, a locked user, oneself, withdrawn consent, or from inside the scoped session:
		// FORBIDDEN, recorded as onbehalf.denied.
		refusals := []struct {
			name, token, target, reason string
		}{
			{"an administrator", admin, w.admin2.ID, onbehalf.ReasonTargetIsStaff},
			{"a locked user", admin, locked.ID, onbehalf.ReasonTargetLocked},
			{"oneself", admin, w.admin.ID, onbehalf.ReasonSelf},
			{"a customer who withdrew consent", admin, refuser.ID, onbehalf.ReasonNoConsent},
			{"from inside the scoped session", s.Token, w.customer2.ID, onbehalf.ReasonNested},
		}
		for _, r := range refusals {
			if c := w.askTicket(r.token, r.target, "").Code(); c != "FORBIDDEN" {
				t.Errorf("%s: %q, want FORBIDDEN", r.name, c)
			}
			if ev := w.lastEvent("onbehalf.denied"); ev.Reason != r.reason || ev.ErrorCode != "FORBIDDEN" {
				t.Errorf("%s: denied with reason %q, want %q", r.name, ev.Reason, r.reason)
			}
		}

		// endOnBehalf, and the admin's logout, each make the scoped token UNAUTHENTICATED.
		env.MustDo(s.Token, qEnd, nil, nil)
		if w.alive(s.Token) {
			t.Error("scoped token alive after endOnBehalf")
		}
		s2 := w.mustConfirm(w.mustTicket(admin, w.customer.ID, "second look").Ticket, w.admin.Login)
		env.MustDo(admin, `mutation { logout }`, nil, nil)
		if w.alive(s2.Token) {
			t.Error("scoped token alive after the admin's logout")
		}

		// auditEvents shows requested, started and ended with actor = admin, subject = customer.
		for _, action := range []string{"onbehalf.requested", "onbehalf.started", "onbehalf.ended"} {
			var out struct {
				AuditEvents struct {
					Edges []struct {
						Node struct {
							Outcome        string
							Actor, Subject struct{ Login string }
						}
					}
				}
			}
			env.MustDo(w.admin2Tok, `query($a:String, $s:ID) { auditEvents(filter:{action:$a, subjectId:$s}) {
				edges { node { outcome actor { login } subject { login } } } } }`, vars("a", action, "s", w.customer.ID), &out)
			if len(out.AuditEvents.Edges) == 0 {
				t.Errorf("no %s event", action)
			}
			for _, e := range out.AuditEvents.Edges {
				if e.Node.Outcome != "SUCCESS" || e.Node.Actor.Login != w.admin.Login || e.Node.Subject.Login != w.customer.Login {
					t.Errorf("%s: %+v", action, e.Node)
				}
			}
		}
	})
}
