package security_test

import (
	"strings"
	"testing"
	"time"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

const changePassword = `mutation($c:String!,$n:String!){ changePassword(currentPassword:$c, newPassword:$n) }`

// TestChangePassword: the current password is checked (and wrong ones throttled like failed logins), the
// policy applies, and a change revokes every other session of the user and every login-on-behalf
// session they operate, keeping the current one.
func TestChangePassword(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		custTok2 := env.Login("carla.customer", apptest.DefaultPassword)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		staffTok2 := env.Login("sally.support", apptest.DefaultPassword)
		obFromCurrent, _ := openOnBehalf(t, env, staff, staffTok, customer, "from the current session")
		obFromOther, _ := openOnBehalf(t, env, staff, staffTok2, customer, "from another session")
		const newPassword = "a brand new passphrase"

		// Refusals first; none changes anything.
		for _, tc := range []struct {
			name, token, current, next, code, field, message string
		}{
			{"inside an on-behalf session", obFromCurrent, apptest.DefaultPassword, newPassword, "FORBIDDEN", "", ""},
			{"anonymous", "", apptest.DefaultPassword, newPassword, "UNAUTHENTICATED", "", ""},
			{"too short", staffTok, apptest.DefaultPassword, "short pass", "BAD_USER_INPUT", "newPassword", "at least 12"},
			{"equals login", staffTok, apptest.DefaultPassword, "Sally.Support", "BAD_USER_INPUT", "newPassword", "differ from login and email"},
			{"equals email", staffTok, apptest.DefaultPassword, "sally.support@example.com", "BAD_USER_INPUT", "newPassword", "differ from login and email"},
			{"common", staffTok, apptest.DefaultPassword, "Password1234", "BAD_USER_INPUT", "newPassword", "too common"},
			{"common (extended list)", staffTok, apptest.DefaultPassword, "qwertyuiop1234", "BAD_USER_INPUT", "newPassword", "too common"},
			{"same as current", staffTok, apptest.DefaultPassword, apptest.DefaultPassword, "BAD_USER_INPUT", "newPassword", "differ from the current"},
			{"empty current", staffTok, "", newPassword, "BAD_USER_INPUT", "currentPassword", "required"},
		} {
			r := env.Do(tc.token, changePassword, map[string]any{"c": tc.current, "n": tc.next})
			if r.Code() != tc.code {
				t.Errorf("%s: %s, want %s", tc.name, r.Raw, tc.code)
				continue
			}
			if tc.field != "" && (r.Errors[0].Extensions["field"] != tc.field || !strings.Contains(r.Errors[0].Message, tc.message)) {
				t.Errorf("%s: %s, want field %s and %q", tc.name, r.Raw, tc.field, tc.message)
			}
		}
		for _, tok := range []string{custTok, custTok2, staffTok, staffTok2, obFromCurrent, obFromOther} {
			if !alive(t, env, tok) {
				t.Fatal("a refused changePassword ended a session")
			}
		}

		// Success: the staff member keeps only the session that made the change.
		env.MustDo(staffTok, changePassword, map[string]any{"c": apptest.DefaultPassword, "n": newPassword}, nil)
		if !alive(t, env, staffTok) {
			t.Error("the current session died")
		}
		for name, tok := range map[string]string{"other own session": staffTok2, "on-behalf from current": obFromCurrent, "on-behalf from other": obFromOther} {
			if alive(t, env, tok) {
				t.Errorf("%s survived the password change", name)
			}
		}
		if !alive(t, env, custTok) || !alive(t, env, custTok2) {
			t.Error("the customer's own sessions died")
		}
		if r := env.Do("", `mutation($p:String!){ login(login:"sally.support", password:$p){ token } }`, map[string]any{"p": apptest.DefaultPassword}); r.Code() != "UNAUTHENTICATED" {
			t.Errorf("old password still works: %s", r.Raw)
		}
		env.Login("sally.support", newPassword)

		// A customer's change ends a login-on-behalf session in their account as well.
		ob, _ := openOnBehalf(t, env, staff, staffTok, customer, "again")
		env.MustDo(custTok, changePassword, map[string]any{"c": apptest.DefaultPassword, "n": newPassword}, nil)
		if alive(t, env, custTok2) || alive(t, env, ob) || !alive(t, env, custTok) || !alive(t, env, staffTok) {
			t.Error("customer's change: wrong sessions survived or died")
		}

		// The record.
		evs := checkEvents(t, env, "auth.password.change", 2, 9, func(ev model.AuditEvent) {
			if strings.Contains(ev.Arguments, "passphrase") || strings.Contains(ev.Arguments, apptest.DefaultPassword) ||
				!strings.Contains(ev.Arguments, `"currentPassword":"[REDACTED]"`) || !strings.Contains(ev.Arguments, `"newPassword":"[REDACTED]"`) {
				t.Errorf("arguments not redacted: %s", ev.Arguments)
			}
		})
		last := evs[len(evs)-1]
		if last.SubjectID == nil || *last.SubjectID != customer.ID || last.ActorLogin != "carla.customer" {
			t.Errorf("last event %+v", last)
		}
	})
}

