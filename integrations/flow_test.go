package integrations_test

import (
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/integrations"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"

	"gorm.io/gorm"
)

func loginToken(t *testing.T, env *apptest.Env, login string) string {
	t.Helper()
	var out struct{ Login struct{ Token string } }
	env.MustDo("", `mutation($l:String!,$p:String!){ login(login:$l, password:$p){ token } }`,
		map[string]any{"l": login, "p": apptest.DefaultPassword}, &out)
	return out.Login.Token
}

// actFor runs loginOnBehalf and confirmOnBehalf as the storefront does and returns the session token.
func actFor(t *testing.T, env *apptest.Env, staffToken, staffLogin, customerID, reason string) string {
	t.Helper()
	var tk struct{ LoginOnBehalf struct{ Ticket string } }
	env.MustDo(staffToken, `mutation($u:ID!,$r:String){ loginOnBehalf(userId:$u, reason:$r){ ticket } }`,
		map[string]any{"u": customerID, "r": reason}, &tk)
	var conf struct{ ConfirmOnBehalf struct{ Token string } }
	env.MustDo("", `mutation($t:String!,$l:String!,$p:String!){ confirmOnBehalf(ticket:$t, login:$l, password:$p){ token } }`,
		map[string]any{"t": tk.LoginOnBehalf.Ticket, "l": staffLogin, "p": apptest.DefaultPassword}, &conf)
	return conf.ConfirmOnBehalf.Token
}

