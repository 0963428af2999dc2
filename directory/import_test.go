package directory_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"behalf/directory"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// importFile has three batches of two valid contacts (at BatchSize 2) around a refused line; the
// third batch creates Umbrella and holds the contact the boom trigger refuses.
const importFile = `organization,first_name,last_name,email,phone
Acme,Anna,Schmidt,anna@acme.example,
Globex,Bob,Builder,bob@globex.example,
Acme,Xena,Bad,not-an-email,
Globex,Carl,Cook,carl@globex.example,+49 30 1234
Initech,Dora,Doe,dora@initech.example,
Umbrella,Erin,Early,erin@umbrella.example,
Umbrella,Boom,Bang,boom@example.com,
Umbrella,Fay,Free,fay@umbrella.example,
`

// failOnBoom makes the database refuse a contact with the e-mail boom@example.com, as a constraint
// the importer cannot check beforehand would.
func failOnBoom(t *testing.T, db *gorm.DB) {
	t.Helper()
	if store.Dialect(db) == store.Postgres {
		dbtest.Must(t, db.Exec(`CREATE FUNCTION import_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.email = 'boom@example.com' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$`))
		dbtest.Must(t, db.Exec(`CREATE TRIGGER import_boom BEFORE INSERT ON contacts FOR EACH ROW EXECUTE FUNCTION import_boom()`))
		return
	}
	dbtest.Must(t, db.Exec(`CREATE TRIGGER import_boom BEFORE INSERT ON contacts WHEN NEW.email = 'boom@example.com' BEGIN SELECT RAISE(ABORT, 'boom'); END`))
}

func importString(t *testing.T, db *gorm.DB, body string, opts directory.ImportOptions) (directory.ImportResult, []directory.LineError, error) {
	t.Helper()
	var refused []directory.LineError
	res, err := directory.New(db, clock.Real{}).ImportContactsWith(context.Background(), strings.NewReader(body), opts,
		func(e directory.LineError) { refused = append(refused, e) })
	return res, refused, err
}

func createOrg(t *testing.T, db *gorm.DB, name string) string {
	t.Helper()
	now := time.Now().UTC()
	o := &model.Organization{ID: model.NewID(), Name: name, SearchText: store.SearchText(name), CreatedAt: now, UpdatedAt: now}
	dbtest.Must(t, db.Create(o))
	return o.ID
}

func count(t *testing.T, db *gorm.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	dbtest.Must(t, db.Raw(q, args...).Scan(&n))
	return n
}

// TestImportBatchIsAtomic: in batches, a batch the database refuses leaves nothing behind — no
// contact, no search row, no organization it created — while the batches before it stay
// committed; organizations are matched by name (existing ones and those an earlier batch
// created); refused lines are reported with their numbers.
func TestImportBatchIsAtomic(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		acme := createOrg(t, db, "Acme")
		failOnBoom(t, db)
		res, refused, err := importString(t, db, importFile, directory.ImportOptions{Batches: true, BatchSize: 2})
		if err == nil || !strings.Contains(err.Error(), "after 4 contacts") || !strings.Contains(err.Error(), "boom") {
			t.Fatalf("want the third batch to fail after 4 contacts, got %v", err)
		}
		if res.Imported != 4 || res.OrganizationsCreated != 2 || res.Bulk {
			t.Errorf("result %+v, want 4 imported, 2 organizations created, not bulk", res)
		}
		if len(refused) != 1 || refused[0].Line != 4 || !strings.HasPrefix(refused[0].Message, "email: ") {
			t.Errorf("refused %+v, want line 4's email", refused)
		}
		var got []string
		dbtest.Must(t, db.Raw(`SELECT c.first_name || ' ' || coalesce(o.name, '-') FROM contacts c LEFT JOIN organizations o ON o.id = c.organization_id ORDER BY c.first_name`).Scan(&got))
		if want := []string{"Anna Acme", "Bob Globex", "Carl Globex", "Dora Initech"}; !slices.Equal(got, want) {
			t.Errorf("contacts %q, want %q", got, want)
		}
		if n := count(t, db, "SELECT count(*) FROM organizations"); n != 3 {
			t.Errorf("%d organizations, want Acme, Globex, Initech", n)
		}
		if n := count(t, db, "SELECT count(*) FROM contacts WHERE organization_id = ?", acme); n != 1 {
			t.Errorf("%d contacts in the existing Acme, want 1", n)
		}
		if n := count(t, db, "SELECT count(*) FROM contact_search_tokens t WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.id = t.contact_id)"); n != 0 {
			t.Errorf("%d search rows without their contact", n)
		}
		if n := count(t, db, "SELECT count(*) FROM contact_search_tokens WHERE token = 'cook'"); n != 1 {
			t.Errorf("%d search rows for cook, want 1", n)
		}
	})
}

