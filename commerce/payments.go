package commerce

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ChargeRequest is what a gateway is asked to collect.
type ChargeRequest struct {
	OrderID     string
	OrderNumber string
	Amount      model.Money
	// Token is the gateway's token for the payment instrument (never a card number); empty for invoices.
	Token string
	// PaymentID is our payment's id.
	PaymentID string
	// IdempotencyKey is the gateway's own idempotency key, derived from the payment id: a repeated
	// Charge with the same key must return the original charge's result and never charge again (a
	// real gateway keeps this server-side; TestCardGateway remembers charges in memory).
	IdempotencyKey string
}

// gatewayKey is the gateway idempotency key of payment id: the same for every attempt to resolve it.
func gatewayKey(paymentID string) string { return "behalf-pay-" + paymentID }

// ChargeResult is the gateway's answer: Status is one of model.PaymentPending, PaymentSucceeded or
// PaymentDeclined; DeclineCode says why a charge was declined.
type ChargeResult struct {
	Status      model.PaymentStatus
	Reference   string
	DeclineCode string
}

// PaymentGateway collects payments for one method. Errors are for requests the gateway cannot take
// (a malformed token: BAD_USER_INPUT, which must mean nothing was charged) or outages (the outcome is
// unknown); a declined charge is a result, not an error. Charge is called outside any database
// transaction and must honour req.IdempotencyKey.
type PaymentGateway interface {
	// Method is the PaymentMethod this gateway serves (model.PaymentInvoice, model.PaymentCard).
	Method() model.PaymentMethod
	// Charge asks the gateway to collect req.Amount.
	Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error)
}

// InvoiceGateway is B2B pay-by-invoice: it issues an invoice reference and the payment stays pending
// until the customer pays it (outside this system).
type InvoiceGateway struct{}

// Method implements PaymentGateway.
func (InvoiceGateway) Method() model.PaymentMethod { return model.PaymentInvoice }

// Charge implements PaymentGateway: the invoice is issued, the payment pending.
func (InvoiceGateway) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	return ChargeResult{Status: model.PaymentPending, Reference: "INV-" + strings.TrimPrefix(req.OrderNumber, "SO-")}, nil
}

// TestCardGateway is a card gateway in test mode, modelled on common test tokens: tok_visa and
// tok_mastercard succeed, tok_chargeDeclined (and tok_chargeDeclinedInsufficientFunds) decline. Any
// other token is BAD_USER_INPUT. It never sees a card number: the storefront tokenizes cards with the
// gateway, and payOrder refuses anything that looks like a card number. Like a real gateway it honours
// the idempotency key: a repeated key returns the first result (remembered in memory, per process;
// a real gateway keeps this server-side). Use it through a pointer; the zero value is ready.
type TestCardGateway struct {
	mu      sync.Mutex
	charges map[string]ChargeResult // by idempotency key
}

// Method implements PaymentGateway.
func (*TestCardGateway) Method() model.PaymentMethod { return model.PaymentCard }

// Charge implements PaymentGateway.
func (g *TestCardGateway) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if res, ok := g.charges[req.IdempotencyKey]; ok && req.IdempotencyKey != "" {
		return res, nil
	}
	ref := "ch_test_" + randomHex(12)
	var res ChargeResult
	switch req.Token {
	case "tok_visa", "tok_mastercard":
		res = ChargeResult{Status: model.PaymentSucceeded, Reference: ref}
	case "tok_chargeDeclined":
		res = ChargeResult{Status: model.PaymentDeclined, Reference: ref, DeclineCode: "card_declined"}
	case "tok_chargeDeclinedInsufficientFunds":
		res = ChargeResult{Status: model.PaymentDeclined, Reference: ref, DeclineCode: "insufficient_funds"}
	default:
		return ChargeResult{}, apperr.Input("paymentToken", "unknown payment token")
	}
	if req.IdempotencyKey != "" {
		if g.charges == nil {
			g.charges = map[string]ChargeResult{}
		}
		g.charges[req.IdempotencyKey] = res
	}
	return res, nil
}

// chargeCount is how many distinct charges (succeeded or declined) the gateway made, for tests.
func (g *TestCardGateway) chargeCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.charges)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LooksLikeCardNumber reports whether s holds a run of 12 or more digits (ignoring spaces and dashes):
// a primary account number has 12–19, and it must never reach this system.
func LooksLikeCardNumber(s string) bool {
	run := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			run++
			if run >= 12 {
				return true
			}
		case r == ' ' || r == '-':
		default:
			run = 0
		}
	}
	return false
}

