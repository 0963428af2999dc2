package security_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// TestMySessions: a customer sees their own live sessions and the login-on-behalf session staff opened
// in their account, with the operator and reason; the operator sees it among their own; nobody else
// does; ended sessions are not listed.
func TestMySessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		custTok2 := env.Login("carla.customer", apptest.DefaultPassword)
		gone := env.Login("carla.customer", apptest.DefaultPassword)
		env.MustDo(gone, `mutation { logout }`, nil, nil)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		_, otherTok := env.UserWithToken("otto.other", security.RoleCustomer)
		obTok, ob := openOnBehalf(t, env, staff, staffTok, customer, "ticket #4711")

		got := mySessions(t, env, custTok)
		mine := []string{ob.ID, sessionOf(t, env, custTok2).ID, sessionOf(t, env, custTok).ID}
		if ids(got) != strings.Join(mine, ",") {
			t.Fatalf("customer's sessions %s, want %s (newest first)", ids(got), strings.Join(mine, ","))
		}
		v := find(got, ob.ID)
		// The customer sees the staff member's display name, not their account.
		if !v.OnBehalf || v.Operator != nil || v.OperatorName == nil || *v.OperatorName != "sally.support" || v.User.Login != "carla.customer" ||
			v.Reason == nil || *v.Reason != "ticket #4711" || v.Current {
			t.Errorf("on-behalf session shown as %+v", v)
		}
		own := find(got, sessionOf(t, env, custTok).ID)
		if !own.Current || own.OnBehalf || own.Operator != nil || own.IP != "192.0.2.10" {
			t.Errorf("current session shown as %+v", own)
		}
		if !own.Created.Equal(apptest.Start) || !own.Expires.Equal(apptest.Start.Add(env.App.Config.SessionTTL)) || own.LastSeen.IsZero() {
			t.Errorf("times %v %v %v", own.Created, own.Expires, own.LastSeen)
		}
		current := 0
		for _, s := range got {
			if s.Current {
				current++
			}
		}
		if current != 1 {
			t.Errorf("%d sessions marked current", current)
		}

		// The operator sees the session they operate among their own.
		staffSessions := mySessions(t, env, staffTok)
		if ids(staffSessions) != ob.ID+","+sessionOf(t, env, staffTok).ID {
			t.Errorf("staff sessions %s", ids(staffSessions))
		}
		// Inside the on-behalf session, mySessions is the customer's view, with that session current.
		inside := mySessions(t, env, obTok)
		if ids(inside) != strings.Join(mine, ",") || !find(inside, ob.ID).Current {
			t.Errorf("on-behalf view %s", ids(inside))
		}
		// Nobody else sees them.
		if others := mySessions(t, env, otherTok); len(others) != 1 || others[0].ID != sessionOf(t, env, otherTok).ID {
			t.Errorf("other user's sessions %s", ids(others))
		}
		// An on-behalf session whose operator's own session ended is dead, so not listed, even when only
		// the parent row says so.
		// A write behind the services' back must announce itself on the change bus, as theirs do.
		parentID := sessionOf(t, env, staffTok).ID
		dbtest.Must(t, db.Model(&model.Session{}).Where("id = ?", parentID).Update("revoked_at", env.Clock.Now()))
		if err := store.Publish(context.Background(), db, store.SessionKey(parentID)); err != nil {
			t.Fatal(err)
		}
		if got := mySessions(t, env, custTok); find(got, ob.ID) != nil || len(got) != 2 {
			t.Errorf("after the operator's session ended: %s", ids(got))
		}
		if alive(t, env, obTok) {
			t.Error("on-behalf session outlived its parent")
		}
	})
}

// TestSessionsOfUser: sessions(userId) needs security:read; unknown users are NOT_FOUND.
func TestSessionsOfUser(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		_, ob := openOnBehalf(t, env, staff, staffTok, customer, "call")
		q := `query($u:ID!){ sessions(userId:$u){ ` + sessionFields + ` } }`

		var out struct{ Sessions []sessionView }
		env.MustDo(staffTok, q, map[string]any{"u": customer.ID}, &out)
		if ids(out.Sessions) != ob.ID+","+sessionOf(t, env, custTok).ID {
			t.Fatalf("support sees %s", ids(out.Sessions))
		}
		if v := find(out.Sessions, ob.ID); v.Operator == nil || v.Operator.Login != "sally.support" || v.Current {
			t.Errorf("on-behalf session %+v", v)
		}
		env.MustDo(staffTok, q, map[string]any{"u": staff.ID}, &out)
		if ids(out.Sessions) != ob.ID+","+sessionOf(t, env, staffTok).ID || !find(out.Sessions, sessionOf(t, env, staffTok).ID).Current {
			t.Errorf("staff's own sessions %s", ids(out.Sessions))
		}
		for _, tc := range []struct {
			name, token, user, code string
		}{
			{"customer, other user", custTok, staff.ID, "FORBIDDEN"},
			{"customer, oneself", custTok, customer.ID, "FORBIDDEN"},
			{"anonymous", "", customer.ID, "UNAUTHENTICATED"},
			{"unknown user", staffTok, model.NewID(), "NOT_FOUND"},
		} {
			if got := env.Do(tc.token, q, map[string]any{"u": tc.user}).Code(); got != tc.code {
				t.Errorf("%s: %q, want %s", tc.name, got, tc.code)
			}
		}
	})
}

