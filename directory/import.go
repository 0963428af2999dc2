package directory

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/gorm"
)

// ImportColumns is the header an import file must have (in any order; other columns are refused).
var ImportColumns = []string{"organization", "first_name", "last_name", "email", "phone"}

// ImportResult counts what an import did.
type ImportResult struct {
	Imported             int // contacts created
	Refused              int // lines refused (each reported)
	OrganizationsCreated int // organizations created because no organization had the name
}

// LineError is one refused line of an import file.
type LineError struct {
	Line    int
	Message string
}

// importBatch is how many lines go into one transaction: a batch is imported whole or not at all.
const importBatch = 10_000

// ImportContacts bulk-imports contacts from CSV (a header naming ImportColumns, then one contact per
// line; organizations are matched by exact name or created). It streams: memory stays constant
// whatever the file's size (one batch, plus the organizations' names and ids). Every line is
// validated like createContact; a refused line is reported to refused and skipped. Each batch of
// valid lines is written in one transaction — on PostgreSQL with COPY — so a failure never leaves a
// batch half imported; the error then says how many contacts earlier batches committed. For the
// command line: there is no permission check.
func (s *Service) ImportContacts(ctx context.Context, r io.Reader, refused func(LineError)) (ImportResult, error) {
	var res ImportResult
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return res, fmt.Errorf("read header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup || !contains(ImportColumns, h) {
			return res, fmt.Errorf("header: unexpected column %q (want %s)", h, strings.Join(ImportColumns, ","))
		}
		col[h] = i
	}
	for _, c := range ImportColumns {
		if _, ok := col[c]; !ok {
			return res, fmt.Errorf("header: missing column %q (want %s)", c, strings.Join(ImportColumns, ","))
		}
	}
	orgs, err := s.organizationIDsByName(ctx)
	if err != nil {
		return res, err
	}
	w, err := s.importWriter(ctx)
	if err != nil {
		return res, err
	}
	defer w.close()

	b := &importBuffer{orgs: orgs}
	flush := func() error {
		if len(b.contacts) == 0 {
			return nil
		}
		if err := w.write(ctx, b); err != nil {
			return fmt.Errorf("import stopped after %d contacts (the failed batch of %d was not imported): %w", res.Imported, len(b.contacts), err)
		}
		res.Imported += len(b.contacts)
		res.OrganizationsCreated += len(b.newOrgs)
		b.reset()
		return nil
	}
	now := s.clock.Now().UTC()
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return res, fmt.Errorf("read line %d: %w", line, err)
			}
			res.Refused++
			refused(LineError{Line: pe.Line, Message: pe.Err.Error()})
			continue
		}
		if len(rec) != len(header) {
			res.Refused++
			refused(LineError{Line: line, Message: fmt.Sprintf("%d fields, want %d", len(rec), len(header))})
			continue
		}
		if err := b.add(rec, col, now); err != nil {
			res.Refused++
			refused(LineError{Line: line, Message: lineMessage(err)})
			continue
		}
		if len(b.contacts) >= importBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	return res, flush()
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// lineMessage renders a validation error for the operator: the field (as the CSV names it) and why.
func lineMessage(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		field := map[string]string{"firstName": "first_name", "lastName": "last_name", "name": "organization"}[ae.Field]
		if field == "" {
			field = ae.Field
		}
		return field + ": " + ae.Message
	}
	return err.Error()
}

// organizationIDsByName maps every organization's name to its id (the first, if names repeat).
func (s *Service) organizationIDsByName(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.WithContext(ctx).Model(&model.Organization{}).Select("id, name").Order("id").Rows()
	if err != nil {
		return nil, fmt.Errorf("read organizations: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read organizations: %w", err)
		}
		if _, ok := out[name]; !ok {
			out[name] = id
		}
	}
	return out, rows.Err()
}

// importBuffer is one batch: its valid contacts, their search words, and the organizations it creates.
type importBuffer struct {
	orgs     map[string]string // name → id, including this batch's new ones
	contacts []*model.Contact
	tokens   []SearchToken
	newOrgs  []*model.Organization
}

