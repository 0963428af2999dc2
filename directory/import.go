package directory

// Bulk import of contacts (`behalf import contacts`). The file is read, validated and turned into
// rows in the calling goroutine while a writer goroutine stores the previous batch, so parsing and
// the database work overlap (two cores). Memory stays constant: at most importDepth batches exist at
// once. On PostgreSQL the rows are encoded in COPY's binary format as they are validated, and the
// writer only streams bytes (import_pg.go); on SQLite the writer inserts the batch's models. See
// docs/import.md.

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

	"gorm.io/gorm"
)

// ImportColumns is the header an import file must have (in any order; other columns are refused).
var ImportColumns = []string{"organization", "first_name", "last_name", "email", "phone"}

// ImportResult counts what an import did.
type ImportResult struct {
	Imported             int  // contacts created
	Refused              int  // lines refused (each reported)
	OrganizationsCreated int  // organizations created because no organization had the name
	Bulk                 bool // PostgreSQL only: the directory was empty, and the file went in as one transaction with the indexes built after the data
}

// ImportOptions tune an import.
type ImportOptions struct {
	// Batches forbids the bulk mode: even into an empty directory, every batch is committed on its
	// own and no table lock is held beyond a batch (slower on PostgreSQL: indexes are maintained row
	// by row).
	Batches bool
	// BatchSize is the number of contacts per batch (default 10,000).
	BatchSize int
}

// LineError is one refused line of an import file.
type LineError struct {
	Line    int
	Message string
}

// importBatchSize is how many contacts go into one batch: a batch is imported whole or not at all.
const importBatchSize = 10_000

// importDepth is how many batches exist at once: one being filled, one queued, one being written.
const importDepth = 3

// ImportContacts is ImportContactsWith with default options.
func (s *Service) ImportContacts(ctx context.Context, r io.Reader, refused func(LineError)) (ImportResult, error) {
	return s.ImportContactsWith(ctx, r, ImportOptions{}, refused)
}

// ImportContactsWith bulk-imports contacts from CSV (a header naming ImportColumns, then one contact
// per line; organizations are matched by exact name or created). It streams: memory stays constant
// whatever the file's size (a few batches, plus the organizations' names and ids). Every line is
// validated like createContact; a refused line is reported to refused (called in the caller's
// goroutine) and skipped.
//
// Each batch of valid lines is written in one transaction — on PostgreSQL with COPY — so a failure
// never leaves a batch half imported; the error then says how many contacts earlier batches
// committed. On PostgreSQL, when contacts and their search index are both empty (and opts.Batches
// is false), the whole file is one transaction instead, holding an exclusive lock on both tables,
// with their secondary indexes and constraints dropped during the load and rebuilt before the
// commit (a failure rolls all of it back, indexes included). For the command line: there is no
// permission check.
func (s *Service) ImportContactsWith(ctx context.Context, r io.Reader, opts ImportOptions, refused func(LineError)) (ImportResult, error) {
	var res ImportResult
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return res, fmt.Errorf("read header: %w", err)
	}
	col, err := importHeader(header)
	if err != nil {
		return res, err
	}
	orgs, err := s.organizationIDsByName(ctx)
	if err != nil {
		return res, err
	}
	w, err := s.importWriter(ctx, opts)
	if err != nil {
		return res, err
	}
	res.Bulk = w.bulk
	batchSize := opts.BatchSize
	if batchSize <= 0 {
		batchSize = importBatchSize
	}

	// The writer goroutine stores full batches in order and hands each back to be refilled.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	full := make(chan *importBatch, 1)
	free := make(chan *importBatch, importDepth)
	for range importDepth {
		free <- newImportBatch(w.pg)
	}
	type outcome struct {
		imported, orgs int
		err            error
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		for b := range full {
			if o.err == nil {
				if o.err = w.write(ctx, b); o.err != nil {
					o.err = fmt.Errorf("the batch of %d contacts was not imported: %w", b.n, o.err)
					cancel() // stops the reader
				} else {
					o.imported += b.n
					o.orgs += len(b.newOrgs)
				}
			}
			b.reset()
			free <- b
		}
		done <- o
	}()
	readErr := func() error {
		now := s.clock.Now().UTC()
		b := <-free
		for {
			rec, err := cr.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if ctx.Err() != nil {
				return nil // the writer failed; its error is the one to report
			}
			if err != nil {
				var pe *csv.ParseError
				if !errors.As(err, &pe) {
					return fmt.Errorf("read import file: %w", err)
				}
				res.Refused++
				refused(LineError{Line: pe.Line, Message: pe.Err.Error()})
				continue
			}
			// Only after a line parsed: FieldPos panics when a parse error left no field behind
			// (a bare quote in the first field).
			line, _ := cr.FieldPos(0)
			if len(rec) != len(header) {
				res.Refused++
				refused(LineError{Line: line, Message: fmt.Sprintf("%d fields, want %d", len(rec), len(header))})
				continue
			}
			if err := b.add(rec, col, orgs, now); err != nil {
				res.Refused++
				refused(LineError{Line: line, Message: lineMessage(err)})
				continue
			}
			if b.n >= batchSize {
				full <- b
				select {
				case b = <-free:
				case <-ctx.Done():
					return nil
				}
			}
		}
		if b.n > 0 {
			full <- b
		}
		return nil
	}()
	close(full)
	o := <-done
	res.Imported, res.OrganizationsCreated = o.imported, o.orgs
	err = errors.Join(o.err, readErr)
	if err == nil {
		err = ctx.Err() // interrupted
	}
	if err == nil {
		err = w.finish(ctx)
	} else {
		w.abort()
	}
	if err != nil {
		if w.bulk {
			res.Imported, res.OrganizationsCreated = 0, 0
			return res, fmt.Errorf("import stopped, nothing was imported (the file was one transaction): %w", err)
		}
		return res, fmt.Errorf("import stopped after %d contacts: %w", res.Imported, err)
	}
	return res, nil
}