// TestRevokeSession: who may revoke which session, and that revocation bites on the next request.
func TestRevokeSession(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		_, adminTok := env.UserWithToken("root.admin", security.RoleAdministrator)
		revoke := func(token, id string) (bool, string) {
			r := env.Do(token, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": id})
			if r.Code() != "" {
				return false, r.Code()
			}
			var out struct{ RevokeSession bool }
			r.Decode(t, &out)
			return out.RevokeSession, ""
		}
		expect := func(name string, gotOK bool, gotCode string, wantOK bool, wantCode string) {
			t.Helper()
			if gotOK != wantOK || gotCode != wantCode {
				t.Errorf("%s: (%v, %q), want (%v, %q)", name, gotOK, gotCode, wantOK, wantCode)
			}
		}

		// Own other session.
		second := env.Login("carla.customer", apptest.DefaultPassword)
		ok, code := revoke(custTok, sessionOf(t, env, second).ID)
		expect("own session", ok, code, true, "")
		if alive(t, env, second) || !alive(t, env, custTok) {
			t.Error("revoking the own other session: wrong sessions died")
		}
		ok, code = revoke(custTok, sessionOf(t, env, second).ID)
		expect("already revoked", ok, code, false, "")

		// The on-behalf session in my account; the operator's own session stays.
		obTok, ob := openOnBehalf(t, env, staff, staffTok, customer, "call")
		ok, code = revoke(custTok, ob.ID)
		expect("on-behalf session in my account", ok, code, true, "")
		if alive(t, env, obTok) || !alive(t, env, staffTok) {
			t.Error("customer's revocation: wrong sessions died")
		}

		// Another user's session, or none at all: NOT_FOUND alike, and nothing happens.
		r1 := env.Do(custTok, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": sessionOf(t, env, staffTok).ID})
		r2 := env.Do(custTok, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": model.NewID()})
		if r1.Code() != "NOT_FOUND" || r2.Code() != "NOT_FOUND" || r1.Errors[0].Message != r2.Errors[0].Message {
			t.Errorf("foreign vs missing session: %s / %s", r1.Raw, r2.Raw)
		}
		// security:read alone is not enough to revoke.
		ok, code = revoke(staffTok, sessionOf(t, env, custTok).ID)
		expect("support revokes a customer's session", ok, code, false, "NOT_FOUND")
		if !alive(t, env, staffTok) || !alive(t, env, custTok) {
			t.Fatal("refused revocations ended a session")
		}

		// The operator revokes the on-behalf session they operate.
		obTok, ob = openOnBehalf(t, env, staff, staffTok, customer, "call 2")
		ok, code = revoke(staffTok, ob.ID)
		expect("operator revokes their on-behalf session", ok, code, true, "")
		if alive(t, env, obTok) {
			t.Error("operated session survived")
		}

		// Inside an on-behalf session, no revocation at all.
		obTok, ob = openOnBehalf(t, env, staff, staffTok, customer, "call 3")
		ok, code = revoke(obTok, sessionOf(t, env, custTok).ID)
		expect("inside an on-behalf session", ok, code, false, "FORBIDDEN")
		if !alive(t, env, custTok) {
			t.Fatal("refused revocation ended the customer's session")
		}

		// security:sessions revokes anyone's; revoking the operator's own session ends the on-behalf
		// session opened from it too.
		ok, code = revoke(adminTok, sessionOf(t, env, staffTok).ID)
		expect("administrator revokes staff session", ok, code, true, "")
		if alive(t, env, staffTok) || alive(t, env, obTok) {
			t.Error("staff session or its on-behalf child survived")
		}
		var child model.Session
		dbtest.Must(t, db.First(&child, "id = ?", ob.ID))
		if child.RevokedAt == nil {
			t.Error("on-behalf child not marked revoked")
		}
		ok, code = revoke(adminTok, sessionOf(t, env, custTok).ID)
		expect("administrator revokes customer session", ok, code, true, "")
		if alive(t, env, custTok) {
			t.Error("customer session survived")
		}

		// The record: successes name the session's user as subject; refusals are FAILURE events.
		checkEvents(t, env, "session.revoke", 6, 4, func(ev model.AuditEvent) {
			if ev.Outcome == "SUCCESS" && (ev.SubjectID == nil || (*ev.SubjectID != customer.ID && *ev.SubjectID != staff.ID) || !strings.Contains(ev.Arguments, `"id"`)) {
				t.Errorf("success event %+v", ev)
			}
		})
	})
}

// TestRevokeAllSessions: oneself or security:sessions; counts live sessions, including those the user
// operates; the caller's own current session goes too.
func TestRevokeAllSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		custTok2 := env.Login("carla.customer", apptest.DefaultPassword)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		staffTok2 := env.Login("sally.support", apptest.DefaultPassword)
		_, adminTok := env.UserWithToken("root.admin", security.RoleAdministrator)
		obTok, _ := openOnBehalf(t, env, staff, staffTok, customer, "call")
		q := `mutation($u:ID!){ revokeAllSessions(userId:$u) }`
		count := func(token, user string) (int, string) {
			r := env.Do(token, q, map[string]any{"u": user})
			if r.Code() != "" {
				return -1, r.Code()
			}
			var out struct{ RevokeAllSessions int }
			r.Decode(t, &out)
			return out.RevokeAllSessions, ""
		}
		for _, tc := range []struct {
			name, token, user, code string
		}{
			{"customer, other user", custTok, staff.ID, "FORBIDDEN"},
			{"support (security:read only)", staffTok, customer.ID, "FORBIDDEN"},
			{"inside an on-behalf session", obTok, customer.ID, "FORBIDDEN"},
			{"administrator, unknown user", adminTok, model.NewID(), "NOT_FOUND"},
			{"anonymous", "", customer.ID, "UNAUTHENTICATED"},
		} {
			if n, code := count(tc.token, tc.user); code != tc.code {
				t.Errorf("%s: (%d, %q), want %s", tc.name, n, code, tc.code)
			}
		}
		if !alive(t, env, custTok) || !alive(t, env, custTok2) || !alive(t, env, obTok) || !alive(t, env, staffTok) {
			t.Fatal("a refused revokeAllSessions ended sessions")
		}

		// An administrator revokes all of the staff member's sessions, the on-behalf one they operate too.
		if n, code := count(adminTok, staff.ID); n != 3 || code != "" {
			t.Fatalf("administrator revokes staff: (%d, %q), want 3", n, code)
		}
		if alive(t, env, staffTok) || alive(t, env, staffTok2) || alive(t, env, obTok) {
			t.Error("a staff session survived")
		}
		if !alive(t, env, custTok) || !alive(t, env, adminTok) {
			t.Error("unrelated sessions died")
		}
		// Oneself: all my sessions, this one included.
		if n, code := count(custTok, customer.ID); n != 2 || code != "" {
			t.Fatalf("customer revokes own: (%d, %q), want 2", n, code)
		}
		if alive(t, env, custTok) || alive(t, env, custTok2) {
			t.Error("a customer session survived")
		}
		checkEvents(t, env, "session.revokeAll", 2, 5, func(ev model.AuditEvent) {
			if ev.Outcome == "SUCCESS" && (ev.SubjectID == nil || (*ev.SubjectID != staff.ID && *ev.SubjectID != customer.ID)) {
				t.Errorf("subject of %+v", ev)
			}
		})
	})
}

