package onbehalf_test

import (
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/onbehalf"

	"gorm.io/gorm"
)

// TestScopedSession: the confirmed token is a new session whose subject is the customer and whose
// operator is the staff member, with the customer's permissions only; the staff member's own token
// still works as the staff member.
func TestScopedSession(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		s := w.adminActsForCustomer()
		if s.Token == "" || s.Token == w.adminTok || s.User.ID != w.customer.ID {
			t.Fatalf("payload %+v", s)
		}
		if !s.Session.OnBehalf || s.Session.Operator == nil || s.Session.Operator.ID != w.admin.ID ||
			deref(s.Session.Reason) != "customer called support" || s.Session.ID == w.adminSession {
			t.Fatalf("payload session %+v", s.Session)
		}
		if want := apptest.Start.Add(60 * time.Minute); !s.ExpiresAt.Equal(want) || !s.Session.ExpiresAt.Equal(want) {
			t.Errorf("expiresAt %v, want %v (BEHALF_ONBEHALF_TTL default 60m)", s.ExpiresAt, want)
		}
		got := w.whoAmI(s.Token)
		if got.Me.ID != w.customer.ID || len(got.Me.Permissions) != 0 {
			t.Errorf("me %+v, want the customer with no permissions", got.Me)
		}
		if !got.Session.OnBehalf || got.Session.Operator == nil || got.Session.Operator.Login != w.admin.Login ||
			deref(got.Session.Reason) != "customer called support" || got.Session.ID != s.Session.ID {
			t.Errorf("session %+v", got.Session)
		}
		// The customer's permissions only: the administrator's powers are not there.
		for _, q := range []string{`{ users { totalCount } }`, `{ auditEvents { totalCount } }`} {
			if c := w.code(s.Token, q, nil); c != "FORBIDDEN" {
				t.Errorf("%s in the scoped session: %q, want FORBIDDEN", q, c)
			}
		}
		if c := w.code(s.Token, `{ user(id:"`+w.admin.ID+`") { id } }`, nil); c != "FORBIDDEN" {
			t.Errorf("reading another user in the scoped session: %q", c)
		}
		// The administrator's own session is untouched.
		admin := w.whoAmI(w.adminTok)
		if admin.Me.ID != w.admin.ID || admin.Session.OnBehalf || admin.Session.Operator != nil || admin.Session.ID != w.adminSession {
			t.Errorf("admin's own session %+v", admin)
		}
		// The customer sees it among their sessions, with the operator's display name (not their account).
		var mine struct {
			MySessions []struct {
				ID           string
				OnBehalf     bool
				Operator     *struct{ Login string }
				OperatorName *string
			}
		}
		w.env.MustDo(w.customerTok, `{ mySessions { id onBehalf operator { login } operatorName } }`, nil, &mine)
		found := false
		for _, m := range mine.MySessions {
			found = found || (m.ID == s.Session.ID && m.OnBehalf && m.Operator == nil && deref(m.OperatorName) == w.admin.Login)
		}
		if !found {
			t.Errorf("mySessions of the customer: %+v", mine.MySessions)
		}
		// The token is stored only as a hash.
		var sess model.Session
		dbtest.Must(t, db.First(&sess, "id = ?", s.Session.ID))
		if string(sess.TokenHash) == s.Token || len(sess.TokenHash) != 32 || deref(sess.ParentSessionID) != w.adminSession {
			t.Errorf("stored session %+v", sess)
		}
	})
}

