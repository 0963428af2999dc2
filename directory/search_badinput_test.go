package directory_test

import (
	"strings"
	"testing"

	"behalf/apperr"
	"behalf/directory"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/store"

	"gorm.io/gorm"
)

// TestSearchBadInput: whatever a client sends as search, cursor or organization, the answer is a
// page (empty where nothing matches) or BAD_USER_INPUT, never a database error.
func TestSearchBadInput(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		acme, err := dir.CreateOrganization(ctx, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dir.CreateContact(ctx, directory.CreateContactInput{FirstName: "Anna", LastName: "Schmidt", Email: "anna@acme.example", OrganizationID: &acme.ID}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name          string
			search, after string
			org           *string
		}{
			{name: "only punctuation", search: "%' -- ;"},
			{name: "10,000 characters", search: strings.Repeat("x", 10_000)},
			{name: "many words", search: strings.Repeat("a b ", 2_000)},
			{name: "NUL in search", search: "an\x00na"},
			{name: "NUL in the cursor's word", search: "anna", after: store.EncodeCursor("sanna\x00\x1fz")},
			{name: "NUL in the cursor's id", search: "anna", after: store.EncodeCursor("sanna\x1fz\x00")},
			{name: "invalid UTF-8 in the cursor", search: "anna", after: store.EncodeCursor("sanna\xff\x1fz")},
			{name: "NUL in a list's cursor", after: store.EncodeCursor("z\x00")},
			{name: "NUL in a list's organization", org: ptr("x\x00y")},
			{name: "NUL in the organization", search: "anna", org: ptr("x\x00y")},
			{name: "invalid UTF-8 in the organization", search: "anna", org: ptr("x\xffy")},
		} {
			var after *string
			if tc.after != "" {
				after = &tc.after
			}
			conn, err := dir.Contacts(ctx, &tc.search, tc.org, store.PageArgs{After: after})
			if err != nil {
				if apperr.CodeOf(err) != apperr.CodeOf(apperr.Input("x", "x")) {
					t.Errorf("%s: want a page or BAD_USER_INPUT, got %v", tc.name, err)
				}
				continue
			}
			if _, err := conn.TotalCount(ctx); err != nil {
				t.Errorf("%s: totalCount: %v", tc.name, err)
			}
			if len(conn.Edges) != 0 {
				t.Errorf("%s: want nothing, got %q", tc.name, names(conn))
			}
		}
	})
}

// TestSearchStatementIsBounded: however many words a search has, its statement checks a bounded
// number of them (each other word costs a check per walked entry and one index descent).
func TestSearchStatementIsBounded(t *testing.T) {
	t.Parallel()
	words := directory.Fold(strings.Repeat("ab cd ", 5_000))
	for _, dialect := range []string{store.Postgres, store.SQLite} {
		stmt, args := directory.SearchSQL(dialect, directory.SearchQuery{Words: words, Limit: 21})
		if n := strings.Count(stmt, "contact_search_tokens x"); n > 7 || len(args) > 30 {
			t.Errorf("%s: a search of %d words probes %d other words with %d arguments", dialect, len(words), n, len(args))
		}
	}
}
