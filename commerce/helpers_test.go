package commerce

import (
	"context"
	"testing"
	"time"

	"behalf/apperr"
	"behalf/internal/clock"
	"behalf/model"
	"behalf/security"

	"gorm.io/gorm"
)

// fixture is a commerce service on a test database with a fake clock.
type fixture struct {
	t   testing.TB
	db  *gorm.DB
	clk *clock.Fake
	svc *Service
}

func newFixture(t testing.TB, db *gorm.DB) *fixture {
	clk := clock.NewFake(time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC))
	return &fixture{t: t, db: db, clk: clk, svc: New(db, clk, Options{}, InvoiceGateway{}, &TestCardGateway{})}
}

// user creates an account directly (no password needed: identities are built by hand).
func (f *fixture) user(login string, roles ...string) *model.User {
	f.t.Helper()
	now := f.clk.Now()
	u := &model.User{ID: model.NewID(), Login: login, Email: login + "@example.com", Roles: roles, CreatedAt: now, UpdatedAt: now}
	if err := f.db.Create(u).Error; err != nil {
		f.t.Fatal(err)
	}
	return u
}

// as is a request context of u's own session.
func (f *fixture) as(u *model.User) context.Context {
	return security.WithIdentity(context.Background(), security.NewIdentity(u, ""))
}

// onBehalf is a request context of staff acting in customer's account.
func (f *fixture) onBehalf(customer, staff *model.User) context.Context {
	id := security.NewIdentity(customer, "")
	id.Operator = staff
	return security.WithIdentity(context.Background(), id)
}

// product adds a product to the catalog directly.
func (f *fixture) product(sku, price string, stock int) *model.Product {
	f.t.Helper()
	p, err := newProduct(CreateProductInput{SKU: sku, Name: "Product " + sku, Price: price, Currency: "EUR", Stock: stock})
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.db.Create(p).Error; err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) stock(sku string) int {
	f.t.Helper()
	var p model.Product
	if err := f.db.Take(&p, "sku = ?", sku).Error; err != nil {
		f.t.Fatal(err)
	}
	return p.Stock
}

func (f *fixture) count(m any, where string, args ...any) int64 {
	f.t.Helper()
	var n int64
	q := f.db.Model(m)
	if where != "" {
		q = q.Where(where, args...)
	}
	if err := q.Count(&n).Error; err != nil {
		f.t.Fatal(err)
	}
	return n
}

// must returns v, panicking on err (Go cannot pass a call's two results plus t to a helper; the panic
// fails the test with the error and its stack).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func wantCode(t testing.TB, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
}

func ptr[T any](v T) *T { return &v }
