package onbehalf_test

import (
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// TestRevocationStaysRevoked: a login-on-behalf session ended because its operator lost the permission,
// its customer became staff, or its operator's own session went idle is revoked in the database, so
// restoring the role does not revive it, even with no request in between.
func TestRevocationStaysRevoked(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db, func(c *config.Config) { c.SessionIdle = 20 * time.Minute })
		revoked := func(s scoped) string {
			t.Helper()
			var sess model.Session
			if err := db.First(&sess, "id = ?", s.Session.ID).Error; err != nil {
				t.Fatal(err)
			}
			if sess.RevokedAt == nil {
				return ""
			}
			return sess.RevokedReason
		}

		// The operator is demoted and re-promoted before the session is used again.
		s := w.actFor(w.supportTok, w.support.Login, w.customer)
		if !w.alive(s.Token) {
			t.Fatal("fresh scoped session refused")
		}
		w.update(map[string]any{"id": w.support.ID, "roles": []string{security.RoleCustomer}})
		w.update(map[string]any{"id": w.support.ID, "roles": []string{security.RoleSupport}})
		if w.alive(s.Token) || revoked(s) == "" {
			t.Errorf("demoting and re-promoting the operator: alive %v, revoked %q", w.alive(s.Token), revoked(s))
		}

		// The customer is promoted to staff and back.
		s = w.actFor(w.supportTok, w.support.Login, w.customer)
		w.update(map[string]any{"id": w.customer.ID, "roles": []string{security.RoleSupport}})
		w.update(map[string]any{"id": w.customer.ID, "roles": []string{security.RoleCustomer}})
		if w.alive(s.Token) || revoked(s) == "" {
			t.Errorf("promoting and demoting the customer: alive %v, revoked %q", w.alive(s.Token), revoked(s))
		}

		// The operator's own session goes idle while the scoped session is busy.
		opTok := w.env.Login(w.support.Login, apptest.DefaultPassword)
		s = w.actFor(opTok, w.support.Login, w.customer)
		w.env.Clock.Advance(10 * time.Minute)
		if !w.alive(s.Token) {
			t.Fatal("scoped session refused within its operator's idle timeout")
		}
		w.env.Clock.Advance(10 * time.Minute) // the operator's session: 20 minutes without a request
		if w.alive(s.Token) || revoked(s) != "operator session idle" {
			t.Errorf("operator's session idle: alive %v, revoked %q", w.alive(s.Token), revoked(s))
		}
	})
}

// TestPasswordChangeRevokesAPIKeys: changing one's password revokes one's API keys.
func TestPasswordChangeRevokesAPIKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		var key struct {
			GenerateAPIKey struct{ Secret string } `json:"generateApiKey"`
		}
		w.env.MustDo(w.customerTok, `mutation{ generateApiKey(name:"shop sync") { secret } }`, nil, &key)
		if !w.alive(key.GenerateAPIKey.Secret) {
			t.Fatal("fresh key refused")
		}
		w.env.MustDo(w.customerTok, `mutation($c:String!,$n:String!){ changePassword(currentPassword:$c, newPassword:$n) }`,
			vars("c", apptest.DefaultPassword, "n", "a brand new passphrase 7"), nil)
		if w.alive(key.GenerateAPIKey.Secret) {
			t.Error("API key survived the password change")
		}
		if !w.alive(w.customerTok) {
			t.Error("the session that changed the password died")
		}
	})
}

// TestCustomerSeesOperatorDisplayName: in mySessions and myOnBehalfActivity the customer sees the staff
// member's display name, never their account (e-mail, roles, permissions); the operator and holders
// of security:read still see it.
func TestCustomerSeesOperatorDisplayName(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		org := w.env.CreateOrganization("Behalf Support")
		contact := w.env.CreateContact("Sam", "Staff", &org.ID)
		staff := w.env.CreateUser("sam.staff", []string{security.RoleSupport}, &contact.ID)
		staffTok := w.env.Login(staff.Login, apptest.DefaultPassword)
		s := w.actFor(staffTok, staff.Login, w.customer)

		var sessions struct {
			MySessions []struct {
				ID           string
				Operator     *struct{ Email string }
				OperatorName *string
			}
		}
		w.env.MustDo(w.customerTok, `{ mySessions { id operator { email roles permissions } operatorName } }`, nil, &sessions)
		seen := false
		for _, m := range sessions.MySessions {
			if m.ID == s.Session.ID {
				seen = true
				if m.Operator != nil || deref(m.OperatorName) != "Sam Staff" {
					t.Errorf("customer's mySessions shows operator %+v, name %q", m.Operator, deref(m.OperatorName))
				}
			}
		}
		if !seen {
			t.Fatalf("the scoped session is not in the customer's mySessions")
		}

		var activity struct {
			MyOnBehalfActivity struct {
				Edges []struct {
					Node struct {
						Actor     *struct{ Email string }
						ActorName *string
					}
				}
			}
		}
		w.env.MustDo(w.customerTok, `{ myOnBehalfActivity { edges { node { actor { email roles } actorName } } } }`, nil, &activity)
		if len(activity.MyOnBehalfActivity.Edges) == 0 {
			t.Fatal("no activity")
		}
		for _, e := range activity.MyOnBehalfActivity.Edges {
			if e.Node.Actor != nil || deref(e.Node.ActorName) != "Sam Staff" {
				t.Errorf("customer's activity shows actor %+v, name %q", e.Node.Actor, deref(e.Node.ActorName))
			}
		}

		// The operator inside the session, and a holder of security:read, still see the account.
		var inside struct {
			Session struct{ Operator *struct{ Email string } }
		}
		w.env.MustDo(s.Token, `{ session { operator { email } } }`, nil, &inside)
		if inside.Session.Operator == nil || inside.Session.Operator.Email != staff.Email {
			t.Errorf("operator's own view: %+v", inside.Session.Operator)
		}
		var admin struct {
			Sessions []struct {
				ID       string
				Operator *struct{ Email string }
			}
		}
		w.env.MustDo(w.adminTok, `query($u:ID!){ sessions(userId:$u) { id operator { email } } }`, vars("u", w.customer.ID), &admin)
		for _, m := range admin.Sessions {
			if m.ID == s.Session.ID && (m.Operator == nil || m.Operator.Email != staff.Email) {
				t.Errorf("administrator's view: %+v", m.Operator)
			}
		}
	})
}