// TestChangePasswordThrottled: wrong current passwords count toward the account's throttle exactly like
// failed logins, even though the mutation rolls back; a throttled account refuses even the right one.
func TestChangePasswordThrottled(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		u, tok := env.UserWithToken("carla.customer", security.RoleCustomer)
		failed := func() int {
			var m model.User
			dbtest.Must(t, db.First(&m, "id = ?", u.ID))
			return m.FailedLogins
		}
		vars := map[string]any{"c": "not my password at all", "n": "a brand new passphrase"}
		for i := 1; i <= 4; i++ {
			r := env.Do(tok, changePassword, vars)
			if r.Code() != "UNAUTHENTICATED" || !strings.Contains(r.Errors[0].Message, "invalid login or password") {
				t.Fatalf("wrong current password #%d: %s", i, r.Raw)
			}
			if failed() != i {
				t.Fatalf("after %d wrong passwords failed_logins=%d", i, failed())
			}
		}
		// The fourth failure imposes a wait: the right password is refused until it passes.
		vars["c"] = apptest.DefaultPassword
		if r := env.Do(tok, changePassword, vars); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("throttled account accepted the password: %s", r.Raw)
		}
		if r := env.Do("", `mutation($p:String!){ login(login:"carla.customer", password:$p){ token } }`, map[string]any{"p": apptest.DefaultPassword}); r.Code() != "UNAUTHENTICATED" {
			t.Fatalf("throttled login accepted: %s", r.Raw)
		}
		env.Clock.Advance(2 * time.Second)
		env.MustDo(tok, changePassword, vars, nil)
		if failed() != 0 {
			t.Errorf("failed_logins=%d after success", failed())
		}
		var reasons []string
		for _, ev := range env.EventsWithAction("auth.password.change") {
			reasons = append(reasons, string(ev.Outcome)+":"+ev.Reason)
		}
		if got := strings.Join(reasons, " "); got != "FAILURE:BAD_PASSWORD FAILURE:BAD_PASSWORD FAILURE:BAD_PASSWORD FAILURE:BAD_PASSWORD FAILURE:THROTTLED SUCCESS:" {
			t.Errorf("events %s", got)
		}
	})
}

// TestLockingRevokesSessions: an administrator's updateUser(locked:true) ends every session the user
// holds or operates, at the next request, and revokes their API keys; unlocking revives none of them.
func TestLockingRevokesSessions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		customer, custTok := env.UserWithToken("carla.customer", security.RoleCustomer)
		staff, staffTok := env.UserWithToken("sally.support", security.RoleSupport)
		staffTok2 := env.Login("sally.support", apptest.DefaultPassword)
		_, adminTok := env.UserWithToken("root.admin", security.RoleAdministrator)
		ob, _ := openOnBehalf(t, env, staff, staffTok, customer, "call")
		key, _ := generateKey(t, env, staffTok, "reporting", nil)
		if !alive(t, env, key) {
			t.Fatal("fresh key refused")
		}
		lock := `mutation($id:ID!,$l:Boolean!){ updateUser(input:{id:$id, locked:$l}) { locked } }`
		env.MustDo(adminTok, lock, map[string]any{"id": staff.ID, "l": true}, nil)
		for name, tok := range map[string]string{"own session": staffTok, "second session": staffTok2, "operated on-behalf session": ob, "API key": key} {
			if alive(t, env, tok) {
				t.Errorf("%s survived locking", name)
			}
		}
		var live int64
		dbtest.Must(t, db.Model(&model.Session{}).Where("(user_id = ? OR operator_id = ?) AND revoked_at IS NULL", staff.ID, staff.ID).Count(&live))
		if live != 0 {
			t.Errorf("%d sessions not marked revoked", live)
		}
		if !alive(t, env, custTok) {
			t.Error("the customer's own session died")
		}
		// Unlocking brings back neither sessions nor API keys: locking revoked them.
		env.MustDo(adminTok, lock, map[string]any{"id": staff.ID, "l": false}, nil)
		if alive(t, env, staffTok) || alive(t, env, key) {
			t.Error("after unlocking: sessions and API keys must stay revoked")
		}
	})
}
