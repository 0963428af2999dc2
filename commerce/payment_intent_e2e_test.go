package commerce_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// TestPayOrderRetryAfterDBFailureOverGraphQL: recording the gateway's answer fails after the charge;
// payOrder answers an error and its FAILURE audit event is written, the payment stays PENDING; the
// retry with the same key succeeds with the same payment and a SUCCESS event, the order is PAID once.
func TestPayOrderRetryAfterDBFailureOverGraphQL(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		var fail atomic.Bool
		if err := db.Callback().Update().Before("gorm:update").Register("test:fail_payment_record", func(tx *gorm.DB) {
			if fail.Load() && tx.Statement.Table == "payments" {
				_ = tx.AddError(errors.New("injected failure recording the gateway answer"))
			}
		}); err != nil {
			t.Fatal(err)
		}
		_, admin := env.UserWithToken("alice.admin", security.RoleAdministrator)
		seedCatalog(t, env, admin, [3]any{"A-1", "12.00", 10})
		_, token := env.UserWithToken("carla.customer", security.RoleCustomer)
		env.MustDo(token, `mutation{ addToCart(sku:"A-1", quantity:1){ id } }`, nil, nil)
		var placed struct{ PlaceOrder struct{ ID string } }
		env.MustDo(token, `mutation{ placeOrder(idempotencyKey:"o-1"){ id } }`, nil, &placed)
		pay := `mutation($id:ID!){ payOrder(orderId:$id, idempotencyKey:"pay-1", method:CARD, paymentToken:"tok_visa"){ id status order{ status } } }`
		vars := map[string]any{"id": placed.PlaceOrder.ID}

		fail.Store(true)
		if r := env.Do(token, pay, vars); r.Code() != "INTERNAL_SERVER_ERROR" {
			t.Fatalf("payOrder with a failing database: %s", r.Raw)
		}
		fail.Store(false)
		var intent model.Payment
		dbtest.Must(t, db.Take(&intent))
		if intent.Status != model.PaymentPending || intent.GatewayAnsweredAt != nil {
			t.Fatalf("after the failure: %s answered %v, want a PENDING intent", intent.Status, intent.GatewayAnsweredAt)
		}
		var paid struct {
			PayOrder struct {
				ID, Status string
				Order      struct{ Status string }
			}
		}
		env.MustDo(token, pay, vars, &paid)
		if paid.PayOrder.ID != intent.ID || paid.PayOrder.Status != "SUCCEEDED" || paid.PayOrder.Order.Status != "PAID" {
			t.Errorf("retry: %+v, want intent %s SUCCEEDED", paid.PayOrder, intent.ID)
		}
		var n int64
		dbtest.Must(t, db.Model(&model.Payment{}).Count(&n))
		if n != 1 {
			t.Errorf("%d payments, want 1", n)
		}
		outcomes := map[model.AuditOutcome]int{}
		for _, ev := range env.EventsWithAction("order.pay") {
			outcomes[ev.Outcome]++
		}
		if len(outcomes) != 2 || outcomes[model.AuditFailure] != 1 || outcomes[model.AuditSuccess] != 1 {
			t.Errorf("order.pay audit outcomes %v, want one FAILURE and one SUCCESS", outcomes)
		}
	})
}
