// Package loaders batches per-request lookups so that lists do not issue one query per row.
//
// Batches are formed deterministically: when a list resolver has its rows, it announces them
// (AnnounceContacts, AnnounceUsers, AnnounceOrders, …), which registers the keys their edges will
// ask for (a contact's organization and accounts, a user's contact, an order's payments and products,
// …). The first Load of any announced key fetches every announced key of that loader in one
// statement; the other rows' Loads find the answer waiting. So a page of 100 contacts costs one
// statement per edge, whatever the scheduling of gqlgen's goroutines and however loaded the machine
// is — no time window has to be long enough. Keys nobody announced (a single object's edge) go
// through a dataloadgen loader with a short wait, which batches whatever arrives together.
package loaders

import (
	"context"
	"sync"
	"time"

	"behalf/model"

	"github.com/vikstrous/dataloadgen"
)

// Fetchers load rows by key. To-one fetchers return rows in the order of the keys (nil where
// missing); to-many fetchers return each key's rows (missing keys have none).
type Fetchers struct {
	Users         func(ctx context.Context, ids []string) ([]*model.User, error)
	Organizations func(ctx context.Context, ids []string) ([]*model.Organization, error)
	Contacts      func(ctx context.Context, ids []string) ([]*model.Contact, error)
	Products      func(ctx context.Context, ids []string) ([]*model.Product, error)
	Orders        func(ctx context.Context, ids []string) ([]*model.Order, error)
	// AccountsOfContacts returns the users linked to each contact, by contact id.
	AccountsOfContacts func(ctx context.Context, contactIDs []string) (map[string][]*model.User, error)
	// PaymentsOfOrders returns the payments of each order, by order id.
	PaymentsOfOrders func(ctx context.Context, orderIDs []string) (map[string][]*model.Payment, error)
}

// Loaders are one request's batching loaders.
type Loaders struct {
	Users         *Loader[*model.User]
	Organizations *Loader[*model.Organization]
	Contacts      *Loader[*model.Contact]
	Products      *Loader[*model.Product]
	Orders        *Loader[*model.Order]
	Accounts      *Loader[[]*model.User]    // by contact id
	Payments      *Loader[[]*model.Payment] // by order id
}

// Wait is how long the fallback loader waits for more unannounced keys before it fetches.
const Wait = 200 * time.Microsecond

// New returns fresh loaders for one request. Fetchers left nil give loaders that find nothing.
func New(f Fetchers) *Loaders {
	l := &Loaders{}
	l.Users = newLoader(byOrder(f.Users, func(us []*model.User) { l.AnnounceUsers(us) }))
	l.Organizations = newLoader(byOrder(f.Organizations, nil))
	l.Contacts = newLoader(byOrder(f.Contacts, func(cs []*model.Contact) { l.AnnounceContacts(cs) }))
	l.Products = newLoader(byOrder(f.Products, nil))
	l.Orders = newLoader(byOrder(f.Orders, func(os []*model.Order) { l.AnnounceOrders(os) }))
	l.Accounts = newLoader(grouped(f.AccountsOfContacts, func(us []*model.User) { l.AnnounceUsers(us) }))
	l.Payments = newLoader(grouped(f.PaymentsOfOrders, func(ps []*model.Payment) { l.AnnouncePayments(ps) }))
	return l
}

// byOrder adapts a to-one fetcher to a map, announcing the rows found (then) so their own edges batch.
func byOrder[T any](f func(ctx context.Context, ids []string) ([]*T, error), then func([]*T)) func(context.Context, []string) (map[string]*T, error) {
	return func(ctx context.Context, ids []string) (map[string]*T, error) {
		out := make(map[string]*T, len(ids))
		if f == nil {
			return out, nil
		}
		rows, err := f(ctx, ids)
		if err != nil {
			return nil, err
		}
		found := make([]*T, 0, len(rows))
		for i, r := range rows {
			if r != nil && i < len(ids) {
				out[ids[i]] = r
				found = append(found, r)
			}
		}
		if then != nil {
			then(found)
		}
		return out, nil
	}
}

// grouped adapts a to-many fetcher, announcing every row found.
func grouped[T any](f func(ctx context.Context, ids []string) (map[string][]*T, error), then func([]*T)) func(context.Context, []string) (map[string][]*T, error) {
	return func(ctx context.Context, ids []string) (map[string][]*T, error) {
		if f == nil {
			return map[string][]*T{}, nil
		}
		m, err := f(ctx, ids)
		if err != nil {
			return nil, err
		}
		var all []*T
		for _, id := range ids {
			if m[id] == nil {
				m[id] = []*T{} // a to-many edge without rows is an empty list, not null
			}
			all = append(all, m[id]...)
		}
		if then != nil {
			then(all)
		}
		return m, nil
	}
}

// Loader loads values by string key for one request, in batches (see the package comment).
type Loader[V any] struct {
	fetch func(ctx context.Context, keys []string) (map[string]V, error)

	fallbackOnce sync.Once
	fallback     *dataloadgen.Loader[string, V] // made on first use: most requests never need it

	mu       sync.Mutex
	expected []string
	pending  map[string]bool      // nil until something is announced
	entries  map[string]*entry[V] // nil until something is loaded
}

type entry[V any] struct {
	done chan struct{}
	v    V
	err  error
}

func newLoader[V any](fetch func(ctx context.Context, keys []string) (map[string]V, error)) *Loader[V] {
	return &Loader[V]{fetch: fetch}
}

