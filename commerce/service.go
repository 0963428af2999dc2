// Package commerce is the storefront: the catalog, the session user's cart, orders with atomic stock
// reservation, and payments through pluggable gateways. Placing and paying orders is idempotent per
// customer and key. Who wrote a row (created_by, modified_by, operator_id) is stamped by the store's
// GORM callback from the request's identity, never here.
package commerce

import (
	"context"
	"strings"
	"time"
	"unicode"

	"behalf/apperr"
	"behalf/internal/clock"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// Limits that keep inputs sane. Quantities beyond MaxQuantity are typing mistakes, not orders.
const (
	MaxQuantity        = 10_000
	MaxCartLines       = 200
	MaxStock           = 1_000_000_000
	MaxIdempotencyKey  = 255
	DefaultFileLines   = 1000
	DefaultUploadBytes = 2 << 20
	DefaultKeyTTL      = 24 * time.Hour
)

// Options configure the commerce service; zero values pick the defaults above.
type Options struct {
	// UploadMaxBytes is the largest file addToCartFromFile accepts (BEHALF_UPLOAD_MAX_BYTES).
	UploadMaxBytes int64
	// MaxFileLines is the most data lines one file may have.
	MaxFileLines int
	// IdempotencyTTL is how long an idempotency key is kept; after that the key may be reused.
	IdempotencyTTL time.Duration
}

// Service is the commerce domain.
type Service struct {
	db       *gorm.DB
	clock    clock.Clock
	opt      Options
	gateways map[model.PaymentMethod]PaymentGateway
}

// New returns the commerce service paying through gateways (one per payment method).
func New(db *gorm.DB, c clock.Clock, opt Options, gateways ...PaymentGateway) *Service {
	if opt.UploadMaxBytes <= 0 {
		opt.UploadMaxBytes = DefaultUploadBytes
	}
	if opt.MaxFileLines <= 0 {
		opt.MaxFileLines = DefaultFileLines
	}
	if opt.IdempotencyTTL < DefaultKeyTTL {
		opt.IdempotencyTTL = DefaultKeyTTL
	}
	s := &Service{db: db, clock: c, opt: opt, gateways: map[model.PaymentMethod]PaymentGateway{}}
	for _, g := range gateways {
		s.gateways[g.Method()] = g
	}
	return s
}

// customer returns the account the request acts in: the session user, who is the customer also in a
// login-on-behalf session.
func customer(ctx context.Context) (string, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return "", err
	}
	return id.User.ID, nil
}

// normalizeSKU trims and upper-cases a sku: SKUs are stored upper-case, so lookups ignore case.
func normalizeSKU(sku string) string { return strings.ToUpper(strings.TrimSpace(sku)) }

func validSKU(sku string) bool {
	if sku == "" || len(sku) > 64 {
		return false
	}
	for i, r := range sku {
		ok := r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && (r == '-' || r == '_' || r == '.'))
		if !ok {
			return false
		}
	}
	return true
}

// validKey checks an idempotency key: 1–255 printable characters.
func validKey(key string) error {
	if key == "" || len(key) > MaxIdempotencyKey {
		return apperr.Input("idempotencyKey", "idempotencyKey must be 1–255 characters")
	}
	for _, r := range key {
		if !unicode.IsPrint(r) {
			return apperr.Input("idempotencyKey", "idempotencyKey must be printable")
		}
	}
	return nil
}

// Accepts reports whether a gateway for the payment method is configured (the test card gateway is
// left out in production unless BEHALF_TEST_CARD_GATEWAY=true).
func (s *Service) Accepts(method model.PaymentMethod) bool {
	_, ok := s.gateways[method]
	return ok
}