// TestImportBulk: into an empty directory on PostgreSQL the whole file is one transaction, so a
// failure imports nothing and leaves every index and constraint in place; a successful bulk import
// rebuilds them, and an import into a directory that has contacts goes in batches. (SQLite has no
// bulk mode: the same file goes in batches.)
func TestImportBulk(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		createOrg(t, db, "Acme")
		failOnBoom(t, db)
		pg := store.Dialect(db) == store.Postgres
		res, _, err := importString(t, db, importFile, directory.ImportOptions{BatchSize: 2})
		if !pg {
			if err == nil || res.Bulk || res.Imported != 4 {
				t.Fatalf("SQLite: want batches, 4 imported, then the error; got %+v %v", res, err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), "nothing was imported") || res.Imported != 0 || !res.Bulk {
			t.Fatalf("want a failed bulk import that imported nothing, got %+v %v", res, err)
		}
		if n := count(t, db, "SELECT count(*) FROM contacts") + count(t, db, "SELECT count(*) FROM contact_search_tokens"); n != 0 {
			t.Errorf("%d rows left by a failed bulk import", n)
		}
		if n := count(t, db, "SELECT count(*) FROM organizations"); n != 1 {
			t.Errorf("%d organizations, want only Acme", n)
		}
		indexes := func() []string {
			var names []string
			dbtest.Must(t, db.Raw(`SELECT indexname FROM pg_indexes WHERE tablename IN ('contacts', 'contact_search_tokens')
				UNION ALL SELECT conname FROM pg_constraint WHERE conrelid IN ('contacts'::regclass, 'contact_search_tokens'::regclass)
				ORDER BY 1`).Scan(&names))
			return names
		}
		before := indexes()
		if !slices.Contains(before, "contact_search_tokens_pkey") || !slices.Contains(before, "contacts_organization_id_fkey") {
			t.Fatalf("indexes and constraints %q lack the search index's primary key or contacts' foreign key", before)
		}

		good := strings.ReplaceAll(importFile, "boom@example.com", "boom@umbrella.example")
		res, refused, err := importString(t, db, good, directory.ImportOptions{BatchSize: 2})
		if err != nil || !res.Bulk || res.Imported != 7 || res.OrganizationsCreated != 3 || len(refused) != 1 {
			t.Fatalf("bulk import: %+v %v %+v", res, err, refused)
		}
		if after := indexes(); !slices.Equal(after, before) {
			t.Errorf("indexes and constraints after a bulk import %q, want %q", after, before)
		}
		if n := count(t, db, "SELECT count(*) FROM contact_search_tokens WHERE token = 'umbrella'"); n != 3 {
			t.Errorf("%d search rows for umbrella, want 3", n)
		}
		res, _, err = importString(t, db, "organization,first_name,last_name,email,phone\nAcme,Gil,Green,gil@acme.example,\n", directory.ImportOptions{})
		if err != nil || res.Bulk || res.Imported != 1 || res.OrganizationsCreated != 0 {
			t.Fatalf("import into a directory with contacts: want batches, got %+v %v", res, err)
		}
	})
}

// TestImportRefusesMalformedLines: a line CSV cannot parse (a bare quote in its first field, a
// quote never closed) is refused with its line number, and the valid lines around it are imported.
func TestImportRefusesMalformedLines(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		body := "organization,first_name,last_name,email,phone\n" +
			"Ac\"me,Anna,Schmidt,anna@acme.example,\n" +
			"Acme,Bob,Builder,bob@acme.example,\n" +
			"\"Acme,Carl,Cook,carl@acme.example,\n"
		res, refused, err := importString(t, db, body, directory.ImportOptions{Batches: true})
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		if res.Imported != 1 || res.Refused != 2 || len(refused) != 2 || refused[0].Line != 2 || refused[1].Line != 4 {
			t.Fatalf("want Bob imported and lines 2 and 4 refused, got %+v, refused %+v", res, refused)
		}
		if n := count(t, db, "SELECT count(*) FROM contacts WHERE email = ?", "bob@acme.example"); n != 1 {
			t.Fatalf("want Bob stored once, got %d", n)
		}
	})
}
