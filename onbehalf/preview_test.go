package onbehalf_test

import (
	"testing"
	"time"

	"behalf/internal/dbtest"

	"gorm.io/gorm"
)

const qPreview = `query($t:String!){ onBehalfTicketPreview(ticket:$t){ customerName organization operatorLogin reason expiresAt } }`

// TestTicketPreview: the storefront's confirm page learns, anonymously, whom a live ticket is for (a
// display name, never the email), and nothing once the ticket is used or expired; looking does not use
// the ticket up.
func TestTicketPreview(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		org := w.env.CreateOrganization("Preview Org")
		c := w.env.CreateContact("Petra", "Preview", &org.ID)
		target := w.env.CreateUser("petra.preview", []string{"customer"}, &c.ID)
		tk := w.mustTicket(w.supportTok, target.ID, "call 42")
		type preview struct {
			CustomerName  string
			Organization  *string
			OperatorLogin string
			Reason        *string
			ExpiresAt     time.Time
		}
		var out struct{ OnBehalfTicketPreview *preview }
		w.env.MustDo("", qPreview, map[string]any{"t": tk.Ticket}, &out)
		p := out.OnBehalfTicketPreview
		if p == nil || p.CustomerName != "Petra Preview" || p.Organization == nil || *p.Organization != "Preview Org" ||
			p.OperatorLogin != w.support.Login || p.Reason == nil || *p.Reason != "call 42" || !p.ExpiresAt.Equal(tk.ExpiresAt) {
			t.Fatalf("preview %+v", p)
		}
		// Looking did not use it up; confirming does, and then there is nothing to preview.
		w.mustConfirm(tk.Ticket, w.support.Login)
		w.env.MustDo("", qPreview, map[string]any{"t": tk.Ticket}, &out)
		if out.OnBehalfTicketPreview != nil {
			t.Errorf("used ticket previewed: %+v", out.OnBehalfTicketPreview)
		}
		w.env.MustDo("", qPreview, map[string]any{"t": "bht_nonsense"}, &out)
		if out.OnBehalfTicketPreview != nil {
			t.Errorf("unknown ticket previewed: %+v", out.OnBehalfTicketPreview)
		}
		// An expired ticket previews as nothing.
		tk2 := w.mustTicket(w.supportTok, w.customer.ID, "")
		w.env.Clock.Advance(3 * time.Minute)
		w.env.MustDo("", qPreview, map[string]any{"t": tk2.Ticket}, &out)
		if out.OnBehalfTicketPreview != nil {
			t.Errorf("expired ticket previewed: %+v", out.OnBehalfTicketPreview)
		}
	})
}

// TestLoginOnBehalfRefusal: User.loginOnBehalfRefusal names the policy's reason exactly when
// canLoginOnBehalf is false, so the console can explain it.
func TestLoginOnBehalfRefusal(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		q := `query($id:ID!){ user(id:$id){ canLoginOnBehalf loginOnBehalfRefusal } }`
		refusal := func(token, id string) (bool, *string) {
			var out struct {
				User struct {
					CanLoginOnBehalf     bool
					LoginOnBehalfRefusal *string
				}
			}
			w.env.MustDo(token, q, map[string]any{"id": id}, &out)
			return out.User.CanLoginOnBehalf, out.User.LoginOnBehalfRefusal
		}
		if can, why := refusal(w.supportTok, w.customer.ID); !can || why != nil {
			t.Errorf("customer: can=%v why=%v", can, why)
		}
		for _, c := range []struct {
			token, id, want string
		}{
			{w.supportTok, w.admin.ID, "TARGET_IS_STAFF"},
			{w.supportTok, w.support.ID, "SELF"},
			{w.customerTok, w.customer.ID, "NOT_PERMITTED"}, // who may comes before whom
		} {
			if can, why := refusal(c.token, c.id); can || why == nil || *why != c.want {
				t.Errorf("%s: can=%v why=%v, want %s", c.id, can, why, c.want)
			}
		}
		// The customer withdraws consent.
		w.env.MustDo(w.customerTok, `mutation { setAllowLoginOnBehalf(allow:false){ id } }`, nil, nil)
		if can, why := refusal(w.supportTok, w.customer.ID); can || why == nil || *why != "NO_CONSENT" {
			t.Errorf("no consent: can=%v why=%v", can, why)
		}
	})
}

// TestAuditOutcomeFilter: auditEvents(filter:{outcome}) keeps only successes or only failures.
func TestAuditOutcomeFilter(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newWorld(t, db)
		tk := w.mustTicket(w.supportTok, w.customer.ID, "x")
		w.confirm(tk.Ticket, w.support.Login, "wrong password!")
		q := `query($o:AuditOutcome){ auditEvents(filter:{subjectId:"` + w.customer.ID + `", outcome:$o}){ edges{ node{ action outcome } } } }`
		for _, outcome := range []string{"SUCCESS", "FAILURE"} {
			var out struct {
				AuditEvents struct {
					Edges []struct {
						Node struct{ Action, Outcome string }
					}
				}
			}
			w.env.MustDo(w.adminTok, q, map[string]any{"o": outcome}, &out)
			if len(out.AuditEvents.Edges) == 0 {
				t.Errorf("%s: no events", outcome)
			}
			for _, e := range out.AuditEvents.Edges {
				if e.Node.Outcome != outcome {
					t.Errorf("%s filter returned %+v", outcome, e.Node)
				}
			}
		}
	})
}