func (b *importBuffer) add(rec []string, col map[string]int, now time.Time) error {
	phone := rec[col["phone"]]
	c, err := newContact(CreateContactInput{FirstName: rec[col["first_name"]], LastName: rec[col["last_name"]],
		Email: rec[col["email"]], Phone: &phone})
	if err != nil {
		return err
	}
	if name := strings.TrimSpace(rec[col["organization"]]); name != "" {
		id, ok := b.orgs[name]
		if !ok {
			if name, err = apperr.Text("name", name, 1, 200); err != nil {
				return err
			}
			o := &model.Organization{ID: model.NewID(), Name: name, SearchText: store.SearchText(name), CreatedAt: now, UpdatedAt: now}
			b.newOrgs = append(b.newOrgs, o)
			b.orgs[name], id = o.ID, o.ID
		}
		c.OrganizationID = &id
	}
	c.CreatedAt, c.UpdatedAt = now, now
	b.contacts = append(b.contacts, c)
	b.tokens = append(b.tokens, SearchRows(c)...)
	return nil
}

func (b *importBuffer) reset() {
	clear(b.contacts)
	b.contacts, b.tokens, b.newOrgs = b.contacts[:0], b.tokens[:0], nil
}

// forget removes a failed batch's new organizations from the name map.
func (b *importBuffer) forget() {
	for _, o := range b.newOrgs {
		delete(b.orgs, o.Name)
	}
}

// importWriter writes batches: COPY on PostgreSQL, multi-row INSERTs elsewhere.
type importWriter struct {
	write func(ctx context.Context, b *importBuffer) error
	close func()
}

func (s *Service) importWriter(ctx context.Context) (*importWriter, error) {
	if store.Dialect(s.db) != store.Postgres {
		return &importWriter{close: func() {}, write: func(ctx context.Context, b *importBuffer) error {
			err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
				if len(b.newOrgs) > 0 {
					if err := tx.CreateInBatches(b.newOrgs, 500).Error; err != nil {
						return err
					}
				}
				if err := tx.CreateInBatches(b.contacts, 500).Error; err != nil {
					return err
				}
				return tx.CreateInBatches(b.tokens, 2000).Error
			})
			if err != nil {
				b.forget()
			}
			return err
		}}, nil
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("import connection: %w", err)
	}
	return &importWriter{
		close: func() { _ = conn.Close() }, // returns the connection to the pool; nothing to report
		write: func(ctx context.Context, b *importBuffer) error {
			err := conn.Raw(func(dc any) error {
				pc := dc.(*stdlib.Conn).Conn()
				return pgx.BeginFunc(ctx, pc, func(tx pgx.Tx) error { return copyBatch(ctx, tx, b) })
			})
			if err != nil {
				b.forget()
			}
			return err
		},
	}, nil
}

// copyBatch writes one batch with COPY, in tx.
func copyBatch(ctx context.Context, tx pgx.Tx, b *importBuffer) error {
	if len(b.newOrgs) > 0 {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"organizations"}, []string{"id", "name", "search_text", "created_at", "updated_at"},
			pgx.CopyFromSlice(len(b.newOrgs), func(i int) ([]any, error) {
				o := b.newOrgs[i]
				return []any{o.ID, o.Name, o.SearchText, o.CreatedAt, o.UpdatedAt}, nil
			}))
		if err != nil {
			return fmt.Errorf("copy organizations: %w", err)
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"contacts"},
		[]string{"id", "first_name", "last_name", "email", "phone", "organization_id", "search_text", "created_at", "updated_at"},
		pgx.CopyFromSlice(len(b.contacts), func(i int) ([]any, error) {
			c := b.contacts[i]
			return []any{c.ID, c.FirstName, c.LastName, c.Email, c.Phone, c.OrganizationID, c.SearchText, c.CreatedAt, c.UpdatedAt}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy contacts: %w", err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"contact_search_tokens"}, []string{"token", "contact_id", "words", "organization_id"},
		pgx.CopyFromSlice(len(b.tokens), func(i int) ([]any, error) {
			r := &b.tokens[i]
			return []any{r.Token, r.ContactID, r.Words, r.OrganizationID}, nil
		}))
	if err != nil {
		return fmt.Errorf("copy search words: %w", err)
	}
	return nil
}
