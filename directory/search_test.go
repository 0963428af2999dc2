package directory_test

import (
	"fmt"
	"reflect"
	"testing"

	"behalf/directory"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/store"

	"gorm.io/gorm"
)

func TestFold(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"Müller-Lüdenscheidt": {"muller", "ludenscheidt"},
		"Straße 5":            {"strasse", "5"},
		"ZOË Ångström":        {"zoe", "angstrom"},
		"anna.schmidt@x.de":   {"anna", "schmidt", "x", "de"},
		"Łódź Øre Æsir":       {"lodz", "ore", "aesir"},
		"%' --":               nil,
	} {
		if got := directory.Fold(in); (len(got) > 0 || len(want) > 0) && !reflect.DeepEqual(got, want) {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSearchTermClasses: every class of term the index must serve — one letter, a prefix, two words,
// a non-ASCII prefix either way round, nothing — and pages through a result without duplicates or
// gaps, ordered by the matching word.
func TestSearchTermClasses(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		acme, err := dir.CreateOrganization(ctx, "Acme")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ f, l, e string }{
			{"Anna", "Schmidt", "anna.schmidt@acme.example"},
			{"Anne", "Schmitt", "a.schmitt@acme.example"},
			{"Jürgen", "Müller", "j.mueller@acme.example"},
			{"Ann", "Annaberg", "annabel@acme.example"}, // matches "ann" by three words: listed once
			{"Bert", "Mulder", "bert@acme.example"},
		} {
			if _, err := dir.CreateContact(ctx, directory.CreateContactInput{FirstName: c.f, LastName: c.l, Email: c.e, OrganizationID: &acme.ID}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			search string
			want   []string
		}{
			// Ordered by the first matching word, then by id: "a" (an email), then "acme" (everyone else).
			{"a", []string{"Anne Schmitt", "Anna Schmidt", "Jürgen Müller", "Ann Annaberg", "Bert Mulder"}},
			{"schm", []string{"Anna Schmidt", "Anne Schmitt"}},
			{"anna schm", []string{"Anna Schmidt"}},
			{"schm anna", []string{"Anna Schmidt"}},
			{"mül", []string{"Bert Mulder", "Jürgen Müller"}}, // folded: ü is u
			{"MUL", []string{"Bert Mulder", "Jürgen Müller"}},
			{"jurg", []string{"Jürgen Müller"}},
			{"ann", []string{"Ann Annaberg", "Anna Schmidt", "Anne Schmitt"}},
			{"schmdt", nil},
			{"anna zzz", nil}, // a word matching nothing stops the search before the walk
			{"zzz", nil},
		} {
			conn, err := dir.Contacts(ctx, ptr(tc.search), nil, store.PageArgs{})
			if err != nil {
				t.Fatalf("search %q: %v", tc.search, err)
			}
			total, err := conn.TotalCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := names(conn); !reflect.DeepEqual(got, tc.want) || total != len(tc.want) {
				t.Errorf("search %q = %q (total %d), want %q", tc.search, got, total, tc.want)
			}
		}
		// Scoped to another organization: nothing.
		other, err := dir.CreateOrganization(ctx, "Other")
		if err != nil {
			t.Fatal(err)
		}
		if conn, err := dir.Contacts(ctx, ptr("schm"), &other.ID, store.PageArgs{}); err != nil || len(conn.Edges) != 0 {
			t.Errorf("search in another organization: %v %v", names(conn), err)
		}
		if conn, err := dir.Contacts(ctx, ptr("schm"), &acme.ID, store.PageArgs{}); err != nil || len(conn.Edges) != 2 {
			t.Errorf("search in the organization: %v %v", names(conn), err)
		}
		// A cursor from before the search's range (another search's) starts at the range: no contact
		// that does not match.
		if conn, err := dir.Contacts(ctx, ptr("schm"), nil, store.PageArgs{After: ptr(store.EncodeCursor("saaa\x1fz"))}); err != nil ||
			!reflect.DeepEqual(names(conn), []string{"Anna Schmidt", "Anne Schmitt"}) {
			t.Errorf("search after a cursor before the range: %q %v", names(conn), err)
		}
		// A malformed cursor is BAD_USER_INPUT, not a server error.
		if _, err := dir.Contacts(ctx, ptr("schm"), nil, store.PageArgs{After: ptr(store.EncodeCursor("x"))}); err == nil {
			t.Error("a malformed search cursor was accepted")
		}
	})
}

// TestSearchPages: pages of a search cover every match exactly once.
func TestSearchPages(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		const n = 23
		for i := range n {
			// Every contact matches "pa" by its first name and its email, some by their last name too.
			if _, err := dir.CreateContact(ctx, directory.CreateContactInput{FirstName: fmt.Sprintf("Pat%d", i%4),
				LastName: fmt.Sprintf("Pa%02d", i%7), Email: fmt.Sprintf("pat%d@example.com", i)}); err != nil {
				t.Fatal(err)
			}
		}
		seen := map[string]bool{}
		var after *string
		for pages := 0; ; pages++ {
			if pages > n {
				t.Fatal("pagination does not end")
			}
			conn, err := dir.Contacts(ctx, ptr("pa"), nil, store.PageArgs{First: ptr(5), After: after})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range conn.Edges {
				if seen[e.Node.ID] {
					t.Fatalf("%s listed twice", e.Node.Email)
				}
				seen[e.Node.ID] = true
			}
			if !conn.PageInfo.HasNextPage {
				break
			}
			after = conn.PageInfo.EndCursor
		}
		if len(seen) != n {
			t.Fatalf("%d contacts listed, want %d", len(seen), n)
		}
	})
}