// PayOrderInput is what payOrder takes.
type PayOrderInput struct {
	OrderID, IdempotencyKey string
	Method                  model.PaymentMethod
	Token                   *string
}

// PayOrder pays one of the caller's orders through the method's gateway. INVOICE leaves the payment
// PENDING and the order AWAITING_PAYMENT; CARD with an accepted token makes it SUCCEEDED and the order
// PAID. A declined card is recorded and returned as a DECLINED payment (the mutation succeeds, the
// order stays PLACED and can be paid again with a new key). A paid order, or one awaiting an invoice,
// is CONFLICT; another customer's order NOT_FOUND. A token that looks like a card number is
// BAD_USER_INPUT. Repeating with the same key and input returns the same payment.
//
// The gateway is charged through a recorded intent, never inside a database transaction:
//  1. a short transaction of its own (outside the mutation's) commits the idempotency key and a
//     PENDING payment without a gateway answer (the intent);
//  2. the gateway is called with no transaction open, with the gateway idempotency key derived from
//     the payment id;
//  3. the answer is recorded in the mutation's transaction (which begins only then, so it is short,
//     and commits together with the audit event).
//
// If step 3 fails or the process dies after step 2, the intent stays PENDING; a retry with the same
// idempotency key (and so the same input) calls the gateway again with the same gateway key, gets the
// original charge back and records it: the customer is never charged twice. While an intent is
// unresolved, paying the order with another key is CONFLICT (PAYMENT_IN_PROGRESS).
func (s *Service) PayOrder(ctx context.Context, in PayOrderInput) (*model.Payment, error) {
	cid, err := customer(ctx)
	if err != nil {
		return nil, err
	}
	if err := validKey(in.IdempotencyKey); err != nil {
		return nil, err
	}
	gw, ok := s.gateways[in.Method]
	if !ok {
		return nil, apperr.Input("method", "unsupported payment method")
	}
	token := ""
	if in.Token != nil {
		token = strings.TrimSpace(*in.Token)
	}
	if LooksLikeCardNumber(token) {
		return nil, apperr.Input("paymentToken", "send the gateway's payment token, never a card number").WithReason("CARD_NUMBER_REFUSED")
	}
	if len(token) > 255 {
		return nil, apperr.Input("paymentToken", "paymentToken is too long")
	}
	if in.Method == model.PaymentCard && token == "" {
		return nil, apperr.Input("paymentToken", "a card payment needs a paymentToken")
	}
	tokenHash := sha256.Sum256([]byte(token))
	hash := requestHash(scopePayOrder, in.OrderID, string(in.Method), hex.EncodeToString(tokenHash[:]))
	// Step 1: the intent commits on its own (store.Outside: not in the mutation's transaction).
	p, err := idempotent(store.Outside(ctx), s, cid, scopePayOrder, in.IdempotencyKey, hash, func(ctx context.Context) (string, error) {
		p, err := s.newIntent(ctx, cid, in.OrderID, gw.Method())
		if err != nil {
			return "", err
		}
		return p.ID, nil
	}, s.paymentByID)
	if err != nil {
		return nil, err
	}
	if p.GatewayAnsweredAt != nil {
		return p, nil // a replay of a payment already answered
	}
	return s.charge(ctx, p, in.IdempotencyKey, gw, token)
}

// newIntent checks that the order can be paid and stores a PENDING payment without a gateway answer;
// it runs in the intent's own short transaction.
func (s *Service) newIntent(ctx context.Context, customerID, orderID string, method model.PaymentMethod) (*model.Payment, error) {
	db := store.Conn(ctx, s.db)
	var o model.Order
	err := db.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&o, "id = ? AND customer_id = ?", orderID, customerID).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	switch o.Status {
	case model.OrderPaid:
		return nil, apperr.New(apperr.Conflict, "the order is already paid").WithReason("ALREADY_PAID")
	case model.OrderAwaitingPayment:
		return nil, apperr.New(apperr.Conflict, "the order awaits payment of its invoice").WithReason("AWAITING_INVOICE")
	case model.OrderCancelled:
		return nil, apperr.New(apperr.Conflict, "the order is cancelled").WithReason("CANCELLED")
	}
	var open int64
	if err := db.Model(&model.Payment{}).Where("order_id = ? AND gateway_answered_at IS NULL", o.ID).Count(&open).Error; err != nil {
		return nil, err
	}
	if open > 0 {
		return nil, apperr.New(apperr.Conflict, "a payment of this order is in progress; retry it with its idempotency key").WithReason("PAYMENT_IN_PROGRESS")
	}
	now := s.clock.Now()
	p := &model.Payment{
		ID: model.NewID(), OrderID: o.ID, CustomerID: customerID, Method: method, Status: model.PaymentPending,
		AmountMinor: o.TotalMinor, Currency: o.Currency, CreatedAt: now, UpdatedAt: now,
	}
	if err := db.Create(p).Error; err != nil {
		return nil, fmt.Errorf("store payment intent: %w", err)
	}
	return p, nil
}

