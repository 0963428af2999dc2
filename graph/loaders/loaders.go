// Package loaders batches per-request lookups (users, organizations) so that lists do not issue one
// query per row.
package loaders

import (
	"context"
	"time"

	"behalf/model"

	"github.com/vikstrous/dataloadgen"
)

// Fetchers load rows by id, in the order of ids (nil where missing).
type Fetchers struct {
	Users         func(ctx context.Context, ids []string) ([]*model.User, error)
	Organizations func(ctx context.Context, ids []string) ([]*model.Organization, error)
}

// Loaders are one request's batching loaders.
type Loaders struct {
	Users         *dataloadgen.Loader[string, *model.User]
	Organizations *dataloadgen.Loader[string, *model.Organization]
}

func batch[T any](f func(ctx context.Context, ids []string) ([]*T, error)) func(ctx context.Context, ids []string) ([]*T, []error) {
	return func(ctx context.Context, ids []string) ([]*T, []error) {
		rows, err := f(ctx, ids)
		if err != nil {
			return nil, []error{err}
		}
		return rows, nil
	}
}

// New returns fresh loaders for one request.
func New(f Fetchers) *Loaders {
	wait := dataloadgen.WithWait(100 * time.Microsecond)
	return &Loaders{
		Users:         dataloadgen.NewLoader(batch(f.Users), wait),
		Organizations: dataloadgen.NewLoader(batch(f.Organizations), wait),
	}
}

type key struct{}

// With returns a context carrying l.
func With(ctx context.Context, l *Loaders) context.Context { return context.WithValue(ctx, key{}, l) }

// For returns the request's loaders.
func For(ctx context.Context) *Loaders {
	l, _ := ctx.Value(key{}).(*Loaders)
	return l
}
