package commerce

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"behalf/apperr"
	"behalf/model"
	"behalf/money"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// orderNumberCounter names the counter order numbers are drawn from.
const orderNumberCounter = "order_number"

// PlaceOrder turns the caller's cart into an order: it reserves the stock of every line atomically,
// freezes names and prices, gives the order a number and empties the cart, all in one transaction.
// An empty cart is BAD_USER_INPUT, a line without enough stock CONFLICT (nothing is reserved then).
// Repeating the call with the same key returns the same order.
func (s *Service) PlaceOrder(ctx context.Context, key string) (*model.Order, error) {
	cid, err := customer(ctx)
	if err != nil {
		return nil, err
	}
	if err := validKey(key); err != nil {
		return nil, err
	}
	return idempotent(ctx, s, cid, scopePlaceOrder, key, requestHash(scopePlaceOrder), func(ctx context.Context) (string, error) {
		o, err := s.placeOrder(ctx, cid)
		if err != nil {
			return "", err
		}
		return o.ID, nil
	}, s.orderByID)
}

func (s *Service) placeOrder(ctx context.Context, customerID string) (*model.Order, error) {
	db := store.Conn(ctx, s.db)
	cart, err := s.ensureCart(ctx, customerID, true)
	if err != nil {
		return nil, err
	}
	if err := s.loadItems(ctx, cart); err != nil {
		return nil, err
	}
	if len(cart.Items) == 0 {
		return nil, apperr.New(apperr.BadUserInput, "the cart is empty").WithReason("EMPTY_CART")
	}
	now := s.clock.Now()
	o := &model.Order{ID: model.NewID(), CustomerID: customerID, Status: model.OrderPlaced, Currency: cart.Items[0].Product.Currency, CreatedAt: now, UpdatedAt: now}
	// Reserve in product id order, so concurrent orders lock rows in one order and cannot deadlock.
	lines := append([]*model.CartItem(nil), cart.Items...)
	sort.Slice(lines, func(i, j int) bool { return lines[i].ProductID < lines[j].ProductID })
	for _, it := range lines {
		res := db.Model(&model.Product{}).Where("id = ? AND stock >= ?", it.ProductID, it.Quantity).
			Updates(map[string]any{"stock": gorm.Expr("stock - ?", it.Quantity), "updated_at": now})
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected != 1 {
			return nil, apperr.Newf(apperr.Conflict, "not enough stock for %s", it.SKU).WithReason("OUT_OF_STOCK")
		}
		line, err := money.Mul(it.Product.PriceMinor, int64(it.Quantity))
		if err == nil {
			o.TotalMinor, err = money.Add(o.TotalMinor, line)
		}
		if err != nil {
			return nil, apperr.Input("cart", "the order total is too large")
		}
	}
	if o.Number, err = s.nextOrderNumber(ctx); err != nil {
		return nil, err
	}
	if err := db.Create(o).Error; err != nil {
		return nil, err
	}
	for _, it := range cart.Items {
		o.Items = append(o.Items, &model.OrderItem{
			ID: model.NewID(), OrderID: o.ID, ProductID: it.ProductID, SKU: it.SKU, Name: it.Product.Name,
			Quantity: it.Quantity, UnitPriceMinor: it.Product.PriceMinor, Currency: it.Product.Currency, CreatedAt: now,
		})
	}
	if err := db.Create(o.Items).Error; err != nil {
		return nil, err
	}
	if err := db.Where("cart_id = ?", cart.ID).Delete(&model.CartItem{}).Error; err != nil {
		return nil, err
	}
	if err := db.Model(&model.Cart{ID: cart.ID}).Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": now}).Error; err != nil {
		return nil, err
	}
	return o, nil
}

// nextOrderNumber draws the next human order number ("SO-100001") from a counter row; the row stays
// locked until the transaction ends, so numbers are gapless among committed orders. One statement:
// the increment returns the new value (RETURNING, both dialects).
func (s *Service) nextOrderNumber(ctx context.Context) (string, error) {
	var value int64
	err := store.Conn(ctx, s.db).Raw("UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value", orderNumberCounter).
		Row().Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("commerce: no %s counter", orderNumberCounter)
	}
	if err != nil {
		return "", fmt.Errorf("draw order number: %w", err)
	}
	return fmt.Sprintf("SO-%d", value), nil
}

// Orders lists the caller's orders, newest first; with orders:read, everyone's.
func (s *Service) Orders(ctx context.Context, page store.PageArgs) (*model.OrderConnection, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	q := store.Conn(ctx, s.db).Model(&model.Order{})
	if !id.Has(security.PermOrdersRead) {
		q = q.Where("customer_id = ?", id.User.ID)
	}
	conn, err := store.Page(ctx, q, page, true, func(o *model.Order) string { return o.ID })
	if err != nil {
		return nil, err
	}
	orders := make([]*model.Order, len(conn.Edges))
	for i, e := range conn.Edges {
		orders[i] = e.Node
	}
	return conn, s.loadOrderItems(ctx, orders)
}

// Order returns one of the caller's orders (any with orders:read); anything else is NOT_FOUND, so
// other customers' order ids cannot be probed.
func (s *Service) Order(ctx context.Context, orderID string) (*model.Order, error) {
	id, err := security.RequireUser(ctx)
	if err != nil {
		return nil, err
	}
	o, err := s.orderByID(ctx, orderID)
	if err != nil {
		return nil, err
	}
	if o.CustomerID != id.User.ID && !id.Has(security.PermOrdersRead) {
		return nil, apperr.ErrNotFound
	}
	return o, nil
}

// OrderOf returns the order a payment belongs to (the payment was already authorized).
func (s *Service) OrderOf(ctx context.Context, p *model.Payment) (*model.Order, error) {
	return s.orderByID(ctx, p.OrderID)
}

// orderByID loads an order with its lines, without an access check; NOT_FOUND when missing.
func (s *Service) orderByID(ctx context.Context, id string) (*model.Order, error) {
	var o model.Order
	err := store.Conn(ctx, s.db).Take(&o, "id = ?", id).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, apperr.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return &o, s.loadOrderItems(ctx, []*model.Order{&o})
}

// loadOrderItems fills the lines of orders with one query.
func (s *Service) loadOrderItems(ctx context.Context, orders []*model.Order) error {
	if len(orders) == 0 {
		return nil
	}
	byID := map[string]*model.Order{}
	ids := make([]string, len(orders))
	for i, o := range orders {
		byID[o.ID], ids[i] = o, o.ID
		o.Items = []*model.OrderItem{}
	}
	var items []*model.OrderItem
	if err := store.Conn(ctx, s.db).Where("order_id IN ?", ids).Order("id").Find(&items).Error; err != nil {
		return err
	}
	for _, it := range items {
		o := byID[it.OrderID]
		o.Items = append(o.Items, it)
	}
	return nil
}