// deliverAll runs dispatch rounds until nothing is due, failing on a dispatch error.
func deliverAll(t *testing.T, svc *integrations.Service) int {
	t.Helper()
	total := 0
	for range 50 {
		n, err := svc.DeliverDue(t.Context())
		if err != nil {
			t.Fatalf("deliver: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
	t.Fatal("deliveries never ran out")
	return total
}

func countRows(t *testing.T, db *gorm.DB, m any) int64 {
	t.Helper()
	var n int64
	if err := db.Model(m).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

var allEvents = []string{"onbehalf.started", "onbehalf.ended", "onbehalf.denied", "order.placed", "order.paid", "session.revoked"}

// TestOnBehalfFlowTellsReceiverAndCustomer is the story: an administrator registers an
// endpoint; a support user acts for a customer, places and pays an order and ends; the receiver gets
// the four events once each, in order, correctly signed, and the customer one e-mail. A failed
// mutation emits nothing; a failing receiver gets the event after retries, once by webhook-id; a
// customer who opted out of the e-mail still produces the webhook.
func TestOnBehalfFlowTellsReceiverAndCustomer(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		t.Parallel()
		mb, smtpURL := newMailbox(t)
		rcv := newReceiver(t)
		env := apptest.New(t, db, func(c *config.Config) {
			c.SMTPURL, c.SMTPFrom, c.WebhookAllowPrivate = smtpURL, "shop@example.com", true
		})
		svc := env.App.Integrations
		env.CreateUser("admin", []string{"administrator"}, nil)
		staffOrg := env.CreateOrganization("Shop staff")
		sam := env.CreateContact("Sam", "Support", &staffOrg.ID)
		support := env.CreateUser("sam", []string{"support"}, &sam.ID)
		customer := env.CreateUser("carla", []string{"customer"}, nil)
		adminTok, supportTok := loginToken(t, env, "admin"), loginToken(t, env, "sam")

		var created struct {
			CreateWebhookEndpoint struct {
				Endpoint struct {
					ID     string
					Events []string
					Active bool
				}
				Secret string
			}
		}
		env.MustDo(adminTok, `mutation($u:String!,$e:[String!]!){ createWebhookEndpoint(input:{url:$u, events:$e, description:"ERP"}){ endpoint{ id events active } secret } }`,
			map[string]any{"u": rcv.URL(), "e": allEvents}, &created)
		secret := created.CreateWebhookEndpoint.Secret
		if !strings.HasPrefix(secret, "whsec_") || !created.CreateWebhookEndpoint.Endpoint.Active {
			t.Fatalf("created endpoint: %+v", created)
		}
		rcv.setSecret(secret)
		// Support users may not manage endpoints; the list never shows the secret.
		if r := env.Do(supportTok, `{ webhookEndpoints { id } }`, nil); r.Code() != "FORBIDDEN" {
			t.Fatalf("support listed endpoints: %s\n%s", r.Raw, env.Logs.String())
		}
		if r := env.Do(adminTok, `{ webhookEndpoints { id url events } }`, nil); len(r.Errors) > 0 || strings.Contains(r.Raw, secret) {
			t.Fatalf("endpoints: %s", r.Raw)
		}
		env.MustDo(adminTok, `mutation{ createProduct(input:{sku:"BOLT", name:"Bolt", price:"2.50", currency:"EUR", stock:10}){ id } }`, nil, nil)

		tok := actFor(t, env, supportTok, "sam", customer.ID, "ticket 4711: reorder")
		env.MustDo(tok, `mutation{ addToCart(sku:"BOLT", quantity:2){ version } }`, nil, nil)
		var placed struct{ PlaceOrder struct{ ID, Number string } }
		env.MustDo(tok, `mutation{ placeOrder(idempotencyKey:"order-1"){ id number } }`, nil, &placed)
		env.MustDo(tok, `mutation{ placeOrder(idempotencyKey:"order-1"){ id } }`, nil, nil) // a replay announces nothing new
		env.MustDo(tok, `mutation($o:ID!){ payOrder(orderId:$o, idempotencyKey:"pay-1", method:CARD, paymentToken:"tok_visa"){ status } }`,
			map[string]any{"o": placed.PlaceOrder.ID}, nil)

		// A mutation that fails (paying a paid order is CONFLICT) writes no event and no delivery.
		events, deliveries := countRows(t, db, &model.OutboxEvent{}), countRows(t, db, &model.WebhookDelivery{})
		if r := env.Do(tok, `mutation($o:ID!){ payOrder(orderId:$o, idempotencyKey:"pay-2", method:CARD, paymentToken:"tok_visa"){ status } }`,
			map[string]any{"o": placed.PlaceOrder.ID}); r.Code() != "CONFLICT" {
			t.Fatalf("paying twice: %s", r.Raw)
		}
		if countRows(t, db, &model.OutboxEvent{}) != events || countRows(t, db, &model.WebhookDelivery{}) != deliveries {
			t.Fatal("a failed mutation wrote to the outbox")
		}
		env.MustDo(tok, `mutation{ endOnBehalf }`, nil, nil)
		deliverAll(t, svc)

		got, bad := rcv.snapshot()
		if len(bad) > 0 {
			t.Fatalf("receiver refused: %v", bad)
		}
		want := []string{"onbehalf.started", "order.placed", "order.paid", "onbehalf.ended"}
		if len(got) != len(want) {
			t.Fatalf("received %d webhooks, want %d: %+v", len(got), len(want), got)
		}
		ids := map[string]bool{}
		for i, g := range got {
			if g.Type != want[i] {
				t.Errorf("webhook %d is %s, want %s", i, g.Type, want[i])
			}
			if ids[g.ID] {
				t.Errorf("webhook-id %s arrived twice", g.ID)
			}
			ids[g.ID] = true
			if g.Data["actorId"] != support.ID || g.Data["subjectId"] != customer.ID {
				t.Errorf("%s: actor %v subject %v, want %s and %s", g.Type, g.Data["actorId"], g.Data["subjectId"], support.ID, customer.ID)
			}
		}
		if got[0].Data["reason"] != "ticket 4711: reorder" || got[0].Data["sessionId"] == "" {
			t.Errorf("onbehalf.started data: %v", got[0].Data)
		}
		if got[1].Data["orderId"] != placed.PlaceOrder.ID || got[1].Data["orderNumber"] != placed.PlaceOrder.Number {
			t.Errorf("order.placed data: %v", got[1].Data)
		}
		if got[2].Data["orderId"] != placed.PlaceOrder.ID || got[2].Data["method"] != "CARD" {
			t.Errorf("order.paid data: %v", got[2].Data)
		}
		// No secret in any payload.
		var payloads []string
		if err := db.Model(&model.OutboxEvent{}).Pluck("payload", &payloads).Error; err != nil {
			t.Fatal(err)
		}
		for _, p := range payloads {
			if strings.Contains(p, tok) || strings.Contains(p, supportTok) || strings.Contains(p, "tok_visa") || strings.Contains(p, secret) {
				t.Errorf("a payload carries a secret: %s", p)
			}
		}

		msgs := mb.messages()
		if len(msgs) != 1 {
			t.Fatalf("%d e-mails, want 1: %+v", len(msgs), msgs)
		}
		m := msgs[0]
		if len(m.To) != 1 || m.To[0] != customer.Email || m.From != "shop@example.com" {
			t.Errorf("e-mail envelope from %s to %v", m.From, m.To)
		}
		for _, s := range []string{"Sam Support", "ticket 4711: reorder", "Monday, 5 January 2026, 09:00 UTC", "revoke"} {
			if !strings.Contains(m.Body, s) {
				t.Errorf("e-mail body lacks %q:\n%s", s, m.Body)
			}
		}
		if !strings.Contains(m.Subject, "Sam Support") || strings.Contains(m.Body, support.Email) || strings.Contains(m.Body, "support") && strings.Contains(m.Body, "roles") {
			t.Errorf("e-mail names the staff member wrongly: %s\n%s", m.Subject, m.Body)
		}

		// The receiver fails three times and recovers: one event, four attempts, accepted once.
		rcv.failNext(3)
		if r := env.Do(supportTok, `mutation($u:ID!){ loginOnBehalf(userId:$u, reason:"check"){ ticket } }`,
			map[string]any{"u": support.ID}); r.Code() != "FORBIDDEN" {
			t.Fatalf("login on behalf of oneself: %s", r.Raw)
		}
		for attempt := 1; attempt <= 4; attempt++ {
			if n := deliverAll(t, svc); n != 1 {
				t.Fatalf("attempt %d: %d deliveries attempted, want 1", attempt, n)
			}
			if attempt < 4 {
				var failed struct {
					WebhookDeliveries struct {
						Edges []struct {
							Node struct {
								EventType     string
								Status        string
								Attempts      int
								LastStatus    *int
								NextAttemptAt time.Time
							}
						}
					}
				}
				env.MustDo(adminTok, `{ webhookDeliveries(status: FAILED){ edges{ node{ eventType status attempts lastStatus nextAttemptAt } } } }`, nil, &failed)
				e := failed.WebhookDeliveries.Edges
				if len(e) != 1 || e[0].Node.Attempts != attempt || e[0].Node.LastStatus == nil || *e[0].Node.LastStatus != 500 ||
					!e[0].Node.NextAttemptAt.After(env.Clock.Now()) || e[0].Node.EventType != "onbehalf.denied" {
					t.Fatalf("after failure %d: %+v", attempt, e)
				}
				env.Clock.Advance(5 * time.Minute) // past the backoff (30s doubling, with jitter at most 2m here)
			}
		}
		got, bad = rcv.snapshot()
		if len(bad) > 0 || len(got) != 5 || got[4].Type != "onbehalf.denied" || rcv.attemptsOf(got[4].ID) != 4 {
			t.Fatalf("after recovery: %+v %v", got, bad)
		}
		if got[4].Data["reasonCode"] == "" || got[4].Data["actorId"] != support.ID {
			t.Errorf("onbehalf.denied data: %v", got[4].Data)
		}

		// The customer opts out of the e-mail: the next login on behalf still sends the webhook.
		custTok := loginToken(t, env, "carla")
		var opt struct{ SetOnBehalfEmail struct{ OnBehalfEmail *bool } }
		env.MustDo(custTok, `mutation{ setOnBehalfEmail(enabled:false){ onBehalfEmail } }`, nil, &opt)
		if opt.SetOnBehalfEmail.OnBehalfEmail == nil || *opt.SetOnBehalfEmail.OnBehalfEmail {
			t.Fatalf("opt-out: %+v", opt)
		}
		actFor(t, env, supportTok, "sam", customer.ID, "second look")
		deliverAll(t, svc)
		if got, _ = rcv.snapshot(); len(got) != 6 || got[5].Type != "onbehalf.started" {
			t.Fatalf("after opt-out: %+v", got)
		}
		if n := len(mb.messages()); n != 1 {
			t.Errorf("%d e-mails after opting out, want still 1", n)
		}

		// An administrator revokes the customer's session: session.revoked names it.
		var sess struct{ Session struct{ ID string } }
		env.MustDo(custTok, `{ session { id } }`, nil, &sess)
		env.MustDo(adminTok, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": sess.Session.ID}, nil)
		deliverAll(t, svc)
		if got, _ = rcv.snapshot(); len(got) != 7 || got[6].Type != "session.revoked" ||
			got[6].Data["revokedSessionId"] != sess.Session.ID || got[6].Data["subjectId"] != customer.ID || got[6].Data["all"] != false {
			t.Fatalf("session.revoked: %+v", got[len(got)-1])
		}
	})
}
