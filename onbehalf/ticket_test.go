package onbehalf_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/onbehalf"
	"behalf/security"

	"gorm.io/gorm"
)

// confirmFailure is the one message of every credential refusal of confirmOnBehalf.
const confirmFailure = "invalid or expired ticket, login or password"

// TestTicketIssued: ≥128 random bits, stored only as its SHA-256, bound to the requester, their session
// and the target, valid for BEHALF_ONBEHALF_TICKET_TTL, and carried in the storefront URL's fragment.
func TestTicketIssued(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db, func(c *config.Config) { c.StorefrontURL = "https://shop.example" })
		tk := w.mustTicket(w.adminTok, w.customer.ID, "  order 4711 stuck  ")
		raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tk.Ticket, onbehalf.TicketPrefix))
		if !strings.HasPrefix(tk.Ticket, onbehalf.TicketPrefix) || err != nil || len(raw) < 16 {
			t.Fatalf("ticket %q: want %s + ≥128 bits of base64url (%v)", tk.Ticket, onbehalf.TicketPrefix, err)
		}
		if other := w.mustTicket(w.adminTok, w.customer.ID, ""); other.Ticket == tk.Ticket {
			t.Fatal("two tickets are equal")
		}
		if want := "https://shop.example/account/impersonate/" + w.customer.ID + "#ticket=" + tk.Ticket; tk.URL != want {
			t.Errorf("url %q, want %q", tk.URL, want)
		}
		if want := apptest.Start.Add(2 * time.Minute); !tk.ExpiresAt.Equal(want) {
			t.Errorf("expiresAt %v, want %v (default 2m)", tk.ExpiresAt, want)
		}
		if tk.User.ID != w.customer.ID {
			t.Errorf("user %+v", tk.User)
		}
		var rows []onbehalf.Ticket
		dbtest.Must(t, db.Order("id").Find(&rows))
		if len(rows) != 2 {
			t.Fatalf("%d ticket rows", len(rows))
		}
		r := rows[0]
		if !bytes.Equal(r.TicketHash, security.HashToken(tk.Ticket)) || r.OperatorID != w.admin.ID ||
			r.OperatorSessionID != w.adminSession || r.TargetID != w.customer.ID || r.Reason != "order 4711 stuck" || r.UsedAt != nil {
			t.Errorf("stored ticket %+v", r)
		}
		// Nothing in the table holds the ticket itself.
		var dump []map[string]any
		dbtest.Must(t, db.Table("onbehalf_tickets").Find(&dump))
		for _, row := range dump {
			for col, v := range row {
				if s, ok := v.(string); ok && strings.Contains(s, tk.Ticket[len(onbehalf.TicketPrefix):]) {
					t.Errorf("column %s holds the ticket", col)
				}
			}
		}
	})
}

// TestTicketExpiry: a ticket is accepted until its TTL (default 2 minutes, configurable) has passed.
func TestTicketExpiry(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		ttl   time.Duration // 0 = default
		after time.Duration
		ok    bool
	}{
		{"default, just before", 0, 2*time.Minute - time.Second, true},
		{"default, at expiry", 0, 2 * time.Minute, false},
		{"10 minutes, just before", 10 * time.Minute, 10*time.Minute - time.Second, true},
		{"10 minutes, after", 10 * time.Minute, 10*time.Minute + time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
				w := newWorld(t, db, func(cfg *config.Config) {
					if c.ttl > 0 {
						cfg.OnBehalfTicketTTL = c.ttl
					}
				})
				tk := w.mustTicket(w.adminTok, w.customer.ID, "")
				w.env.Clock.Advance(c.after)
				w.whoAmI(w.adminTok) // keep the operator's session from going idle
				res := w.confirm(tk.Ticket, w.admin.Login, apptest.DefaultPassword)
				if c.ok != (res.Code() == "") {
					t.Fatalf("confirm after %v: %s", c.after, res.Raw)
				}
				if !c.ok && (res.Code() != "UNAUTHENTICATED" || errMessage(res) != confirmFailure) {
					t.Fatalf("expired ticket: %s", res.Raw)
				}
			})
		})
	}
}

