package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"
)

// TestImportContacts: `behalf import contacts` imports the valid lines, reports every refused line
// with its number and exits 1, matches organizations by name or creates them, and makes the
// contacts searchable (folded words).
func TestImportContacts(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			dsn := dbtest.FreshDSN(t, dialect)
			dir := t.TempDir()
			write := func(name, body string) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			first := write("first.csv", "organization,first_name,last_name,email,phone\nAcme,Jürgen,Müller,j.mueller@acme.example,+49 30 1234\n")
			if code, out, errs := runCLI(t, "", nil, "import", "contacts", "--db", dsn, "--file", first); code != 0 ||
				!strings.Contains(out, "imported 1 contacts (1 organizations created), refused 0 lines") {
				t.Fatalf("first import: %d %q %q", code, out, errs)
			}
			// Columns in another order; Acme is matched, Globex created once.
			second := write("second.csv", strings.Join([]string{
				"email,first_name,last_name,organization,phone",
				"anna@acme.example,Anna,Schmidt,Acme,",
				"bob@globex.example,Bob,Builder,Globex,555 1234",
				"carl@globex.example,Carl,Cook,Globex,",
				"not-an-email,Dora,Doe,Acme,",
				"erin@example.com,,Empty,Acme,",
				"too,few,fields",
				"fay@example.com,Fay,Free,,",
				"gil@example.com,Gil,Phone,Acme,call me",
			}, "\n")+"\n")
			code, out, errs := runCLI(t, "", nil, "import", "contacts", "--db", dsn, "--file", second)
			if code != 1 || !strings.Contains(out, "imported 4 contacts (1 organizations created), refused 4 lines") {
				t.Fatalf("second import: %d %q %q", code, out, errs)
			}
			for _, want := range []string{"line 5: email: ", "line 6: first_name: ", "line 7: 3 fields, want 5", "line 9: phone: "} {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			// A file without the required header imports nothing.
			bad := write("bad.csv", "name,email\nX,x@example.com\n")
			if code, _, errs := runCLI(t, "", nil, "import", "contacts", "--db", dsn, "--file", bad); code != 1 || !strings.Contains(errs, "header") {
				t.Fatalf("bad header: %d %q", code, errs)
			}

			db, err := store.Open(dsn, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sqlDB, _ := db.DB(); sqlDB.Close() })
			var contacts, orgs, muller int64
			for q, n := range map[string]*int64{
				"SELECT count(*) FROM contacts":                                     &contacts,
				"SELECT count(*) FROM organizations":                                &orgs,
				"SELECT count(*) FROM contact_search_tokens WHERE token = 'muller'": &muller,
			} {
				if err := db.Raw(q).Scan(n).Error; err != nil {
					t.Fatal(err)
				}
			}
			if contacts != 5 || orgs != 2 || muller != 1 {
				t.Fatalf("%d contacts, %d organizations, %d muller tokens; want 5, 2, 1", contacts, orgs, muller)
			}
			var fay model.Contact
			if err := db.Select("id, organization_id, phone").Where("email = ?", "fay@example.com").Take(&fay).Error; err != nil || fay.OrganizationID != nil {
				t.Fatalf("contact without organization: %+v %v", fay, err)
			}
		})
	}
}
