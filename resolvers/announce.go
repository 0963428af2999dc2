package resolvers

import (
	"context"

	"behalf/graph/loaders"
	"behalf/model"
)

// announce tells the request's loaders about a listed page, so that its rows' edges (a contact's
// organization, an order's payments, …) load in one statement each; see package loaders.
func announce[T any](ctx context.Context, conn *model.Connection[T], err error, f func(*loaders.Loaders, []*T)) (*model.Connection[T], error) {
	if err != nil || conn == nil {
		return conn, err
	}
	if l := loaders.For(ctx); l != nil {
		rows := make([]*T, len(conn.Edges))
		for i, e := range conn.Edges {
			rows[i] = e.Node
		}
		f(l, rows)
	}
	return conn, nil
}

// announceList is announce for a plain list.
func announceList[T any](ctx context.Context, rows []*T, err error, f func(*loaders.Loaders, []*T)) ([]*T, error) {
	if err != nil {
		return rows, err
	}
	if l := loaders.For(ctx); l != nil {
		f(l, rows)
	}
	return rows, nil
}

// contactByID loads a contact through the request's loader when there is one.
func (r *Resolver) contactByID(ctx context.Context, id *string) (*model.Contact, error) {
	if id == nil || *id == "" {
		return nil, nil
	}
	if l := loaders.For(ctx); l != nil {
		return l.Contacts.Load(ctx, *id)
	}
	return r.Directory.ContactByID(ctx, *id)
}
