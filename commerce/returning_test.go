package commerce

import (
	"fmt"
	"testing"
	"time"

	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// TestMutationResultsAreTheStoredRows: what addToCart, placeOrder and payOrder answer (taken from
// their UPDATE … RETURNING) is the row as stored, as a read afterwards returns it: times at the
// database's precision (the clock has nanoseconds), version, stamp of the change on behalf, order
// number, payment fields. Both dialects.
func TestMutationResultsAreTheStoredRows(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		f := newFixture(t, db)
		f.clk.Advance(123456789 * time.Nanosecond)
		carla := f.user("carla", security.RoleCustomer)
		sam := f.user("sam", security.RoleSupport)
		f.product("A-1", "10.50", 10)
		ctx := f.onBehalf(carla, sam)
		must(f.svc.AddToCart(ctx, "A-1", 1)) // creates the cart
		f.clk.Advance(time.Second + 987654321*time.Nanosecond)
		c := must(f.svc.AddToCart(ctx, "A-1", 2))
		stored := must(f.svc.Cart(f.as(carla)))
		if got, want := cartRow(c), cartRow(stored); got != want {
			t.Errorf("addToCart answered %s, stored %s", got, want)
		}
		if c.Version != 2 || c.OperatorID == nil || *c.OperatorID != sam.ID {
			t.Errorf("addToCart answered version %d operator %v, want 2 and %s", c.Version, c.OperatorID, sam.ID)
		}

		f.clk.Advance(time.Second)
		o := must(f.svc.PlaceOrder(ctx, "o-1"))
		if so := must(f.svc.Order(f.as(carla), o.ID)); o.Number != so.Number || o.Number != "SO-100001" {
			t.Errorf("placeOrder answered number %s, stored %s", o.Number, so.Number)
		}

		f.clk.Advance(time.Second + 555555555*time.Nanosecond)
		p := must(f.svc.PayOrder(ctx, PayOrderInput{OrderID: o.ID, IdempotencyKey: "p-1", Method: model.PaymentCard, Token: ptr("tok_visa")}))
		sp := must(f.svc.paymentByID(f.as(carla), p.ID))
		if got, want := paymentRow(p), paymentRow(sp); got != want {
			t.Errorf("payOrder answered %s, stored %s", got, want)
		}
		if p.Status != model.PaymentSucceeded || p.GatewayAnsweredAt == nil || p.Reference == nil {
			t.Errorf("payOrder answered %s", paymentRow(p))
		}
	})
}

func cartRow(c *model.Cart) string {
	return fmt.Sprintf("id=%s customer=%s version=%d created=%s updated=%s by=%s/%s operator=%s", c.ID, c.CustomerID, c.Version,
		c.CreatedAt.UTC().Format(time.RFC3339Nano), c.UpdatedAt.UTC().Format(time.RFC3339Nano), c.CreatedBy, c.ModifiedBy, deref(c.OperatorID))
}

func paymentRow(p *model.Payment) string {
	answered := "nil"
	if p.GatewayAnsweredAt != nil {
		answered = p.GatewayAnsweredAt.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("id=%s order=%s customer=%s method=%s status=%s amount=%d %s ref=%s decline=%s answered=%s created=%s updated=%s by=%s/%s operator=%s",
		p.ID, p.OrderID, p.CustomerID, p.Method, p.Status, p.AmountMinor, p.Currency, deref(p.Reference), deref(p.DeclineCode), answered,
		p.CreatedAt.UTC().Format(time.RFC3339Nano), p.UpdatedAt.UTC().Format(time.RFC3339Nano), p.CreatedBy, p.ModifiedBy, deref(p.OperatorID))
}

func deref(s *string) string {
	if s == nil {
		return "nil"
	}
	return *s
}