// deniedInSession are calls of every field marked @denyOnBehalf, with valid arguments.
// TestSensitiveFieldsMarked checks that this list covers every marked field of the schema.
func deniedInSession(w *world) map[string]struct {
	query string
	vars  map[string]any
} {
	type call = struct {
		query string
		vars  map[string]any
	}
	return map[string]call{
		"loginOnBehalf":         {qLoginOnBehalf, vars("u", w.customer2.ID)},
		"confirmOnBehalf":       {qConfirm, vars("t", "bht_x", "l", w.admin.Login, "p", apptest.DefaultPassword)},
		"setAllowLoginOnBehalf": {qSetConsent, vars("a", false)},
		"createUser":            {`mutation { createUser(input:{login:"newbie", email:"n@example.com", password:"long enough password", roles:["customer"]}) { id } }`, nil},
		"updateUser":            {qUpdateUser, vars("in", map[string]any{"id": w.customer.ID, "email": "new@example.com"})},
		"changePassword":        {`mutation { changePassword(currentPassword:"x", newPassword:"a brand new password") }`, nil},
		"generateApiKey":        {`mutation { generateApiKey(name:"k") { secret } }`, nil},
		"revokeApiKey":          {`mutation($id:ID!) { revokeApiKey(id:$id) }`, vars("id", model.NewID())},
		"revokeSession":         {qRevokeSession, vars("id", model.NewID())},
		"revokeAllSessions":     {`mutation($u:ID!) { revokeAllSessions(userId:$u) }`, vars("u", w.customer.ID)},
		"apiKeys":               {`{ apiKeys { id } }`, nil},
		"webhookEndpoints":      {`{ webhookEndpoints { id } }`, nil},
		"webhookDeliveries":     {`{ webhookDeliveries { totalCount } }`, nil},
		"createWebhookEndpoint": {`mutation { createWebhookEndpoint(input:{url:"https://example.com/h", events:["order.placed"]}) { secret } }`, nil},
		"updateWebhookEndpoint": {`mutation($id:ID!) { updateWebhookEndpoint(input:{id:$id, active:false}) { id } }`, vars("id", model.NewID())},
		"rotateWebhookSecret":   {`mutation($id:ID!) { rotateWebhookSecret(id:$id) { secret } }`, vars("id", model.NewID())},
		"deleteWebhookEndpoint": {`mutation($id:ID!) { deleteWebhookEndpoint(id:$id) }`, vars("id", model.NewID())},
		"retryWebhookDelivery":  {`mutation($id:ID!) { retryWebhookDelivery(id:$id) { id } }`, vars("id", model.NewID())},
		"setOnBehalfEmail":      {`mutation { setOnBehalfEmail(enabled:false) { id } }`, nil},
	}
}

// TestDeniedInScopedSession: inside the scoped session every field marked @denyOnBehalf answers
// FORBIDDEN (changing password, email or consent, API keys, another login on behalf, …) and changes
// nothing.
func TestDeniedInScopedSession(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		s := w.adminActsForCustomer()
		for name, c := range deniedInSession(w) {
			if got := w.code(s.Token, c.query, c.vars); got != "FORBIDDEN" {
				t.Errorf("%s in the scoped session: %q, want FORBIDDEN", name, got)
			}
		}
		// Asking for or confirming a login on behalf from inside one is the policy's NESTED.
		for _, ev := range w.env.EventsWithAction("onbehalf.denied") {
			if ev.Reason != onbehalf.ReasonNested || !ev.OnBehalf {
				t.Errorf("%s refused in the session: reason %q onBehalf %v, want NESTED", ev.Operation, ev.Reason, ev.OnBehalf)
			}
		}
		if n := len(w.env.EventsWithAction("onbehalf.denied")); n != 2 {
			t.Errorf("%d onbehalf.denied events, want 2 (loginOnBehalf, confirmOnBehalf)", n)
		}
		var cust model.User
		dbtest.Must(t, db.First(&cust, "id = ?", w.customer.ID))
		if cust.AllowOnBehalf != nil || cust.Email != w.customer.Email {
			t.Errorf("the customer's account changed: consent %v, email %s", cust.AllowOnBehalf, cust.Email)
		}
		if ev := w.lastEvent("user.consent"); ev.Outcome != "FAILURE" || !ev.OnBehalf || deref(ev.ActorID) != w.admin.ID || deref(ev.SubjectID) != w.customer.ID {
			t.Errorf("refused consent change recorded as %+v", ev)
		}
		if !w.alive(s.Token) {
			t.Error("a refused call ended the session")
		}
	})
}

// TestEndOnBehalfOutsideSession: endOnBehalf outside a login-on-behalf session is FORBIDDEN (anonymous:
// UNAUTHENTICATED) and ends nothing.
func TestEndOnBehalfOutsideSession(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		s := w.adminActsForCustomer()
		for _, tok := range []string{w.adminTok, w.customerTok} {
			if c := w.code(tok, qEnd, nil); c != "FORBIDDEN" {
				t.Errorf("endOnBehalf outside a session: %q", c)
			}
		}
		if c := w.code("", qEnd, nil); c != "UNAUTHENTICATED" {
			t.Errorf("anonymous endOnBehalf: %q", c)
		}
		if !w.alive(s.Token) || !w.alive(w.adminTok) || !w.alive(w.customerTok) {
			t.Error("a refused endOnBehalf ended a session")
		}
	})
}

