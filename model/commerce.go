package model

import (
	"time"

	"behalf/money"
)

// Stamp records who created and who last changed a row, and the staff member when it happened in a
// login-on-behalf session. Embedded in every stamped model; the store's GORM callback fills it from
// the request's identity, so domain code never sets it.
type Stamp struct {
	// CreatedBy is the login of the person who really created the row.
	CreatedBy string
	// ModifiedBy is the login of the person who really made the last change.
	ModifiedBy string
	// OperatorID is the staff member of the last change when it was made on behalf; nil otherwise.
	OperatorID *string
}

// DefaultCurrency is the currency of an empty cart's total.
const DefaultCurrency = "EUR"

// Money is an amount in integer minor units (cents) of an ISO 4217 currency; never a float.
type Money struct {
	Minor    int64
	Currency string
}

// Amount renders the amount as a decimal string with the currency's decimals ("12.50").
func (m *Money) Amount() string { return money.Format(m.Minor, m.Currency) }

// Product is a catalog entry. SKUs are stored upper-case and unique.
type Product struct {
	ID          string `gorm:"primaryKey"`
	SKU         string `gorm:"column:sku"`
	Name        string
	Description string
	PriceMinor  int64
	Currency    string
	Stock       int
	SearchText  string `gorm:"->:false;<-"`
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Price is the unit price.
func (p *Product) Price() *Money { return &Money{Minor: p.PriceMinor, Currency: p.Currency} }

// Cart is a customer's shopping cart (one per customer). Version grows with every change.
type Cart struct {
	ID         string `gorm:"primaryKey"`
	CustomerID string
	Version    int
	Stamp
	CreatedAt time.Time
	UpdatedAt time.Time
	// Items are loaded by the commerce service, oldest line first.
	Items []*CartItem `gorm:"-"`
}

// Total sums the lines at current prices (all lines share one currency).
func (c *Cart) Total() *Money {
	t := &Money{Currency: DefaultCurrency}
	for i, it := range c.Items {
		if i == 0 {
			t.Currency = it.Product.Currency
		}
		t.Minor += it.LineTotal().Minor
	}
	return t
}

// CartItem is one line of a cart.
type CartItem struct {
	ID        string `gorm:"primaryKey"`
	CartID    string
	ProductID string
	SKU       string `gorm:"column:sku"`
	Quantity  int
	Stamp
	CreatedAt time.Time
	UpdatedAt time.Time
	// Product is loaded with the line.
	Product *Product `gorm:"-"`
}

// UnitPrice is the product's current price.
func (i *CartItem) UnitPrice() *Money { return i.Product.Price() }

// LineTotal is unit price × quantity (bounded far below overflow by the price and quantity limits).
func (i *CartItem) LineTotal() *Money {
	return &Money{Minor: i.Product.PriceMinor * int64(i.Quantity), Currency: i.Product.Currency}
}

// Order is a placed cart: prices are frozen at ordering time.
type Order struct {
	ID         string `gorm:"primaryKey"`
	Number     string
	CustomerID string
	Status     OrderStatus
	TotalMinor int64
	Currency   string
	Stamp
	CreatedAt time.Time
	UpdatedAt time.Time
	// Items are loaded by the commerce service.
	Items []*OrderItem `gorm:"-"`
}

// Total is the sum of the lines.
func (o *Order) Total() *Money { return &Money{Minor: o.TotalMinor, Currency: o.Currency} }

// OrderItem is a line of an order with the product's name and price at ordering time.
type OrderItem struct {
	ID             string `gorm:"primaryKey"`
	OrderID        string
	ProductID      string
	SKU            string `gorm:"column:sku"`
	Name           string
	Quantity       int
	UnitPriceMinor int64
	Currency       string
	CreatedAt      time.Time
}

// UnitPrice is the price per unit at ordering time.
func (i *OrderItem) UnitPrice() *Money { return &Money{Minor: i.UnitPriceMinor, Currency: i.Currency} }

// LineTotal is unit price × quantity.
func (i *OrderItem) LineTotal() *Money {
	return &Money{Minor: i.UnitPriceMinor * int64(i.Quantity), Currency: i.Currency}
}

// Payment is one attempt to pay an order; a declined attempt is kept on record.
type Payment struct {
	ID          string `gorm:"primaryKey"`
	OrderID     string
	CustomerID  string
	Method      PaymentMethod
	Status      PaymentStatus
	AmountMinor int64
	Currency    string
	Reference   *string
	DeclineCode *string
	// GatewayAnsweredAt is when the gateway's answer was recorded; nil while the payment is only an
	// intent (committed before the gateway call, outcome unknown until a retry resolves it).
	GatewayAnsweredAt *time.Time
	Stamp
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Amount is what was charged (or invoiced).
func (p *Payment) Amount() *Money { return &Money{Minor: p.AmountMinor, Currency: p.Currency} }

// IdempotencyKey remembers a placeOrder/payOrder request per customer: a repeat with the same key and
// the same input returns ResultID's record instead of doing the work again.
type IdempotencyKey struct {
	ID          string `gorm:"primaryKey"`
	CustomerID  string
	Scope       string
	Key         string `gorm:"column:idem_key"`
	RequestHash string
	ResultID    string
	CreatedAt   time.Time
}

// Counter is a named sequence (order numbers) that works the same on both databases.
type Counter struct {
	Name  string `gorm:"primaryKey"`
	Value int64
}

// The commerce connection types of the schema.
type (
	ProductConnection = Connection[Product]
	ProductEdge       = Edge[Product]
	OrderConnection   = Connection[Order]
	OrderEdge         = Edge[Order]
)