// TestConfirmRefusals: a replayed ticket, an unknown ticket, another staff member's valid credentials
// and a wrong password all fail with UNAUTHENTICATED and one message; the attempt burns the ticket; a
// wrong password counts toward the operator's lockout; each is recorded as onbehalf.denied.
func TestConfirmRefusals(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		cases := []struct {
			name   string
			try    func(tk string) *apptest.Response
			reason string
			actor  string
			burns  bool // the attempt used the ticket it was given
		}{
			{"replay", func(tk string) *apptest.Response {
				w.mustConfirm(tk, w.admin.Login)
				return w.confirm(tk, w.admin.Login, apptest.DefaultPassword)
			}, onbehalf.ReasonTicketInvalid, "", true},
			{"unknown ticket", func(string) *apptest.Response {
				return w.confirm(security.NewToken(onbehalf.TicketPrefix), w.admin.Login, apptest.DefaultPassword)
			}, onbehalf.ReasonTicketInvalid, "", false},
			{"another staff member's credentials", func(tk string) *apptest.Response {
				return w.confirm(tk, w.admin2.Login, apptest.DefaultPassword)
			}, onbehalf.ReasonWrongOperator, w.admin2.ID, true},
			{"wrong password", func(tk string) *apptest.Response {
				return w.confirm(tk, w.admin.Login, "not the password at all")
			}, security.ReasonBadPassword, w.admin.ID, true},
			{"unknown login", func(tk string) *apptest.Response {
				return w.confirm(tk, "nobody.at.all", apptest.DefaultPassword)
			}, security.ReasonUnknownLogin, w.admin.ID, true},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				tk := w.mustTicket(w.adminTok, w.customer.ID, "").Ticket
				res := c.try(tk)
				if res.Code() != "UNAUTHENTICATED" || errMessage(res) != confirmFailure {
					t.Fatalf("got %s, want UNAUTHENTICATED %q", res.Raw, confirmFailure)
				}
				ev := w.lastEvent("onbehalf.denied")
				if ev.Reason != c.reason || ev.ErrorCode != "UNAUTHENTICATED" || ev.Operation != "confirmOnBehalf" {
					t.Errorf("denied event %+v, want reason %s", ev, c.reason)
				}
				if c.actor != "" && (deref(ev.ActorID) != c.actor || deref(ev.SubjectID) != w.customer.ID) {
					t.Errorf("denied event actor %s subject %s", deref(ev.ActorID), deref(ev.SubjectID))
				}
				// The failed attempt burnt the ticket: the right credentials no longer open a session.
				if !c.burns {
					return
				}
				if r := w.confirm(tk, w.admin.Login, apptest.DefaultPassword); r.Code() != "UNAUTHENTICATED" {
					t.Fatalf("ticket still usable after a failed attempt: %s", r.Raw)
				}
			})
		}
		var admin model.User
		dbtest.Must(t, db.First(&admin, "id = ?", w.admin.ID))
		if admin.FailedLogins != 1 {
			t.Errorf("operator's failed logins %d, want 1 (the wrong password)", admin.FailedLogins)
		}
		var n int64
		dbtest.Must(t, db.Model(&model.Session{}).Where("on_behalf = ?", true).Count(&n))
		if n != 1 {
			t.Errorf("%d login-on-behalf sessions, want 1 (the replayed ticket's first use)", n)
		}
	})
}