// charge asks the gateway to collect intent p (no transaction is open during the call) and records
// the answer. A BAD_USER_INPUT refusal charged nothing: the intent and its key are deleted, so the
// request is not remembered. Any other error leaves the intent PENDING for a retry with key.
func (s *Service) charge(ctx context.Context, p *model.Payment, key string, gw PaymentGateway, token string) (*model.Payment, error) {
	out := store.Outside(ctx)
	var o model.Order
	if err := store.Conn(out, s.db).Take(&o, "id = ?", p.OrderID).Error; err != nil {
		return nil, fmt.Errorf("load order of payment %s: %w", p.ID, err)
	}
	res, err := gw.Charge(out, ChargeRequest{
		OrderID: o.ID, OrderNumber: o.Number, Amount: *p.Amount(), Token: token,
		PaymentID: p.ID, IdempotencyKey: gatewayKey(p.ID),
	})
	if err != nil {
		if apperr.CodeOf(err) == apperr.BadUserInput {
			if derr := s.dropIntent(out, p, key); derr != nil {
				return nil, errors.Join(err, derr)
			}
		}
		return nil, err
	}
	var status model.OrderStatus
	switch res.Status {
	case model.PaymentSucceeded:
		status = model.OrderPaid
	case model.PaymentPending:
		status = model.OrderAwaitingPayment
	case model.PaymentDeclined:
	default:
		return nil, errors.New("commerce: gateway returned unknown status " + string(res.Status))
	}
	// Step 3: joins the mutation's transaction if there is one (it begins here, after the gateway call).
	// The update returns the answered payment (RETURNING), so it is not read again.
	answered := &model.Payment{ID: p.ID}
	recorded := false
	err = store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		db := store.Conn(ctx, s.db)
		now := s.clock.Now()
		var ref, decline *string
		if res.Reference != "" {
			ref = &res.Reference
		}
		if res.DeclineCode != "" {
			decline = &res.DeclineCode
		}
		r := db.Model(answered).Clauses(clause.Returning{}).Where("gateway_answered_at IS NULL").Updates(map[string]any{
			"status": res.Status, "reference": ref, "decline_code": decline, "gateway_answered_at": now, "updated_at": now,
		})
		if r.Error != nil {
			return fmt.Errorf("record gateway answer for payment %s: %w", p.ID, r.Error)
		}
		recorded = r.RowsAffected == 1
		if r.RowsAffected == 0 || status == "" {
			return nil // a concurrent retry recorded the same answer already, or nothing to change
		}
		if err := db.Model(&model.Order{ID: o.ID}).Where("status = ?", model.OrderPlaced).
			Updates(map[string]any{"status": status, "updated_at": now}).Error; err != nil {
			return fmt.Errorf("update order %s after payment: %w", o.ID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if recorded {
		return answered, nil
	}
	return s.paymentByID(ctx, p.ID)
}

// dropIntent deletes an intent the gateway refused without charging, and the idempotency key that
// points at it, in a short transaction of its own.
func (s *Service) dropIntent(ctx context.Context, p *model.Payment, key string) error {
	return store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		db := store.Conn(ctx, s.db)
		if err := db.Where("customer_id = ? AND scope = ? AND idem_key = ? AND result_id = ?", p.CustomerID, scopePayOrder, key, p.ID).
			Delete(&model.IdempotencyKey{}).Error; err != nil {
			return fmt.Errorf("drop idempotency key of refused payment: %w", err)
		}
		if err := db.Where("id = ? AND gateway_answered_at IS NULL", p.ID).Delete(&model.Payment{}).Error; err != nil {
			return fmt.Errorf("drop refused payment intent: %w", err)
		}
		return nil
	})
}

func (s *Service) paymentByID(ctx context.Context, id string) (*model.Payment, error) {
	var p model.Payment
	err := store.Conn(ctx, s.db).Take(&p, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.ErrNotFound
	}
	return &p, err
}

// PaymentsOf lists the payments of an order (already authorized by loading it), oldest first.
func (s *Service) PaymentsOf(ctx context.Context, o *model.Order) ([]*model.Payment, error) {
	var ps []*model.Payment
	err := store.Conn(ctx, s.db).Where("order_id = ?", o.ID).Order("id").Find(&ps).Error
	return ps, err
}