// TestSessionTimeouts: the absolute and idle limits of each session kind, with the fake clock. Activity
// inside the idle window keeps a session alive until its absolute limit; an on-behalf session never
// outlives its operator's own session.
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) {
			c.SessionTTL, c.SessionIdle = 3*time.Hour, time.Hour
			c.OnBehalfTTL, c.OnBehalfIdle = time.Hour, 15*time.Minute
		})
		customer := env.CreateUser("carla.customer", []string{security.RoleCustomer}, nil)
		staff := env.CreateUser("sally.support", []string{security.RoleSupport}, nil)
		for _, tc := range []struct {
			name       string
			open       func() string
			ttl, idle  time.Duration
			activeStep time.Duration
		}{
			{"ordinary", func() string { return env.Login("carla.customer", apptest.DefaultPassword) }, 3 * time.Hour, time.Hour, 50 * time.Minute},
			{"on-behalf", func() string {
				tok, _ := openOnBehalf(t, env, staff, env.Login("sally.support", apptest.DefaultPassword), customer, "timeouts")
				return tok
			}, time.Hour, 15 * time.Minute, 14 * time.Minute},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// Idle: unused for just under the idle limit it lives; at the limit it dies.
				tok := tc.open()
				env.Clock.Advance(tc.idle - time.Second)
				if !alive(t, env, tok) {
					t.Fatal("died before the idle limit")
				}
				tok = tc.open()
				env.Clock.Advance(tc.idle)
				if alive(t, env, tok) {
					t.Fatal("survived the idle limit")
				}
				// Absolute: used within every idle window it lives until the absolute limit, not beyond.
				tok = tc.open()
				var lived time.Duration
				for lived+tc.activeStep < tc.ttl {
					env.Clock.Advance(tc.activeStep)
					lived += tc.activeStep
					if !alive(t, env, tok) {
						t.Fatalf("died after %v of activity", lived)
					}
				}
				env.Clock.Advance(tc.ttl - lived)
				if alive(t, env, tok) {
					t.Fatal("survived the absolute limit")
				}
			})
		}

		// An on-behalf session opened late in the operator's session ends with it.
		staffTok := env.Login("sally.support", apptest.DefaultPassword)
		for i := 0; i < 3; i++ {
			env.Clock.Advance(50 * time.Minute)
			if !alive(t, env, staffTok) {
				t.Fatal("staff session died early")
			}
		}
		obTok, ob := openOnBehalf(t, env, staff, staffTok, customer, "late")
		if want := sessionOf(t, env, staffTok).ExpiresAt; !ob.ExpiresAt.Equal(want) {
			t.Errorf("on-behalf expiry %v, want the parent's %v", ob.ExpiresAt, want)
		}
		env.Clock.Advance(14 * time.Minute)
		if !alive(t, env, obTok) || !alive(t, env, staffTok) {
			t.Fatal("sessions died early")
		}
		env.Clock.Advance(14 * time.Minute)
		if !alive(t, env, obTok) {
			t.Fatal("on-behalf session died before its parent")
		}
		env.Clock.Advance(2 * time.Minute) // 3h: the parent's absolute limit
		if alive(t, env, obTok) {
			t.Fatal("on-behalf session outlived its operator's session")
		}
	})
}

