package directory

// The PostgreSQL side of the import: rows encoded in COPY's binary format while they are validated
// (copyData), and a writer on one dedicated connection that streams each batch's bytes with COPY.
//
// Two modes. Batches (the directory has contacts, or ImportOptions.Batches): one transaction per
// batch, indexes maintained row by row, nothing locked beyond what COPY locks. Bulk (contacts and
// their search index are empty): one transaction for the whole file that takes an exclusive lock on
// both tables, re-checks that they are empty, drops their secondary indexes, the search index's
// primary key and contacts' foreign keys, truncates the (empty) search index so that its COPY can
// freeze the rows (PostgreSQL then sets the visibility map and, at wal_level minimal, writes no
// WAL for it), loads everything, rebuilds what it dropped from the definitions it read from the
// catalog, and commits. DDL is transactional: a failure, a kill or a lost connection rolls all of
// it back, the indexes included, and a server running meanwhile only waits on the lock.

import (
	"bytes"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"behalf/model"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// copyData is rows in COPY's binary format: the signature and header, then per row the field
// count and each field as a length (-1 for NULL) and its bytes in the type's binary form (a text's
// UTF-8 bytes, a timestamptz's microseconds since 2000-01-01 UTC), then a -1 trailer (added by
// bytes).
type copyData struct {
	buf  []byte
	rows int
}

var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is the zero of PostgreSQL's binary timestamps.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (d *copyData) reset() { d.buf, d.rows = d.buf[:0], 0 }

func (d *copyData) row(fields int) {
	if len(d.buf) == 0 {
		d.buf = append(d.buf, copySignature...)
	}
	d.buf = binary.BigEndian.AppendUint16(d.buf, uint16(fields))
	d.rows++
}

func (d *copyData) text(s string) {
	d.buf = binary.BigEndian.AppendUint32(d.buf, uint32(len(s)))
	d.buf = append(d.buf, s...)
}

func (d *copyData) textOrNull(s *string) {
	if s == nil {
		d.buf = binary.BigEndian.AppendUint32(d.buf, 0xFFFFFFFF)
		return
	}
	d.text(*s)
}

func (d *copyData) time(t time.Time) {
	d.buf = binary.BigEndian.AppendUint32(d.buf, 8)
	d.buf = binary.BigEndian.AppendUint64(d.buf, uint64(t.Sub(pgEpoch).Microseconds()))
}

// bytes returns the whole COPY data, trailer included (d must not grow afterwards).
func (d *copyData) bytes() []byte { return append(d.buf, 0xFF, 0xFF) }

const copyContacts = "COPY contacts (id, first_name, last_name, email, phone, organization_id, search_text, created_at, updated_at) FROM STDIN (FORMAT binary)"

func (d *copyData) contact(c *model.Contact) {
	d.row(9)
	d.text(c.ID)
	d.text(c.FirstName)
	d.text(c.LastName)
	d.text(c.Email)
	d.text(c.Phone)
	d.textOrNull(c.OrganizationID)
	d.text(c.SearchText)
	d.time(c.CreatedAt)
	d.time(c.UpdatedAt)
}

const copyTokens = "COPY contact_search_tokens (token, contact_id, words, organization_id) FROM STDIN (FORMAT binary"

func (d *copyData) token(t *SearchToken) {
	d.row(4)
	d.text(t.Token)
	d.text(t.ContactID)
	d.text(t.Words)
	d.textOrNull(t.OrganizationID)
}

const copyOrganizations = "COPY organizations (id, name, search_text, created_at, updated_at) FROM STDIN (FORMAT binary)"

func (d *copyData) organization(o *model.Organization) {
	d.row(5)
	d.text(o.ID)
	d.text(o.Name)
	d.text(o.SearchText)
	d.time(o.CreatedAt)
	d.time(o.UpdatedAt)
}

// copyBatch streams one batch: its new organizations, its contacts, their search rows (frozen in
// bulk mode, where the search index was truncated in this transaction).
func copyBatch(ctx context.Context, pc *pgconn.PgConn, b *importBatch, freeze bool) error {
	if len(b.newOrgs) > 0 {
		var d copyData
		for _, o := range b.newOrgs {
			d.organization(o)
		}
		if _, err := pc.CopyFrom(ctx, bytes.NewReader(d.bytes()), copyOrganizations); err != nil {
			return fmt.Errorf("copy organizations: %w", err)
		}
	}
	if _, err := pc.CopyFrom(ctx, bytes.NewReader(b.contactRows.bytes()), copyContacts); err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	if b.tokenRow.rows == 0 {
		return nil
	}
	q := copyTokens + ")"
	if freeze {
		q = copyTokens + ", FREEZE)"
	}
	if _, err := pc.CopyFrom(ctx, bytes.NewReader(b.tokenRow.bytes()), q); err != nil {
		return fmt.Errorf("copy search words: %w", err)
	}
	return nil
}

// pgImportWriter writes batches on one dedicated connection, in bulk mode if the directory is
// empty and opts allow it.
func (s *Service) pgImportWriter(ctx context.Context, opts ImportOptions) (*importWriter, error) {
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("import connection: %w", err)
	}
	raw := func(f func(pc *pgx.Conn) error) error {
		return conn.Raw(func(dc any) error { return f(dc.(*stdlib.Conn).Conn()) })
	}
	w := &importWriter{pg: true}
	var rebuild []string
	if !opts.Batches {
		err := raw(func(pc *pgx.Conn) error {
			var err error
			w.bulk, rebuild, err = beginBulk(ctx, pc)
			return err
		})
		if err != nil {
			_ = conn.Close() // the error to report is err; Close only returns the connection
			return nil, fmt.Errorf("begin bulk import: %w", err)
		}
	}
	wrote := false // a batch was committed
	w.write = func(ctx context.Context, b *importBatch) error {
		wrote = true
		return raw(func(pc *pgx.Conn) error {
			if w.bulk {
				return copyBatch(ctx, pc.PgConn(), b, true)
			}
			return pgx.BeginFunc(ctx, pc, func(pgx.Tx) error { return copyBatch(ctx, pc.PgConn(), b, false) })
		})
	}
	w.finish = func(ctx context.Context) error {
		if !w.bulk {
			// Searches read the search index's primary key only; VACUUM sets the visibility map of
			// the pages the batches filled, so that they need not visit the table (autovacuum would,
			// later). It locks nothing that reads or writes wait for.
			err := raw(func(pc *pgx.Conn) error {
				if !wrote {
					return nil
				}
				for _, q := range []string{"SET statement_timeout = 0", "VACUUM (ANALYZE) contact_search_tokens", "RESET statement_timeout"} {
					if _, err := pc.Exec(ctx, q); err != nil {
						return fmt.Errorf("after the import, %s: %w", q, err)
					}
				}
				return nil
			})
			return errors.Join(err, conn.Close())
		}
		err := raw(func(pc *pgx.Conn) error {
			for _, q := range append(rebuild, "ANALYZE contacts, contact_search_tokens", "COMMIT") {
				if _, err := pc.Exec(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			return nil
		})
		if err != nil {
			w.abort()
			return err
		}
		return conn.Close()
	}
	w.abort = func() {
		if w.bulk {
			_ = raw(func(pc *pgx.Conn) error {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := pc.Exec(ctx, "ROLLBACK"); err != nil {
					return driver.ErrBadConn // the pool drops the connection, and the server rolls back
				}
				return nil
			})
		}
		_ = conn.Close() // nothing to report beyond the import's own error
	}
	return w, nil
}

// beginBulk opens the bulk mode's transaction on pc if contacts and the search index are empty:
// it locks both, re-checks, truncates the search index, drops the indexes and constraints that
// rebuild (returned) recreates. It returns false, with no transaction open, if they are not empty.
func beginBulk(ctx context.Context, pc *pgx.Conn) (bool, []string, error) {
	const anyRow = "SELECT EXISTS (SELECT 1 FROM contacts) OR EXISTS (SELECT 1 FROM contact_search_tokens)"
	var some bool
	if err := pc.QueryRow(ctx, anyRow).Scan(&some); err != nil || some {
		return false, nil, err // not empty: no lock taken on a directory in use
	}
	ok := false
	if _, err := pc.Exec(ctx, "BEGIN"); err != nil {
		return false, nil, err
	}
	defer func() {
		if !ok {
			_, _ = pc.Exec(context.Background(), "ROLLBACK") // the caller reports the first error
		}
	}()
	// The index builds at the end take seconds per million contacts: no statement timeout.
	for _, q := range []string{"SET LOCAL statement_timeout = 0", "LOCK TABLE contacts, contact_search_tokens IN ACCESS EXCLUSIVE MODE"} {
		if _, err := pc.Exec(ctx, q); err != nil {
			return false, nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := pc.QueryRow(ctx, anyRow).Scan(&some); err != nil || some {
		return false, nil, err // filled meanwhile
	}
	// What the load would otherwise maintain row by row, in the order to rebuild it: the search
	// index's primary key, every index that backs no constraint, contacts' foreign keys last.
	rows, err := pc.Query(ctx, `
SELECT drop_sql, create_sql FROM (
  SELECT 1 AS step, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname) AS drop_sql,
         format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)) AS create_sql
    FROM pg_constraint WHERE conrelid = 'contact_search_tokens'::regclass AND contype IN ('p', 'u')
  UNION ALL
  SELECT 2, format('DROP INDEX %s', i.indexrelid::regclass), pg_get_indexdef(i.indexrelid)
    FROM pg_index i
   WHERE i.indrelid IN ('contacts'::regclass, 'contact_search_tokens'::regclass)
     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
  UNION ALL
  SELECT 3, format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
         format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid))
    FROM pg_constraint WHERE conrelid = 'contacts'::regclass AND contype = 'f'
) d ORDER BY step, create_sql`)
	if err != nil {
		return false, nil, err
	}
	var drops, creates []string
	for rows.Next() {
		var d, c string
		if err := rows.Scan(&d, &c); err != nil {
			rows.Close()
			return false, nil, err
		}
		drops, creates = append(drops, d), append(creates, c)
	}
	if err := rows.Err(); err != nil {
		return false, nil, err
	}
	for _, q := range append([]string{"TRUNCATE contact_search_tokens"}, drops...) {
		if _, err := pc.Exec(ctx, q); err != nil {
			return false, nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	if len(creates) == 0 {
		return false, nil, errors.New("no index found on contact_search_tokens")
	}
	ok = true
	return true, creates, nil
}
