package onbehalf_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"

	"gorm.io/gorm"
)

// TestAuditTrail: requested, started and ended events name actor (staff), subject (customer), the
// session, the reason, ip, user agent and request id; started and ended are marked onBehalf.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		ask := w.askTicket(w.adminTok, w.customer.ID, "customer called support")
		var tk struct{ LoginOnBehalf ticket }
		ask.Decode(t, &tk)
		conf := w.confirm(tk.LoginOnBehalf.Ticket, w.admin.Login, apptest.DefaultPassword)
		var s struct{ ConfirmOnBehalf scoped }
		conf.Decode(t, &s)
		sid := s.ConfirmOnBehalf.Session.ID
		end := w.env.Do(s.ConfirmOnBehalf.Token, qEnd, nil)
		if end.Code() != "" {
			t.Fatal(end.Raw)
		}
		cases := []struct {
			action    string
			res       *apptest.Response
			sessionID string
			onBehalf  bool
		}{
			{"onbehalf.requested", ask, w.adminSession, false},
			{"onbehalf.started", conf, sid, true},
			{"onbehalf.ended", end, sid, true},
		}
		for _, c := range cases {
			evs := w.env.EventsWithAction(c.action)
			if len(evs) != 1 {
				t.Fatalf("%d %s events", len(evs), c.action)
			}
			ev := evs[0]
			if deref(ev.ActorID) != w.admin.ID || ev.ActorLogin != w.admin.Login || deref(ev.SubjectID) != w.customer.ID ||
				ev.SubjectLogin != w.customer.Login || deref(ev.SessionID) != c.sessionID || ev.OnBehalf != c.onBehalf ||
				ev.Reason != "customer called support" || ev.Outcome != "SUCCESS" || ev.IP != "192.0.2.10" ||
				ev.UserAgent != "apptest" || ev.RequestID == "" || ev.RequestID != c.res.Header.Get("X-Request-Id") {
				t.Errorf("%s event %+v", c.action, ev)
			}
		}
	})
}

// TestLogFields: every log line of a request in a login-on-behalf session carries operator_id and
// subject_id.
func TestLogFields(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		s := w.adminActsForCustomer()
		res := w.env.Do(s.Token, qWhoAmI, nil)
		end := w.env.Do(s.Token, qEnd, nil)
		for _, r := range []*apptest.Response{res, end} {
			lines := logLines(t, w.env.Logs.String(), r.Header.Get("X-Request-Id"))
			if len(lines) == 0 {
				t.Fatal("no log line for the request")
			}
			for _, l := range lines {
				if l["operator_id"] != w.admin.ID || l["subject_id"] != w.customer.ID {
					t.Errorf("log line without operator_id/subject_id: %v", l)
				}
			}
		}
	})
}

// logLines returns the JSON log lines of one request.
func logLines(t *testing.T, logs, requestID string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		if m["request_id"] == requestID {
			out = append(out, m)
		}
	}
	return out
}

// TestNoSecretsRecorded: no ticket, token or password reaches a log line or an audit row, through the
// whole flow including refusals.
func TestNoSecretsRecorded(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		burnt := w.mustTicket(w.adminTok, w.customer.ID, "").Ticket
		w.confirm(burnt, w.admin.Login, "a wrong password guess")
		tk := w.mustTicket(w.adminTok, w.customer.ID, "reason").Ticket
		s := w.mustConfirm(tk, w.admin.Login)
		w.confirm(tk, w.admin.Login, apptest.DefaultPassword) // replay
		w.env.Do(s.Token, qLoginOnBehalf, vars("u", w.customer2.ID))
		w.env.Do(s.Token, qEnd, nil)
		secrets := map[string]string{
			"ticket": tk, "burnt ticket": burnt, "scoped token": s.Token, "admin token": w.adminTok,
			"password": apptest.DefaultPassword, "wrong password": "a wrong password guess",
		}
		var rows []map[string]any
		if err := db.Model(&model.AuditEvent{}).Find(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if len(rows) < 8 {
			t.Fatalf("only %d audit rows", len(rows))
		}
		var trail strings.Builder
		for _, r := range rows {
			fmt.Fprintln(&trail, r)
		}
		for name, secret := range secrets {
			if strings.Contains(w.env.Logs.String(), secret) {
				t.Errorf("the %s is in the logs", name)
			}
			if strings.Contains(trail.String(), secret) {
				t.Errorf("the %s is in the audit trail", name)
			}
		}
	})
}

// TestMyOnBehalfActivity: the customer sees what was done in their account in login-on-behalf
// sessions, newest first, and nothing else.
func TestMyOnBehalfActivity(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		s := w.adminActsForCustomer()
		w.env.Do(s.Token, qSetConsent, vars("a", false)) // refused, recorded
		w.env.MustDo(s.Token, qEnd, nil, nil)
		w.actFor(w.supportTok, w.support.Login, w.customer2)           // someone else's account
		w.env.MustDo(w.customerTok, qSetConsent, vars("a", true), nil) // the customer's own doing
		type page struct {
			MyOnBehalfActivity struct {
				TotalCount int
				Edges      []struct {
					Cursor string
					Node   struct {
						Action, Outcome string
						OnBehalf        bool
						Actor           *struct{ Login string }
						ActorName       string
						Subject         struct{ Login string }
					}
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		q := `query($f:Int, $a:String) { myOnBehalfActivity(first:$f, after:$a) { totalCount
			edges { cursor node { action outcome onBehalf actor { login } actorName subject { login } } } pageInfo { hasNextPage endCursor } } }`
		var got []string
		after := ""
		for range 5 {
			var p page
			v := vars("f", 2)
			if after != "" {
				v["a"] = after
			}
			w.env.MustDo(w.customerTok, q, v, &p)
			if p.MyOnBehalfActivity.TotalCount != 3 {
				t.Fatalf("totalCount %d, want 3", p.MyOnBehalfActivity.TotalCount)
			}
			for _, e := range p.MyOnBehalfActivity.Edges {
				n := e.Node
				// The customer sees who acted by display name, not their account.
				if !n.OnBehalf || n.Actor != nil || n.ActorName != w.admin.Login || n.Subject.Login != w.customer.Login {
					t.Errorf("event %+v", n)
				}
				got = append(got, n.Action+"/"+n.Outcome)
			}
			if !p.MyOnBehalfActivity.PageInfo.HasNextPage {
				break
			}
			after = p.MyOnBehalfActivity.PageInfo.EndCursor
		}
		want := []string{"onbehalf.ended/SUCCESS", "user.consent/FAILURE", "onbehalf.started/SUCCESS"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("activity %v, want %v", got, want)
		}
		if c := w.code("", `{ myOnBehalfActivity { totalCount } }`, nil); c != "UNAUTHENTICATED" {
			t.Errorf("anonymous myOnBehalfActivity: %s", c)
		}
	})
}