// TestConfirmLockout: wrong passwords at confirm count toward the operator's lockout exactly like wrong
// passwords at login: after enough of them, even the right password is refused for a while.
// A confirm refused because the operator is throttled is no guess and leaves the ticket usable.
func TestConfirmLockout(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		for range 4 {
			tk := w.mustTicket(w.adminTok, w.customer.ID, "").Ticket
			if c := w.confirm(tk, w.admin.Login, "wrong wrong wrong").Code(); c != "UNAUTHENTICATED" {
				t.Fatalf("wrong password: %s", c)
			}
		}
		var admin model.User
		dbtest.Must(t, db.First(&admin, "id = ?", w.admin.ID))
		if admin.FailedLogins != 4 || admin.ThrottledUntil == nil {
			t.Fatalf("failed logins %d, throttled until %v: want 4 and throttled", admin.FailedLogins, admin.ThrottledUntil)
		}
		tk := w.mustTicket(w.adminTok, w.customer.ID, "").Ticket
		if c := w.confirm(tk, w.admin.Login, apptest.DefaultPassword).Code(); c != "UNAUTHENTICATED" {
			t.Fatalf("throttled operator confirmed: %s", c)
		}
		if ev := w.lastEvent("onbehalf.denied"); ev.Reason != security.ReasonThrottled {
			t.Errorf("reason %s, want %s", ev.Reason, security.ReasonThrottled)
		}
		// The throttled attempt looked at no password, so it did not burn the ticket: once the
		// throttle has passed, the same ticket opens the session.
		dbtest.Must(t, db.First(&admin, "id = ?", w.admin.ID))
		w.env.Clock.Advance(admin.ThrottledUntil.Sub(w.env.Clock.Now()) + time.Second)
		if c := w.confirm(tk, w.admin.Login, apptest.DefaultPassword); c.Code() != "" {
			t.Fatalf("confirm after the throttle, same ticket: %s", c.Raw)
		}
	})
}

// TestConfirmRechecks: permission and eligibility are checked again at confirm time, and the
// operator's own session must still be live.
func TestConfirmRechecks(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(w *world)
		code   string
		reason string
	}{
		{"operator lost the permission", func(w *world) {
			w.update(map[string]any{"id": w.admin.ID, "roles": []string{"customer"}})
		}, "FORBIDDEN", onbehalf.ReasonNotPermitted},
		{"target became staff", func(w *world) {
			w.update(map[string]any{"id": w.customer.ID, "roles": []string{"support"}})
		}, "FORBIDDEN", onbehalf.ReasonTargetIsStaff},
		{"target locked", func(w *world) {
			w.update(map[string]any{"id": w.customer.ID, "locked": true})
		}, "FORBIDDEN", onbehalf.ReasonTargetLocked},
		{"target withdrew consent", func(w *world) {
			w.env.MustDo(w.customerTok, qSetConsent, vars("a", false), nil)
		}, "FORBIDDEN", onbehalf.ReasonNoConsent},
		{"operator logged out", func(w *world) {
			w.env.MustDo(w.adminTok, `mutation { logout }`, nil, nil)
		}, "UNAUTHENTICATED", onbehalf.ReasonOperatorLogout},
		{"operator locked", func(w *world) {
			w.update(map[string]any{"id": w.admin.ID, "locked": true})
		}, "UNAUTHENTICATED", security.ReasonLocked},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
				w := newWorld(t, db)
				tk := w.mustTicket(w.adminTok, w.customer.ID, "").Ticket
				c.change(w)
				res := w.confirm(tk, w.admin.Login, apptest.DefaultPassword)
				if res.Code() != c.code {
					t.Fatalf("got %s, want %s", res.Raw, c.code)
				}
				if ev := w.lastEvent("onbehalf.denied"); ev.Reason != c.reason {
					t.Errorf("reason %s, want %s", ev.Reason, c.reason)
				}
				var n int64
				dbtest.Must(t, w.env.DB.Model(&model.Session{}).Where("on_behalf = ?", true).Count(&n))
				if n != 0 {
					t.Errorf("%d login-on-behalf sessions opened", n)
				}
			})
		})
	}
}

