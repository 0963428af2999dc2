package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrPoolTimeout is returned when no pool connection became free within the acquire timeout: the
// request fails fast (503) instead of queueing behind a stuck pool without limit.
var ErrPoolTimeout = errors.New("database: no pool connection free within the acquire timeout")

// acquirePool is the connection pool GORM talks to, with a bound on the wait for a connection:
// database/sql waits as long as the statement's context allows, which for a long request deadline
// means every request piles up behind a saturated pool. Each statement (or transaction) takes a
// connection with sql.DB.Conn under the acquire timeout, then runs under its own context.
type acquirePool struct {
	db      *sql.DB
	timeout time.Duration
}

var (
	_ gorm.ConnPool       = (*acquirePool)(nil)
	_ gorm.TxBeginner     = (*acquirePool)(nil)
	_ gorm.GetDBConnector = (*acquirePool)(nil)
)

func (p *acquirePool) conn(ctx context.Context) (*sql.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	c, err := p.db.Conn(actx)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w (%s)", ErrPoolTimeout, p.timeout)
		}
		return nil, err
	}
	return c, nil
}

// GetDBConn lets gorm.DB.DB() find the underlying pool.
func (p *acquirePool) GetDBConn() (*sql.DB, error) { return p.db, nil }

func (p *acquirePool) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return p.db.PrepareContext(ctx, query)
}

func (p *acquirePool) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return c.ExecContext(ctx, query, args...)
}

// QueryContext returns rows that keep their connection until closed; Conn.Close waits for that (in
// its own goroutine) before handing the connection back to the pool.
func (p *acquirePool) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := c.QueryContext(ctx, query, args...)
	go c.Close()
	return rows, err
}

func (p *acquirePool) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c, err := p.conn(ctx)
	if err != nil {
		// *sql.Row cannot carry an error of ours: let database/sql report the expired context.
		expired, cancel := context.WithCancel(ctx)
		cancel()
		return p.db.QueryRowContext(expired, query, args...)
	}
	row := c.QueryRowContext(ctx, query, args...)
	go c.Close()
	return row
}

// BeginTx starts a transaction on a connection taken under the acquire timeout; the connection goes
// back to the pool when the transaction ends.
func (p *acquirePool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error) {
	c, err := p.conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.BeginTx(ctx, opts)
	go c.Close()
	return tx, err
}