// TestCascades: the scoped session dies, with the next request answered UNAUTHENTICATED, when the
// operator ends it, logs out, is locked, loses the permission, has their own session revoked or changes
// their password; when the customer is locked, withdraws consent or becomes staff; and when an
// administrator (or the customer) revokes it.
func TestCascades(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		kill func(w *world, s scoped) error
	}{
		{"endOnBehalf", func(w *world, s scoped) error { w.env.MustDo(s.Token, qEnd, nil, nil); return nil }},
		{"operator logs out", func(w *world, s scoped) error { w.env.MustDo(w.adminTok, `mutation { logout }`, nil, nil); return nil }},
		{"operator locked", func(w *world, s scoped) error { w.update(map[string]any{"id": w.admin.ID, "locked": true}); return nil }},
		{"operator loses the permission", func(w *world, s scoped) error {
			w.update(map[string]any{"id": w.admin.ID, "roles": []string{"customer"}})
			return nil
		}},
		{"operator's own session revoked", func(w *world, s scoped) error {
			w.env.MustDo(w.admin2Tok, qRevokeSession, vars("id", w.adminSession), nil)
			return nil
		}},
		{"operator changes password", func(w *world, s scoped) error {
			w.env.MustDo(w.adminTok, `mutation { changePassword(currentPassword:"`+apptest.DefaultPassword+`", newPassword:"a brand new passphrase") }`, nil, nil)
			return nil
		}},
		{"customer locked", func(w *world, s scoped) error {
			w.update(map[string]any{"id": w.customer.ID, "locked": true})
			return nil
		}},
		{"customer withdraws consent", func(w *world, s scoped) error {
			w.env.MustDo(w.customerTok, qSetConsent, vars("a", false), nil)
			return nil
		}},
		{"customer becomes staff", func(w *world, s scoped) error {
			w.update(map[string]any{"id": w.customer.ID, "roles": []string{"support"}})
			return nil
		}},
		{"administrator revokes it", func(w *world, s scoped) error {
			w.env.MustDo(w.admin2Tok, qRevokeSession, vars("id", s.Session.ID), nil)
			return nil
		}},
		{"customer revokes it", func(w *world, s scoped) error {
			w.env.MustDo(w.customerTok, qRevokeSession, vars("id", s.Session.ID), nil)
			return nil
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
				w := newWorld(t, db)
				s := w.adminActsForCustomer()
				other := w.actFor(w.supportTok, w.support.Login, w.customer2) // another operator's session
				if !w.alive(s.Token) {
					t.Fatal("scoped token dead from the start")
				}
				if err := c.kill(w, s); err != nil {
					t.Fatal(err)
				}
				if w.alive(s.Token) {
					t.Fatal("scoped token still answers")
				}
				if !w.alive(other.Token) {
					t.Error("an unrelated login-on-behalf session died too")
				}
			})
		})
	}
}

// TestLifetime: the scoped session lives at most BEHALF_ONBEHALF_TTL, dies after BEHALF_ONBEHALF_IDLE
// without use, and never outlives the operator's own session.
func TestLifetime(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		cfg   func(*config.Config)
		steps []time.Duration // clock advances, each followed by a request with the scoped token
		dies  int             // index of the step after which the token is dead
	}{
		{"idle, just before", nil, []time.Duration{15*time.Minute - time.Second, 15*time.Minute - time.Second}, -1},
		{"idle", nil, []time.Duration{10 * time.Minute, 15 * time.Minute}, 1},
		{"configured idle", func(c *config.Config) { c.OnBehalfIdle = 5 * time.Minute }, []time.Duration{4 * time.Minute, 5 * time.Minute}, 1},
		{"absolute, kept busy", nil, []time.Duration{10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 10 * time.Minute, 9 * time.Minute, time.Minute}, 6},
		{"configured absolute", func(c *config.Config) { c.OnBehalfTTL = 20 * time.Minute }, []time.Duration{10 * time.Minute, 9 * time.Minute, time.Minute}, 2},
		{"bounded by the operator's session", func(c *config.Config) { c.SessionTTL = 30 * time.Minute }, []time.Duration{10 * time.Minute, 10 * time.Minute, 9 * time.Minute, time.Minute}, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
				var opts []func(*config.Config)
				if c.cfg != nil {
					opts = append(opts, c.cfg)
				}
				w := newWorld(t, db, opts...)
				s := w.adminActsForCustomer()
				parent := w.sessionOf(w.adminTok)
				if s.ExpiresAt.After(parent.ExpiresAt) {
					t.Fatalf("scoped session expires %v, after the operator's %v", s.ExpiresAt, parent.ExpiresAt)
				}
				for i, d := range c.steps {
					w.env.Clock.Advance(d)
					want := c.dies < 0 || i < c.dies
					if got := w.alive(s.Token); got != want {
						t.Fatalf("after step %d (+%v): alive %v, want %v", i, d, got, want)
					}
				}
			})
		})
	}
}