func (l *Loader[V]) loadFallback(ctx context.Context, key string) (V, error) {
	l.fallbackOnce.Do(func() {
		l.fallback = dataloadgen.NewLoader(func(ctx context.Context, keys []string) ([]V, []error) {
			m, err := l.fetch(ctx, keys)
			if err != nil {
				return nil, []error{err}
			}
			out := make([]V, len(keys))
			for i, k := range keys {
				out[i] = m[k] // missing: the zero value (no row), not an error
			}
			return out, nil
		}, dataloadgen.WithWait(Wait))
	})
	return l.fallback.Load(ctx, key)
}

// Expect announces keys that Loads will ask for soon, so that the first Load fetches them all at once.
func (l *Loader[V]) Expect(keys ...string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending == nil {
		l.pending = make(map[string]bool, len(keys))
	}
	for _, k := range keys {
		if k == "" || l.pending[k] || l.entries[k] != nil {
			continue
		}
		l.pending[k] = true
		l.expected = append(l.expected, k)
	}
}

// Load returns the value of key (the zero value when there is none).
func (l *Loader[V]) Load(ctx context.Context, key string) (V, error) {
	l.mu.Lock()
	if e := l.entries[key]; e != nil {
		l.mu.Unlock()
		return e.wait(ctx)
	}
	if !l.pending[key] {
		l.mu.Unlock()
		return l.loadFallback(ctx, key)
	}
	keys := l.expected
	l.expected, l.pending = nil, nil
	if l.entries == nil {
		l.entries = make(map[string]*entry[V], len(keys))
	}
	batch := make(map[string]*entry[V], len(keys))
	for _, k := range keys {
		e := &entry[V]{done: make(chan struct{})}
		l.entries[k], batch[k] = e, e
	}
	l.mu.Unlock()

	m, err := l.fetch(ctx, keys)
	for k, e := range batch {
		e.v, e.err = m[k], err
		close(e.done)
	}
	return batch[key].v, batch[key].err
}

func (e *entry[V]) wait(ctx context.Context) (V, error) {
	select {
	case <-e.done:
		return e.v, e.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// The methods below announce listed rows: each registers the keys the rows' edges will load.

// AnnounceContacts announces contacts: their organizations and accounts.
func (l *Loaders) AnnounceContacts(cs []*model.Contact) {
	if l == nil {
		return
	}
	orgs := make([]string, 0, len(cs))
	ids := make([]string, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.ID)
		if c.OrganizationID != nil {
			orgs = append(orgs, *c.OrganizationID)
		}
	}
	l.Organizations.Expect(orgs...)
	l.Accounts.Expect(ids...)
}

// AnnounceUsers announces users: their contacts.
func (l *Loaders) AnnounceUsers(us []*model.User) {
	if l == nil {
		return
	}
	ids := make([]string, 0, len(us))
	for _, u := range us {
		if u.ContactID != nil {
			ids = append(ids, *u.ContactID)
		}
	}
	l.Contacts.Expect(ids...)
}

// AnnounceOrders announces orders: their payments, customers, operators and the products of their lines.
func (l *Loaders) AnnounceOrders(os []*model.Order) {
	if l == nil {
		return
	}
	ids := make([]string, 0, len(os))
	var users, products []string
	for _, o := range os {
		ids = append(ids, o.ID)
		users = append(users, o.CustomerID)
		if o.OperatorID != nil {
			users = append(users, *o.OperatorID)
		}
		for _, it := range o.Items {
			products = append(products, it.ProductID)
		}
	}
	l.Payments.Expect(ids...)
	l.Users.Expect(users...)
	l.Products.Expect(products...)
}

// AnnouncePayments announces payments: their orders, customers and operators.
func (l *Loaders) AnnouncePayments(ps []*model.Payment) {
	if l == nil {
		return
	}
	var orders, users []string
	for _, p := range ps {
		orders = append(orders, p.OrderID)
		users = append(users, p.CustomerID)
		if p.OperatorID != nil {
			users = append(users, *p.OperatorID)
		}
	}
	l.Orders.Expect(orders...)
	l.Users.Expect(users...)
}

// AnnounceAuditEvents announces audit events: their actors and subjects.
func (l *Loaders) AnnounceAuditEvents(es []*model.AuditEvent) {
	if l == nil {
		return
	}
	var users []string
	for _, e := range es {
		if e.ActorID != nil {
			users = append(users, *e.ActorID)
		}
		if e.SubjectID != nil {
			users = append(users, *e.SubjectID)
		}
	}
	l.Users.Expect(users...)
}

// AnnounceSessions announces sessions: their users and operators.
func (l *Loaders) AnnounceSessions(ss []*model.Session) {
	if l == nil {
		return
	}
	var users []string
	for _, s := range ss {
		users = append(users, s.UserID)
		if s.OperatorID != nil {
			users = append(users, *s.OperatorID)
		}
	}
	l.Users.Expect(users...)
}

type key struct{}

// With returns a context carrying l.
func With(ctx context.Context, l *Loaders) context.Context { return context.WithValue(ctx, key{}, l) }

// WithLazy returns a context whose loaders are made from f on the first For: most requests (a
// `{__typename}`, a login, a single object) never load anything in a batch, and making the seven
// loaders up front costs about twenty allocations per request.
func WithLazy(ctx context.Context, f Fetchers) context.Context {
	return context.WithValue(ctx, key{}, &lazy{f: f})
}

type lazy struct {
	once sync.Once
	f    Fetchers
	l    *Loaders
}

// For returns the request's loaders, or nil.
func For(ctx context.Context) *Loaders {
	switch v := ctx.Value(key{}).(type) {
	case *Loaders:
		return v
	case *lazy:
		v.once.Do(func() { v.l = New(v.f) })
		return v.l
	}
	return nil
}