// TestConcurrentConfirm: ten concurrent confirms of one ticket open exactly one session.
func TestConcurrentConfirm(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db, func(c *config.Config) { c.MaxConcurrentHashes, c.HashWait = 10, time.Minute })
		tk := w.mustTicket(w.adminTok, w.customer.ID, "").Ticket
		const n = 10
		codes := make([]string, n)
		tokens := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() { // reports through codes, tokens and errs: no t.Fatal off the test's goroutine
				defer wg.Done()
				<-start
				res, err := w.env.TryDo("", qConfirm, map[string]any{"t": tk, "l": w.admin.Login, "p": apptest.DefaultPassword})
				if err != nil {
					errs[i] = err
					return
				}
				codes[i] = res.Code()
				if res.Code() == "" {
					var out struct{ ConfirmOnBehalf scoped }
					errs[i] = json.Unmarshal(res.Data, &out)
					tokens[i] = out.ConfirmOnBehalf.Token
				}
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("confirm %d: %v", i, err)
			}
		}
		won := 0
		for i, c := range codes {
			switch c {
			case "":
				won++
				if !w.alive(tokens[i]) {
					t.Error("the winner's token does not work")
				}
			case "UNAUTHENTICATED":
			default:
				t.Errorf("confirm %d: %s", i, c)
			}
		}
		var sessions int64
		dbtest.Must(t, db.Model(&model.Session{}).Where("on_behalf = ?", true).Count(&sessions))
		if won != 1 || sessions != 1 {
			t.Fatalf("%d confirms succeeded and %d sessions exist, want exactly 1 (codes %v)", won, sessions, codes)
		}
		if got := len(w.env.EventsWithAction("onbehalf.started")); got != 1 {
			t.Errorf("%d onbehalf.started events", got)
		}
		if got := len(w.env.EventsWithAction("onbehalf.denied")); got != n-1 {
			t.Errorf("%d onbehalf.denied events, want %d", got, n-1)
		}
	})
}

// TestReasonLength: the reason is at most 500 characters; a longer one is BAD_USER_INPUT and issues
// nothing.
func TestReasonLength(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		if c := w.askTicket(w.adminTok, w.customer.ID, strings.Repeat("é", 500)).Code(); c != "" {
			t.Fatalf("500 characters: %s", c)
		}
		if c := w.askTicket(w.adminTok, w.customer.ID, strings.Repeat("é", 501)).Code(); c != "BAD_USER_INPUT" {
			t.Fatalf("501 characters: %s", c)
		}
		var n int64
		dbtest.Must(t, db.Table("onbehalf_tickets").Count(&n))
		if n != 1 {
			t.Errorf("%d tickets, want 1", n)
		}
	})
}

// TestExpiredTicketsSwept: asking for a ticket deletes tickets that expired over an hour ago.
func TestExpiredTicketsSwept(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		w.mustTicket(w.adminTok, w.customer.ID, "")
		w.env.Clock.Advance(time.Hour + 2*time.Minute - time.Second)
		fresh := w.mustTicket(w.env.Login(w.admin.Login, apptest.DefaultPassword), w.customer.ID, "")
		count := func() (n int64) { db.Table("onbehalf_tickets").Count(&n); return }
		if n := count(); n != 2 {
			t.Fatalf("%d tickets, want 2 (the first expired less than an hour ago)", n)
		}
		w.env.Clock.Advance(2 * time.Second)
		w.mustTicket(w.env.Login(w.admin.Login, apptest.DefaultPassword), w.customer.ID, "")
		var left []onbehalf.Ticket
		dbtest.Must(t, db.Find(&left))
		if len(left) != 2 || bytes.Equal(left[0].TicketHash, security.HashToken(fresh.Ticket)) == bytes.Equal(left[1].TicketHash, security.HashToken(fresh.Ticket)) {
			t.Fatalf("%d tickets left, want the two recent ones", len(left))
		}
	})
}
