package store

import (
	"context"
	"sync/atomic"

	"gorm.io/gorm"
)

// StatementCounter counts the SQL statements a *gorm.DB issues, in total and per context, so tests can
// assert how many statements a request costs (zero for a cached authentication, a constant for a
// list page whatever its size). Install it once with CountStatements; it costs one atomic add per
// statement.
type StatementCounter struct {
	total atomic.Int64
}

// Total returns how many statements have run since the counter was installed.
func (c *StatementCounter) Total() int64 { return c.total.Load() }

type stmtCountKey struct{}

// ContextCount is a per-context statement tally: attach one with WithStatementCount and read N after
// the work that used the context.
type ContextCount struct{ n atomic.Int64 }

// N returns how many statements ran with a context carrying this tally.
func (c *ContextCount) N() int64 { return c.n.Load() }

// WithStatementCount returns a context whose statements (on a db with CountStatements installed) are
// tallied in the returned count.
func WithStatementCount(ctx context.Context) (context.Context, *ContextCount) {
	c := &ContextCount{}
	return context.WithValue(ctx, stmtCountKey{}, c), c
}

// CountStatements registers GORM callbacks on db that count every statement it runs (create, query,
// update, delete, row and raw), and returns the counter.
func CountStatements(db *gorm.DB) (*StatementCounter, error) {
	c := &StatementCounter{}
	count := func(tx *gorm.DB) {
		c.total.Add(1)
		if tx.Statement != nil && tx.Statement.Context != nil {
			if cc, ok := tx.Statement.Context.Value(stmtCountKey{}).(*ContextCount); ok {
				cc.n.Add(1)
			}
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Create().After("gorm:create").Register("behalf:count_create", count),
		cb.Query().After("gorm:query").Register("behalf:count_query", count),
		cb.Update().After("gorm:update").Register("behalf:count_update", count),
		cb.Delete().After("gorm:delete").Register("behalf:count_delete", count),
		cb.Row().After("gorm:row").Register("behalf:count_row", count),
		cb.Raw().After("gorm:raw").Register("behalf:count_raw", count),
	} {
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}
