package commerce

import (
	"sync"
	"testing"
	"time"

	"behalf/apperr"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

func TestPlaceOrderIdempotency(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		dan := f.user("dan", security.RoleCustomer)
		f.product("A-1", "1", 100)
		must(f.svc.AddToCart(f.as(carla), "A-1", 2))
		o := must(f.svc.PlaceOrder(f.as(carla), "key-1"))
		// Repeating returns the same order, though the cart is empty now; nothing is reserved twice.
		again := must(f.svc.PlaceOrder(f.as(carla), "key-1"))
		if again.ID != o.ID || again.Number != o.Number || len(again.Items) != 1 {
			t.Errorf("repeat gave %s, want %s", again.ID, o.ID)
		}
		if f.count(&model.Order{}, "") != 1 || f.stock("A-1") != 98 {
			t.Errorf("repeat made %d orders, stock %d", f.count(&model.Order{}, ""), f.stock("A-1"))
		}
		// Keys are per customer: dan's key-1 is his own.
		must(f.svc.AddToCart(f.as(dan), "A-1", 1))
		od := must(f.svc.PlaceOrder(f.as(dan), "key-1"))
		if od.ID == o.ID || od.CustomerID != dan.ID {
			t.Error("dan's key-1 returned carla's order")
		}
		// Kept at least 24 h; an expired key may be reused for a new order.
		f.clk.Advance(23 * time.Hour)
		must(f.svc.AddToCart(f.as(carla), "A-1", 1))
		if r := must(f.svc.PlaceOrder(f.as(carla), "key-1")); r.ID != o.ID {
			t.Error("key forgotten before 24 h")
		}
		f.clk.Advance(2 * time.Hour)
		fresh := must(f.svc.PlaceOrder(f.as(carla), "key-1"))
		if fresh.ID == o.ID {
			t.Error("expired key still returned the old order")
		}
		if r := must(f.svc.PlaceOrder(f.as(carla), "key-1")); r.ID != fresh.ID {
			t.Error("reused key does not replay its new order")
		}
		f.clk.Advance(25 * time.Hour)
		if n := must(f.svc.PurgeIdempotencyKeys(f.as(carla))); n != 2 {
			t.Errorf("purged %d keys, want 2", n)
		}
	})
}

func TestPayOrderIdempotency(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		ctx := f.as(carla)
		f.product("A-1", "5", 100)
		var orders []*model.Order
		for range 2 {
			must(f.svc.AddToCart(ctx, "A-1", 1))
			orders = append(orders, must(f.svc.PlaceOrder(ctx, model.NewID())))
		}
		in := PayOrderInput{OrderID: orders[0].ID, IdempotencyKey: "pay-1", Method: model.PaymentCard, Token: ptr("tok_visa")}
		p := must(f.svc.PayOrder(ctx, in))
		if r := must(f.svc.PayOrder(ctx, in)); r.ID != p.ID || r.Status != model.PaymentSucceeded {
			t.Errorf("repeat gave %s %s, want the same payment", r.ID, r.Status)
		}
		for name, other := range map[string]PayOrderInput{
			"other order":  {OrderID: orders[1].ID, IdempotencyKey: "pay-1", Method: model.PaymentCard, Token: ptr("tok_visa")},
			"other method": {OrderID: orders[0].ID, IdempotencyKey: "pay-1", Method: model.PaymentInvoice},
			"other token":  {OrderID: orders[0].ID, IdempotencyKey: "pay-1", Method: model.PaymentCard, Token: ptr("tok_mastercard")},
		} {
			_, err := f.svc.PayOrder(ctx, other)
			if apperr.CodeOf(err) != apperr.Conflict {
				t.Errorf("%s with the same key: %v, want CONFLICT", name, err)
			}
		}
		if n := f.count(&model.Payment{}, ""); n != 1 {
			t.Errorf("%d payments, want exactly 1", n)
		}
		// The key of placeOrder and payOrder live in separate scopes.
		must(f.svc.AddToCart(ctx, "A-1", 1))
		must(f.svc.PlaceOrder(ctx, "pay-1"))
	})
}

// TestConcurrentDuplicatePlaceOrder fires the same placeOrder request from many goroutines: exactly one
// order results and every caller gets it.
func TestConcurrentDuplicatePlaceOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		f.product("A-1", "1", 100)
		must(f.svc.AddToCart(f.as(carla), "A-1", 3))
		const n = 10
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				o, err := f.svc.PlaceOrder(f.as(carla), "same-key")
				errs[i] = err
				if o != nil {
					ids[i] = o.ID
				}
			}()
		}
		close(start)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Errorf("caller %d: %v", i, errs[i])
			} else if ids[i] != ids[0] {
				t.Errorf("caller %d got order %s, caller 0 %s", i, ids[i], ids[0])
			}
		}
		if c := f.count(&model.Order{}, ""); c != 1 {
			t.Errorf("%d orders, want exactly 1", c)
		}
		if s := f.stock("A-1"); s != 97 {
			t.Errorf("stock %d, want 97", s)
		}
	})
}

// TestConcurrentDuplicatePayOrder: the same payment request in parallel charges once.
func TestConcurrentDuplicatePayOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		carla := f.user("carla", security.RoleCustomer)
		f.product("A-1", "1", 100)
		must(f.svc.AddToCart(f.as(carla), "A-1", 1))
		o := must(f.svc.PlaceOrder(f.as(carla), "o"))
		const n = 8
		errs := make([]error, n)
		ids := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := f.svc.PayOrder(f.as(carla), PayOrderInput{OrderID: o.ID, IdempotencyKey: "pay", Method: model.PaymentCard, Token: ptr("tok_visa")})
				errs[i] = err
				if p != nil {
					ids[i] = p.ID
				}
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil || ids[i] != ids[0] {
				t.Errorf("caller %d: %s, %v", i, ids[i], errs[i])
			}
		}
		if c := f.count(&model.Payment{}, ""); c != 1 {
			t.Errorf("%d payments, want exactly 1", c)
		}
	})
}

// TestLastUnitConcurrency: 20 customers order the last unit at once; exactly one gets it, the others
// CONFLICT, and stock never goes negative.
func TestLastUnitConcurrency(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		f.product("LAST-1", "99", 1)
		const n = 20
		var customers []*model.User
		for i := range n {
			u := f.user("c"+string(rune('a'+i)), security.RoleCustomer)
			must(f.svc.AddToCart(f.as(u), "LAST-1", 1))
			customers = append(customers, u)
		}
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, u := range customers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = f.svc.PlaceOrder(f.as(u), "k")
			}()
		}
		close(start)
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch apperr.CodeOf(err) {
			case apperr.Conflict:
			default:
				if err != nil {
					t.Errorf("customer %d: %v", i, err)
				} else {
					won++
				}
			}
		}
		if won != 1 {
			t.Errorf("%d orders succeeded, want exactly 1", won)
		}
		if s := f.stock("LAST-1"); s != 0 {
			t.Errorf("stock %d, want 0", s)
		}
		if c := f.count(&model.Order{}, ""); c != 1 {
			t.Errorf("%d orders stored, want 1", c)
		}
		if c := f.count(&model.CartItem{}, ""); c != n-1 {
			t.Errorf("%d cart lines left, want %d (the losers keep their carts)", c, n-1)
		}
	})
}
