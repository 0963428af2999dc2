package commerce

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

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
	// PaymentID is our payment's id, usable as the gateway's own idempotency key.
	PaymentID string
}

// ChargeResult is the gateway's answer: Status is one of model.PaymentPending, PaymentSucceeded or
// PaymentDeclined; DeclineCode says why a charge was declined.
type ChargeResult struct {
	Status      model.PaymentStatus
	Reference   string
	DeclineCode string
}

// PaymentGateway collects payments for one method. Errors are for requests the gateway cannot take
// (a malformed token: BAD_USER_INPUT) or outages; a declined charge is a result, not an error.
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
// gateway, and payOrder refuses anything that looks like a card number.
type TestCardGateway struct{}

// Method implements PaymentGateway.
func (TestCardGateway) Method() model.PaymentMethod { return model.PaymentCard }

// Charge implements PaymentGateway.
func (TestCardGateway) Charge(ctx context.Context, req ChargeRequest) (ChargeResult, error) {
	ref := "ch_test_" + randomHex(12)
	switch req.Token {
	case "tok_visa", "tok_mastercard":
		return ChargeResult{Status: model.PaymentSucceeded, Reference: ref}, nil
	case "tok_chargeDeclined":
		return ChargeResult{Status: model.PaymentDeclined, Reference: ref, DeclineCode: "card_declined"}, nil
	case "tok_chargeDeclinedInsufficientFunds":
		return ChargeResult{Status: model.PaymentDeclined, Reference: ref, DeclineCode: "insufficient_funds"}, nil
	}
	return ChargeResult{}, apperr.Input("paymentToken", "unknown payment token")
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
	return idempotent(ctx, s, cid, scopePayOrder, in.IdempotencyKey, hash, func(ctx context.Context) (string, error) {
		p, err := s.pay(ctx, cid, in.OrderID, gw, token)
		if err != nil {
			return "", err
		}
		return p.ID, nil
	}, s.paymentByID)
}

func (s *Service) pay(ctx context.Context, customerID, orderID string, gw PaymentGateway, token string) (*model.Payment, error) {
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
	now := s.clock.Now()
	p := &model.Payment{
		ID: model.NewID(), OrderID: o.ID, CustomerID: customerID, Method: gw.Method(),
		AmountMinor: o.TotalMinor, Currency: o.Currency, CreatedAt: now, UpdatedAt: now,
	}
	res, err := gw.Charge(ctx, ChargeRequest{OrderID: o.ID, OrderNumber: o.Number, Amount: *o.Total(), Token: token, PaymentID: p.ID})
	if err != nil {
		return nil, err
	}
	p.Status = res.Status
	if res.Reference != "" {
		p.Reference = &res.Reference
	}
	if res.DeclineCode != "" {
		p.DeclineCode = &res.DeclineCode
	}
	if err := db.Create(p).Error; err != nil {
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
	if status != "" {
		if err := db.Model(&model.Order{ID: o.ID}).Updates(map[string]any{"status": status, "updated_at": now}).Error; err != nil {
			return nil, err
		}
	}
	return p, nil
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