// TestLastSeenBatched: requests never write last-seen stamps; the background flush writes those of
// every busy session in one statement, never moving a stamp backwards, and the idle timeout counts the
// stamps not yet written.
func TestLastSeenBatched(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		_, tok1 := env.UserWithToken("carla.customer", security.RoleCustomer)
		_, tok2 := env.UserWithToken("dora.customer", security.RoleCustomer)
		tok3 := env.Login("dora.customer", apptest.DefaultPassword)
		writes := countUpdates(t, db, "sessions")
		idle := env.App.Config.SessionIdle
		for i := 0; i < 3; i++ {
			env.Clock.Advance(idle / 2) // within the idle timeout only thanks to the stamps in memory
			for _, tok := range []string{tok1, tok2} {
				if !alive(t, env, tok) {
					t.Fatalf("session died after %d half idle periods", i+1)
				}
			}
		}
		if n := writes.Load(); n != 0 || !sessionOf(t, env, tok1).LastSeenAt.Equal(apptest.Start) {
			t.Fatalf("requests wrote: %d updates, last seen %v", n, sessionOf(t, env, tok1).LastSeenAt)
		}
		// The third session, unused, went idle meanwhile.
		if alive(t, env, tok3) {
			t.Fatal("an idle session was accepted")
		}
		// Another replica wrote a later stamp for tok2: the flush must not move it back.
		later := env.Clock.Now().Add(time.Second)
		dbtest.Must(t, db.Model(&model.Session{}).Where("id = ?", sessionOf(t, env, tok2).ID).Update("last_seen_at", later))
		ctx, count := store.WithStatementCount(context.Background())
		counter, err := store.CountStatements(db)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.App.Security.FlushLastSeen(ctx); err != nil {
			t.Fatal(err)
		}
		if n := count.N(); n != 1 || counter.Total() != 1 {
			t.Errorf("flush ran %d statements (%d in all), want one", n, counter.Total())
		}
		if got := sessionOf(t, env, tok1).LastSeenAt; !got.Equal(env.Clock.Now()) {
			t.Errorf("tok1 last seen %v, want %v", got, env.Clock.Now())
		}
		if got := sessionOf(t, env, tok2).LastSeenAt; !got.Equal(later) {
			t.Errorf("tok2 last seen %v, want the other replica's %v", got, later)
		}
		// Nothing pending: the next flush writes nothing.
		if err := env.App.Security.FlushLastSeen(ctx); err != nil || count.N() != 1 {
			t.Errorf("empty flush: %v, %d statements in all", err, count.N())
		}
	})
}
