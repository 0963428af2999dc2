package onbehalf_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"behalf/audit"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// The order flow of the benchmark (scripts/bench.sh): add one unit of a product to the cart, place the
// order with an idempotency key, pay it by invoice. A customer runs it in their own session, a staff
// member in a login-on-behalf session acting for the same customer.
const (
	qFlowAdd   = `mutation add { addToCart(sku: "SKU-00001", quantity: 1) { version } }`
	qFlowPlace = `mutation place($k: String!) { placeOrder(idempotencyKey: $k) { id } }`
	qFlowPay   = `mutation pay($o: ID!, $k: String!) { payOrder(orderId: $o, idempotencyKey: $k, method: INVOICE) { status } }`
)

// flowWorld is a server in steady state (background work running, so the identity cache is trusted
// on PostgreSQL too) with a product to order, the customer's own token and a login-on-behalf token of
// the administrator acting for that customer.
type flowWorld struct {
	*world
	own, onBehalf string
	count         *store.StatementCounter
}

func newFlowWorld(t testing.TB, db *gorm.DB) *flowWorld {
	t.Helper()
	count, err := store.CountStatements(db)
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, db)
	w.env.StartBackground()
	ctx := store.WithStamp(context.Background(), store.Stamp{Login: "seed"})
	p := &model.Product{ID: model.NewID(), SKU: "SKU-00001", Name: "Product 1", PriceMinor: 101, Currency: "EUR", Stock: 1_000_000_000}
	if err := db.WithContext(ctx).Create(p).Error; err != nil {
		t.Fatal(err)
	}
	return &flowWorld{world: w, own: w.customerTok, onBehalf: w.adminActsForCustomer().Token, count: count}
}

// flowStatements is how many statements each mutation of one flow issued.
type flowStatements struct{ Add, Place, Pay int64 }

// post sends one GraphQL request with token through the whole handler and returns its data and the
// statements it issued.
func (w *flowWorld) post(token, query string, vars map[string]any) (json.RawMessage, int64, error) {
	ctx, n := store.WithStatementCount(context.Background())
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, 0, err
	}
	r := httptest.NewRequest("POST", "/graphql", bytes.NewReader(body)).WithContext(ctx)
	r.RemoteAddr = "192.0.2.10:40000"
	r.Header.Set("User-Agent", "orderflow")
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	w.env.App.Handler.ServeHTTP(rec, r)
	var res struct {
		Data   json.RawMessage
		Errors []json.RawMessage
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil || rec.Code != 200 || len(res.Errors) > 0 {
		return nil, 0, fmt.Errorf("%s: %d %s", query, rec.Code, rec.Body.String())
	}
	return res.Data, n.N(), nil
}

// flow runs the three mutations with token; key makes the idempotency keys unique.
func (w *flowWorld) flow(token, key string) (flowStatements, error) {
	var st flowStatements
	var err error
	if _, st.Add, err = w.post(token, qFlowAdd, nil); err != nil {
		return st, err
	}
	data, n, err := w.post(token, qFlowPlace, map[string]any{"k": key})
	if err != nil {
		return st, err
	}
	st.Place = n
	var o struct{ PlaceOrder struct{ ID string } }
	if err := json.Unmarshal(data, &o); err != nil {
		return st, err
	}
	_, st.Pay, err = w.post(token, qFlowPay, map[string]any{"o": o.PlaceOrder.ID, "k": key + "p"})
	return st, err
}

// TestOrderFlowStatementsOnBehalfEqualOwn: in steady state (identity cache trusted), each mutation of
// the order flow issues as many statements in a login-on-behalf session as in the customer's own
// session: acting on behalf adds no read (the operator and the operator's session come from the cached
// identity), no write (the stamp and the audit event carry both identities in the rows written anyway)
// and no outbox row. The events still name the staff member as actor, the customer as subject, the
// login-on-behalf session and its reason, and the chain verifies.
func TestOrderFlowStatementsOnBehalfEqualOwn(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		w := newFlowWorld(t, db)
		// The first flow of each creates what later flows reuse (the customer's cart row).
		for _, tok := range []string{w.own, w.onBehalf} {
			if _, err := w.flow(tok, "warm-"+tok[len(tok)-6:]); err != nil {
				t.Fatal(err)
			}
		}
		own, err := w.flow(w.own, "own")
		if err != nil {
			t.Fatal(err)
		}
		before := len(w.env.AuditEvents())
		ob, err := w.flow(w.onBehalf, "onbehalf")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("statements per mutation (add, place, pay): own %+v, on behalf %+v", own, ob)
		if own != ob || own.Add == 0 || own.Place == 0 || own.Pay == 0 {
			t.Errorf("statements (add, place, pay): own %+v, on behalf %+v; want equal and non-zero", own, ob)
		}
		evs := w.env.AuditEvents()[before:]
		sid := w.identity(w.onBehalf).Session.ID
		var got []string
		for _, ev := range evs {
			got = append(got, ev.Action)
			if deref(ev.ActorID) != w.admin.ID || ev.ActorLogin != w.admin.Login || deref(ev.SubjectID) != w.customer.ID ||
				ev.SubjectLogin != w.customer.Login || !ev.OnBehalf || deref(ev.SessionID) != sid ||
				ev.Reason != "customer called support" || ev.Outcome != "SUCCESS" || ev.RequestID == "" || ev.Hash == "" {
				t.Errorf("event %+v", ev)
			}
		}
		if strings.Join(got, ",") != "cart.add,order.place,order.pay" {
			t.Errorf("events of the on-behalf flow: %v", got)
		}
		var o model.Order
		if err := db.Where("customer_id = ?", w.customer.ID).Order("id DESC").Take(&o).Error; err != nil {
			t.Fatal(err)
		}
		if o.CreatedBy != w.admin.Login || deref(o.OperatorID) != w.admin.ID {
			t.Errorf("order stamped created_by %q operator %q, want the staff member", o.CreatedBy, deref(o.OperatorID))
		}
		res, err := audit.Verify(context.Background(), audit.DBSource{DB: db}, 1, nil)
		if err != nil || res.Break != nil || res.Events == 0 {
			t.Fatalf("verify: %+v %v", res, err)
		}
	})
}
