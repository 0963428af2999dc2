package commerce

import (
	"context"
	"fmt"

	"behalf/model"
	"behalf/store"
)

// The lookups below serve per-request dataloaders: their parents were already authorized.

// ProductsByIDs loads products in the order of ids (nil where missing).
func (s *Service) ProductsByIDs(ctx context.Context, ids []string) ([]*model.Product, error) {
	return store.ByIDs(ctx, store.Conn(ctx, s.db), ids, func(x *model.Product) string { return x.ID })
}

// OrdersByIDs loads orders with their lines in the order of ids (nil where missing).
func (s *Service) OrdersByIDs(ctx context.Context, ids []string) ([]*model.Order, error) {
	os, err := store.ByIDs(ctx, store.Conn(ctx, s.db), ids, func(x *model.Order) string { return x.ID })
	if err != nil {
		return nil, fmt.Errorf("orders by id: %w", err)
	}
	found := make([]*model.Order, 0, len(os))
	for _, o := range os {
		if o != nil {
			found = append(found, o)
		}
	}
	return os, s.loadOrderItems(ctx, found)
}

// PaymentsOfOrders lists each order's payments, oldest first.
func (s *Service) PaymentsOfOrders(ctx context.Context, orderIDs []string) (map[string][]*model.Payment, error) {
	out := make(map[string][]*model.Payment, len(orderIDs))
	if len(orderIDs) == 0 {
		return out, nil
	}
	var ps []*model.Payment
	if err := store.Conn(ctx, s.db).Where("order_id IN ?", orderIDs).Order("id").Find(&ps).Error; err != nil {
		return nil, fmt.Errorf("payments of %d orders: %w", len(orderIDs), err)
	}
	for _, p := range ps {
		out[p.OrderID] = append(out[p.OrderID], p)
	}
	return out, nil
}
