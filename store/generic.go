package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// GenericPlanSQL is the statement QueryGenericPlan sends before the query, in the same round trip:
// it switches plan_cache_mode to force_generic_plan, and the planner away from sequential and
// bitmap scans, sorts and hash joins, for the implicit transaction the pipeline runs in, so the
// settings end with that statement whatever happens (set_config's is_local). The planner still
// uses what is disabled when nothing else can answer; for the walks this serves, something else
// always can.
const GenericPlanSQL = "SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true), " +
	"set_config('enable_bitmapscan', 'off', true), set_config('enable_sort', 'off', true), set_config('enable_hashjoin', 'off', true)"

// QueryGenericPlan runs one read-only statement on PostgreSQL with the plan PostgreSQL cached for it
// on this connection, not planned again for each call, and hands its rows to scan. It is meant for
// ordered walks of an index with a LIMIT: the plan is made once, without the arguments, and with
// the planner steered to index walks (GenericPlanSQL), so no statistics can turn it into reading
// and sorting a whole range.
//
// Every connection runs with plan_cache_mode=force_custom_plan (Open): the tsvector searches of users,
// organizations and products need the planner to see their tsquery. A statement whose plan shape is
// the same for every argument (a bounded walk of one key range, asserted by a plan test for generic
// plans too) gains nothing from re-planning, and planning costs it as much as running it. So this
// pipelines `GenericPlanSQL` and the statement in one round trip on pgx's native connection: both run
// in one implicit transaction, which scopes the setting (is_local) to this statement, also when it
// fails. Rows are scanned by pgx directly, without database/sql's per-value conversion.
//
// The connection is taken like any other statement's, under the pool's acquire timeout. The rows
// are closed when scan returns; scan must not keep them.
func QueryGenericPlan(ctx context.Context, db *gorm.DB, query string, args []any, scan func(pgx.Rows) error) error {
	c, err := rawConn(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(driverConn any) error {
		sc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("generic plan query: driver connection is %T, not pgx", driverConn)
		}
		var b pgx.Batch
		b.Queue(GenericPlanSQL)
		b.Queue(query, args...)
		br := sc.Conn().SendBatch(ctx, &b)
		if _, err := br.Exec(); err != nil {
			return errors.Join(err, br.Close())
		}
		rows, err := br.Query()
		if err != nil {
			return errors.Join(err, br.Close())
		}
		err = scan(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		return errors.Join(err, br.Close())
	})
}

// rawConn takes one connection from db's pool, under the acquire timeout when the pool has one.
func rawConn(ctx context.Context, db *gorm.DB) (*sql.Conn, error) {
	if p, ok := db.Statement.ConnPool.(*acquirePool); ok {
		return p.conn(ctx)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	return sqlDB.Conn(ctx)
}