// importHeader maps each column name of ImportColumns to its position in header.
func importHeader(header []string) (map[string]int, error) {
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if _, dup := col[h]; dup || !contains(ImportColumns, h) {
			return nil, fmt.Errorf("header: unexpected column %q (want %s)", h, strings.Join(ImportColumns, ","))
		}
		col[h] = i
	}
	for _, c := range ImportColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("header: missing column %q (want %s)", c, strings.Join(ImportColumns, ","))
		}
	}
	return col, nil
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

// importBatch is one batch: its valid contacts, their search rows, and the organizations it creates
// (the first batch naming an organization creates it). On PostgreSQL the rows are kept only as COPY
// data; elsewhere as models.
type importBatch struct {
	n       int // contacts
	newOrgs []*model.Organization
	// PostgreSQL
	pg                    bool
	contactRows, tokenRow copyData
	// other dialects
	contacts []*model.Contact
	tokens   []SearchToken
}

func newImportBatch(pg bool) *importBatch {
	return &importBatch{pg: pg}
}

func (b *importBatch) add(rec []string, col map[string]int, orgs map[string]string, now time.Time) error {
	phone := rec[col["phone"]]
	c, err := newContact(CreateContactInput{FirstName: rec[col["first_name"]], LastName: rec[col["last_name"]],
		Email: rec[col["email"]], Phone: &phone})
	if err != nil {
		return err
	}
	if name := strings.TrimSpace(rec[col["organization"]]); name != "" {
		id, ok := orgs[name]
		if !ok {
			if name, err = apperr.Text("name", name, 1, 200); err != nil {
				return err
			}
			o := &model.Organization{ID: model.NewID(), Name: name, SearchText: store.SearchText(name), CreatedAt: now, UpdatedAt: now}
			b.newOrgs = append(b.newOrgs, o)
			orgs[name], id = o.ID, o.ID
		}
		c.OrganizationID = &id
	}
	c.CreatedAt, c.UpdatedAt = now, now
	b.n++
	if b.pg {
		b.contactRows.contact(c)
		rows := SearchRows(c)
		for i := range rows {
			b.tokenRow.token(&rows[i])
		}
		return nil
	}
	b.contacts = append(b.contacts, c)
	b.tokens = append(b.tokens, SearchRows(c)...)
	return nil
}

func (b *importBatch) reset() {
	clear(b.contacts)
	b.n, b.contacts, b.tokens, b.newOrgs = 0, b.contacts[:0], b.tokens[:0], nil
	b.contactRows.reset()
	b.tokenRow.reset()
}

// importWriter stores batches: COPY on PostgreSQL, multi-row INSERTs elsewhere. write is called for
// every batch in order, then finish once (after the last batch) or abort (after a failure).
type importWriter struct {
	pg    bool // batches carry COPY data
	bulk  bool // one transaction for the whole file
	write func(ctx context.Context, b *importBatch) error
	// finish ends the import after the last batch (bulk mode: rebuild the indexes, commit).
	finish func(ctx context.Context) error
	// abort releases everything after a failure (bulk mode: rolls back).
	abort func()
}

func (s *Service) importWriter(ctx context.Context, opts ImportOptions) (*importWriter, error) {
	if store.Dialect(s.db) == store.Postgres {
		return s.pgImportWriter(ctx, opts)
	}
	return &importWriter{abort: func() {}, finish: func(context.Context) error { return nil },
		write: func(ctx context.Context, b *importBatch) error {
			return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
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
		}}, nil
}
