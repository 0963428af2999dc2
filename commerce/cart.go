package commerce

import (
	"context"
	"errors"
	"fmt"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Cart returns the session user's cart (the customer's, in a login-on-behalf session), creating an
// empty one on first use.
func (s *Service) Cart(ctx context.Context) (*model.Cart, error) {
	cid, err := customer(ctx)
	if err != nil {
		return nil, err
	}
	c, err := s.ensureCart(ctx, cid, false)
	if err != nil {
		return nil, err
	}
	return c, s.loadItems(ctx, c)
}

// ensureCart returns the customer's cart, creating it if missing; with lock it holds the cart row's
// lock for the rest of the transaction (PostgreSQL; SQLite transactions are serialized anyway), so
// concurrent edits of one cart queue instead of losing updates.
func (s *Service) ensureCart(ctx context.Context, customerID string, lock bool) (*model.Cart, error) {
	db := store.Conn(ctx, s.db)
	find := func() (*model.Cart, error) {
		var c model.Cart
		q := db.Where("customer_id = ?", customerID)
		if lock {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		err := q.Take(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, nil
		}
		return &c, err
	}
	c, err := find()
	if c != nil || err != nil {
		return c, err
	}
	now := s.clock.Now()
	nc := &model.Cart{ID: model.NewID(), CustomerID: customerID, CreatedAt: now, UpdatedAt: now}
	// A concurrent first request may create it too: whoever loses reads the winner's row.
	if err := db.Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "customer_id"}}, DoNothing: true}).Create(nc).Error; err != nil {
		return nil, err
	}
	c, err = find()
	if c == nil && err == nil {
		err = errors.New("commerce: cart vanished after creation")
	}
	return c, err
}

// loadItems fills c.Items (oldest line first) with their products.
func (s *Service) loadItems(ctx context.Context, c *model.Cart) error {
	var items []*model.CartItem
	if err := store.Conn(ctx, s.db).Where("cart_id = ?", c.ID).Order("id").Find(&items).Error; err != nil {
		return err
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ProductID
	}
	ps, err := s.productsByID(ctx, ids)
	if err != nil {
		return err
	}
	for _, it := range items {
		if it.Product = ps[it.ProductID]; it.Product == nil {
			return fmt.Errorf("commerce: cart line %s has no product", it.ID)
		}
	}
	c.Items = items
	return nil
}

// cartEdit is one locked edit of a cart: lines are changed through it, and the cart's version goes up
// once if anything changed.
type cartEdit struct {
	s       *Service
	db      *gorm.DB
	cart    *model.Cart
	lines   map[string]*model.CartItem // by product id
	changed bool
}

// editCart locks the caller's cart, runs fn on it in one transaction and returns the updated cart.
func (s *Service) editCart(ctx context.Context, fn func(ctx context.Context, e *cartEdit) error) (*model.Cart, error) {
	cid, err := customer(ctx)
	if err != nil {
		return nil, err
	}
	var out *model.Cart
	err = store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		c, err := s.ensureCart(ctx, cid, true)
		if err != nil {
			return err
		}
		if err := s.loadItems(ctx, c); err != nil {
			return err
		}
		e := &cartEdit{s: s, db: store.Conn(ctx, s.db), cart: c, lines: map[string]*model.CartItem{}}
		for _, it := range c.Items {
			e.lines[it.ProductID] = it
		}
		if err := fn(ctx, e); err != nil {
			return err
		}
		// The cart row stays locked since ensureCart read it: unchanged, it is still what was read;
		// changed, the update returns the new row (version, stamp, time) in the same statement.
		if e.changed {
			now := s.clock.Now()
			if err := e.db.Model(c).Clauses(clause.Returning{}).Updates(map[string]any{"version": gorm.Expr("version + 1"), "updated_at": now}).Error; err != nil {
				return err
			}
		}
		out = c
		return s.loadItems(ctx, c)
	})
	return out, err
}

// editLine edits the cart line of sku (NOT_FOUND for an unknown sku) with fn.
func (s *Service) editLine(ctx context.Context, sku string, fn func(e *cartEdit, p *model.Product) error) (*model.Cart, error) {
	return s.editCart(ctx, func(ctx context.Context, e *cartEdit) error {
		p, err := s.productBySKU(ctx, sku)
		if err != nil {
			return err
		}
		return fn(e, p)
	})
}

