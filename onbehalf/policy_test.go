package onbehalf_test

import (
	"context"
	"testing"

	"behalf/config"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/onbehalf"
	"behalf/security"

	"gorm.io/gorm"
)

// TestPolicy: who may (security:loginOnBehalf, or organization:loginOnBehalf for members of one's own
// organization), whom (not oneself, no staff, not locked, consenting), from where (no API key, no
// nesting). Each refusal is FORBIDDEN with the generic message, recorded as onbehalf.denied with its
// reason code, and User.canLoginOnBehalf gives the same answer without side effects.
func TestPolicy(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		env := w.env
		acme, globex := env.CreateOrganization("Acme"), env.CreateOrganization("Globex")
		member := func(login string, org *model.Organization, roles ...string) *model.User {
			c := env.CreateContact(login, "Member", &org.ID)
			return env.CreateUser(login, roles, &c.ID)
		}
		maint := member("mia.maintainer", acme, security.RoleOrganizationMaintain)
		maintTok := env.Login(maint.Login, "correct horse battery staple")
		acmeBuyer := member("abe.buyer", acme, security.RoleCustomer)
		acmeAdmin := member("amy.acmeadmin", acme, security.RoleAdministrator)
		globexBuyer := member("gil.buyer", globex, security.RoleCustomer)
		loneMaint, loneMaintTok := env.UserWithToken("lou.maintainer", security.RoleOrganizationMaintain) // no organization
		_ = loneMaint
		locked := env.CreateUser("lee.locked", []string{security.RoleCustomer}, nil)
		w.update(map[string]any{"id": locked.ID, "locked": true})
		refuser, refuserTok := env.UserWithToken("rita.refuser", security.RoleCustomer)
		env.MustDo(refuserTok, qSetConsent, vars("a", false), nil)
		nested := w.adminActsForCustomer().Token

		cases := []struct {
			name          string
			token, target string
			reason        string // "" = allowed
		}{
			{"administrator for a customer", w.adminTok, w.customer2.ID, ""},
			{"support for a customer", w.supportTok, w.customer2.ID, ""},
			{"maintainer for a member of their organization", maintTok, acmeBuyer.ID, ""},
			{"customer", w.customerTok, w.customer2.ID, onbehalf.ReasonNotPermitted},
			{"maintainer for another organization's member", maintTok, globexBuyer.ID, onbehalf.ReasonOtherOrganization},
			{"maintainer for a customer without organization", maintTok, w.customer2.ID, onbehalf.ReasonOtherOrganization},
			{"maintainer without organization for a customer without organization", loneMaintTok, w.customer2.ID, onbehalf.ReasonOtherOrganization},
			{"maintainer for staff of their organization", maintTok, acmeAdmin.ID, onbehalf.ReasonTargetIsStaff},
			{"administrator for an administrator", w.adminTok, w.admin2.ID, onbehalf.ReasonTargetIsStaff},
			{"administrator for support", w.adminTok, w.support.ID, onbehalf.ReasonTargetIsStaff},
			{"support for an administrator", w.supportTok, w.admin.ID, onbehalf.ReasonTargetIsStaff},
			{"administrator for a locked customer", w.adminTok, locked.ID, onbehalf.ReasonTargetLocked},
			{"administrator for a customer who refused", w.adminTok, refuser.ID, onbehalf.ReasonNoConsent},
			{"administrator for themself", w.adminTok, w.admin.ID, onbehalf.ReasonSelf},
			{"maintainer for themself", maintTok, maint.ID, onbehalf.ReasonSelf},
			{"administrator for nobody", w.adminTok, model.NewID(), onbehalf.ReasonNotFound},
			{"administrator's API key", w.apiKey(w.admin), w.customer2.ID, onbehalf.ReasonAPIKey},
			{"from inside a login-on-behalf session", nested, w.customer2.ID, onbehalf.ReasonNested},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := len(env.EventsWithAction("onbehalf.denied"))
				var target *model.User
				if c.reason != onbehalf.ReasonNotFound {
					target = &model.User{}
					if err := db.First(target, "id = ?", c.target).Error; err != nil {
						t.Fatal(err)
					}
				}
				// canLoginOnBehalf answers first: it must not change anything.
				caller := w.identity(c.token)
				can := env.App.OnBehalf.CanLoginOnBehalf(security.WithIdentity(context.Background(), caller), target)
				if can != (c.reason == "") {
					t.Errorf("canLoginOnBehalf = %v, want %v", can, c.reason == "")
				}
				res := w.askTicket(c.token, c.target, "why")
				if c.reason == "" {
					if res.Code() != "" {
						t.Fatalf("refused: %s", res.Raw)
					}
					return
				}
				// The directives refuse API keys and nesting before the resolver runs, with their own message;
				// the policy's refusals all read the same.
				byDirective := c.reason == onbehalf.ReasonNested || c.reason == onbehalf.ReasonAPIKey
				if res.Code() != "FORBIDDEN" || (!byDirective && errMessage(res) != "not allowed") {
					t.Fatalf("got %s, want FORBIDDEN \"not allowed\"", res.Raw)
				}
				denied := env.EventsWithAction("onbehalf.denied")
				if len(denied) != before+1 {
					t.Fatalf("%d onbehalf.denied events, want %d", len(denied), before+1)
				}
				ev := denied[len(denied)-1]
				if ev.Reason != c.reason || ev.Outcome != "FAILURE" || ev.ErrorCode != "FORBIDDEN" {
					t.Errorf("denied event reason %q outcome %s code %s, want %s", ev.Reason, ev.Outcome, ev.ErrorCode, c.reason)
				}
				if wantActor := caller.Actor().ID; deref(ev.ActorID) != wantActor {
					t.Errorf("denied event actor %s, want %s", deref(ev.ActorID), wantActor)
				}
				if c.reason != onbehalf.ReasonNotFound && !byDirective && deref(ev.SubjectID) != c.target {
					t.Errorf("denied event subject %s, want the target %s", deref(ev.SubjectID), c.target)
				}
			})
		}
		// A refused request leaves no ticket: only the allowed cases issued one.
		var n int64
		dbtest.Must(t, db.Table("onbehalf_tickets").Count(&n))
		if n != 3+1 { // three allowed cases, plus the ticket behind the nested session
			t.Errorf("%d tickets stored, want 4", n)
		}
		if got := w.code("", qLoginOnBehalf, vars("u", w.customer.ID)); got != "UNAUTHENTICATED" {
			t.Errorf("anonymous loginOnBehalf: %s", got)
		}
	})
}

