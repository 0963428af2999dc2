package commerce

import (
	"context"
	"errors"
	"sync"
	"testing"

	"behalf/apperr"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// countingGateway wraps the test card gateway, counting calls and the gateway idempotency keys they
// carried, and checks that no database connection is in use during each call (so no transaction of
// the mutation, begun or not, holds one).
type countingGateway struct {
	*TestCardGateway
	db *gorm.DB

	mu       sync.Mutex
	calls    int
	keys     []string
	busyConn []int // connections in use at each call
}

func (g *countingGateway) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	sqlDB, err := g.db.DB()
	if err != nil {
		return ChargeResult{}, err
	}
	g.mu.Lock()
	g.calls++
	g.keys = append(g.keys, req.IdempotencyKey)
	g.busyConn = append(g.busyConn, sqlDB.Stats().InUse)
	g.mu.Unlock()
	return g.TestCardGateway.Charge(ctx, req)
}

type failRecordKey struct{}

// failPaymentUpdates makes every UPDATE of payments fail for contexts marked with failRecordKey: the
// database failing right after the gateway charged.
func failPaymentUpdates(t *testing.T, db *gorm.DB) {
	t.Helper()
	err := db.Callback().Update().Before("gorm:update").Register("test:fail_payment_record", func(tx *gorm.DB) {
		if tx.Statement.Context.Value(failRecordKey{}) != nil && tx.Statement.Table == "payments" {
			_ = tx.AddError(errors.New("injected failure recording the gateway answer"))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPaymentRetryAfterDBFailureChargesOnce: the gateway charges, recording the answer fails; the
// payment stays PENDING, and a retry with the same key resolves it with the original charge.
func TestPaymentRetryAfterDBFailureChargesOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		gw := &countingGateway{TestCardGateway: &TestCardGateway{}, db: db}
		f.svc = New(db, f.clk, Options{}, InvoiceGateway{}, gw)
		failPaymentUpdates(t, db)
		carla := f.user("carla", security.RoleCustomer)
		f.product("A-1", "10", 10)
		must(f.svc.AddToCart(f.as(carla), "A-1", 1))
		o := must(f.svc.PlaceOrder(f.as(carla), "o"))
		in := PayOrderInput{OrderID: o.ID, IdempotencyKey: "pay-1", Method: model.PaymentCard, Token: ptr("tok_visa")}

		// Like the @audit directive: the mutation runs in a (lazily begun) transaction.
		failing := context.WithValue(f.as(carla), failRecordKey{}, true)
		err := store.RunInTx(failing, db, func(ctx context.Context) error {
			_, err := f.svc.PayOrder(ctx, in)
			return err
		})
		if err == nil {
			t.Fatal("recording the gateway answer did not fail")
		}
		var pending model.Payment
		if err := db.Take(&pending, "order_id = ?", o.ID).Error; err != nil {
			t.Fatal(err)
		}
		if pending.Status != model.PaymentPending || pending.GatewayAnsweredAt != nil {
			t.Fatalf("after the failure: payment %s answered %v, want a PENDING intent", pending.Status, pending.GatewayAnsweredAt)
		}
		if s := must(f.svc.Order(f.as(carla), o.ID)).Status; s != model.OrderPlaced {
			t.Errorf("order after the failure: %s", s)
		}
		// Another key cannot start a second payment while the intent is unresolved.
		other := in
		other.IdempotencyKey = "pay-2"
		_, err = f.svc.PayOrder(f.as(carla), other)
		wantCode(t, err, apperr.Conflict)

		var p *model.Payment
		err = store.RunInTx(f.as(carla), db, func(ctx context.Context) error {
			var err error
			p, err = f.svc.PayOrder(ctx, in)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != pending.ID || p.Status != model.PaymentSucceeded || p.Reference == nil || p.GatewayAnsweredAt == nil {
			t.Errorf("retry: %+v, want the intent %s SUCCEEDED", p, pending.ID)
		}
		if s := must(f.svc.Order(f.as(carla), o.ID)).Status; s != model.OrderPaid {
			t.Errorf("order after the retry: %s", s)
		}
		if n := gw.chargeCount(); n != 1 {
			t.Errorf("the gateway made %d charges, want exactly 1", n)
		}
		if gw.calls != 2 || gw.keys[0] == "" || gw.keys[0] != gw.keys[1] {
			t.Errorf("gateway calls %d with keys %q, want 2 with the same key", gw.calls, gw.keys)
		}
		// A replay now answers from the database without calling the gateway.
		if r := must(f.svc.PayOrder(f.as(carla), in)); r.ID != p.ID || gw.calls != 2 {
			t.Errorf("replay: %s after %d gateway calls", r.ID, gw.calls)
		}
		if n := f.count(&model.Payment{}, "order_id = ?", o.ID); n != 1 {
			t.Errorf("%d payments, want 1", n)
		}
	})
}

// TestPaymentGatewayCalledOutsideTransaction: during the gateway call no connection is in use, even
// when payOrder runs inside a mutation's transaction, and the answer then commits with it.
func TestPaymentGatewayCalledOutsideTransaction(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		gw := &countingGateway{TestCardGateway: &TestCardGateway{}, db: db}
		f.svc = New(db, f.clk, Options{}, InvoiceGateway{}, gw)
		carla := f.user("carla", security.RoleCustomer)
		f.product("A-1", "10", 10)
		must(f.svc.AddToCart(f.as(carla), "A-1", 1))
		o := must(f.svc.PlaceOrder(f.as(carla), "o"))
		var p *model.Payment
		err := store.RunInTx(f.as(carla), db, func(ctx context.Context) error {
			var err error
			p, err = f.svc.PayOrder(ctx, PayOrderInput{OrderID: o.ID, IdempotencyKey: "k", Method: model.PaymentCard, Token: ptr("tok_visa")})
			if err != nil {
				return err
			}
			if !store.TxBegun(ctx) {
				return errors.New("the answer was not recorded in the mutation's transaction")
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != model.PaymentSucceeded {
			t.Errorf("payment %s", p.Status)
		}
		if gw.calls != 1 || gw.busyConn[0] != 0 {
			t.Errorf("gateway calls %d, connections in use during them %v, want 1 call with 0", gw.calls, gw.busyConn)
		}
	})
}