func checkQuantity(q int, allowZero bool) error {
	if q < 0 || (q == 0 && !allowZero) {
		if allowZero {
			return apperr.Input("quantity", "quantity must not be negative")
		}
		return apperr.Input("quantity", "quantity must be at least 1")
	}
	if q > MaxQuantity {
		return apperr.Input("quantity", fmt.Sprintf("quantity must be at most %d", MaxQuantity))
	}
	return nil
}

// set makes the line of p hold quantity q (0 removes it).
func (e *cartEdit) set(p *model.Product, q int) error {
	if err := checkQuantity(q, true); err != nil {
		return err
	}
	it := e.lines[p.ID]
	switch {
	case it == nil && q == 0:
		return nil
	case it == nil:
		if len(e.lines) >= MaxCartLines {
			return apperr.Input("sku", fmt.Sprintf("a cart holds at most %d lines", MaxCartLines))
		}
		if cur := e.currency(); cur != "" && cur != p.Currency {
			return apperr.Input("sku", fmt.Sprintf("the cart holds %s items; %s is priced in %s", cur, p.SKU, p.Currency))
		}
		now := e.s.clock.Now()
		it = &model.CartItem{ID: model.NewID(), CartID: e.cart.ID, ProductID: p.ID, SKU: p.SKU, Quantity: q, CreatedAt: now, UpdatedAt: now, Product: p}
		if err := e.db.Create(it).Error; err != nil {
			return err
		}
		e.lines[p.ID] = it
	case q == 0:
		if err := e.db.Delete(&model.CartItem{}, "id = ?", it.ID).Error; err != nil {
			return err
		}
		delete(e.lines, p.ID)
	case q == it.Quantity:
		return nil
	default:
		if err := e.db.Model(&model.CartItem{ID: it.ID}).Updates(map[string]any{"quantity": q}).Error; err != nil {
			return err
		}
		it.Quantity = q
	}
	e.changed = true
	return nil
}

// currency is the currency of the cart's lines ("" when empty): one cart, one currency.
func (e *cartEdit) currency() string {
	for _, it := range e.lines {
		return it.Product.Currency
	}
	return ""
}

// add adds q units of p to its line.
func (e *cartEdit) add(p *model.Product, q int) error {
	if err := checkQuantity(q, false); err != nil {
		return err
	}
	have := 0
	if it := e.lines[p.ID]; it != nil {
		have = it.Quantity
	}
	if have+q > MaxQuantity {
		return apperr.Input("quantity", fmt.Sprintf("a line holds at most %d units (the cart has %d)", MaxQuantity, have))
	}
	return e.set(p, have+q)
}

// AddToCart adds quantity units of the product with sku to the caller's cart. An unknown sku is
// NOT_FOUND; a quantity below 1 or above MaxQuantity (also in total on the line) is BAD_USER_INPUT.
// Stock is not checked here: it is reserved when the order is placed.
func (s *Service) AddToCart(ctx context.Context, sku string, quantity int) (*model.Cart, error) {
	if err := checkQuantity(quantity, false); err != nil {
		return nil, err
	}
	return s.editLine(ctx, sku, func(e *cartEdit, p *model.Product) error { return e.add(p, quantity) })
}

// UpdateCartItem sets the quantity of a line; 0 removes it, and a line not yet in the cart is added.
func (s *Service) UpdateCartItem(ctx context.Context, sku string, quantity int) (*model.Cart, error) {
	if err := checkQuantity(quantity, true); err != nil {
		return nil, err
	}
	return s.editLine(ctx, sku, func(e *cartEdit, p *model.Product) error { return e.set(p, quantity) })
}

// RemoveFromCart removes the line of sku; removing a line that is not there changes nothing (an
// unknown sku is NOT_FOUND).
func (s *Service) RemoveFromCart(ctx context.Context, sku string) (*model.Cart, error) {
	return s.editLine(ctx, sku, func(e *cartEdit, p *model.Product) error { return e.set(p, 0) })
}