// TestCanLoginOnBehalfField: the schema field answers the policy for the viewer, through GraphQL.
func TestCanLoginOnBehalfField(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		can := func(token, userID string) bool {
			var out struct {
				User struct{ CanLoginOnBehalf bool }
			}
			w.env.MustDo(token, qCanLoginFor, vars("u", userID), &out)
			return out.User.CanLoginOnBehalf
		}
		if !can(w.adminTok, w.customer.ID) || !can(w.supportTok, w.customer.ID) {
			t.Error("staff cannot log in on behalf of a customer")
		}
		if can(w.adminTok, w.admin2.ID) || can(w.adminTok, w.admin.ID) || can(w.customerTok, w.customer.ID) {
			t.Error("canLoginOnBehalf true for staff, oneself or a customer viewer")
		}
		w.env.MustDo(w.customerTok, qSetConsent, vars("a", false), nil)
		if can(w.adminTok, w.customer.ID) {
			t.Error("canLoginOnBehalf true after the customer refused")
		}
		if n := len(w.env.EventsWithAction("onbehalf.denied")) + len(w.env.EventsWithAction("onbehalf.requested")); n != 0 {
			t.Errorf("canLoginOnBehalf recorded %d login-on-behalf events", n)
		}
	})
}

// TestConsent: allowLoginOnBehalf defaults to allowed (opt-out); the customer switches it; with
// BEHALF_ONBEHALF_CONSENT=opt-in a customer who never chose refuses.
func TestConsent(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"opt-out", "opt-in"} {
		t.Run(policy, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
				w := newWorld(t, db, func(c *config.Config) { c.OnBehalfConsent = policy })
				consent := func() bool {
					var out struct {
						User struct{ AllowLoginOnBehalf bool }
					}
					w.env.MustDo(w.adminTok, qCanLoginFor, vars("u", w.customer.ID), &out)
					return out.User.AllowLoginOnBehalf
				}
				askCode := func() string { return w.askTicket(w.adminTok, w.customer.ID, "").Code() }
				defaultAllowed := policy == "opt-out"
				if consent() != defaultAllowed || (askCode() == "") != defaultAllowed {
					t.Fatalf("default consent %v / loginOnBehalf %q, want allowed=%v", consent(), askCode(), defaultAllowed)
				}
				for _, allow := range []bool{true, false, true} {
					var out struct {
						SetAllowLoginOnBehalf struct{ AllowLoginOnBehalf bool }
					}
					w.env.MustDo(w.customerTok, qSetConsent, vars("a", allow), &out)
					if out.SetAllowLoginOnBehalf.AllowLoginOnBehalf != allow || consent() != allow {
						t.Fatalf("after setAllowLoginOnBehalf(%v): %v / %v", allow, out.SetAllowLoginOnBehalf.AllowLoginOnBehalf, consent())
					}
					if got := askCode(); (got == "") != allow {
						t.Fatalf("consent %v: loginOnBehalf %q", allow, got)
					}
				}
				if ev := w.lastEvent("user.consent"); deref(ev.SubjectID) != w.customer.ID || deref(ev.ActorID) != w.customer.ID || ev.Outcome != "SUCCESS" {
					t.Errorf("consent event %+v", ev)
				}
				if got := w.code("", qSetConsent, vars("a", true)); got != "UNAUTHENTICATED" {
					t.Errorf("anonymous setAllowLoginOnBehalf: %s", got)
				}
			})
		})
	}
}
