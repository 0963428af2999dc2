package directory_test

import (
	"context"
	"fmt"
	"testing"

	"behalf/apperr"
	"behalf/directory"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

func staffCtx(env *apptest.Env, perms ...string) context.Context {
	u := env.CreateUser(fmt.Sprintf("staff%d", len(env.AuditEvents())+int(env.Clock.Now().UnixNano()%1000)), []string{security.RoleAdministrator}, nil)
	return security.WithIdentity(context.Background(), security.NewIdentity(u, ""))
}

func ptr[T any](v T) *T { return &v }

func names(c *model.ContactConnection) []string {
	var out []string
	for _, e := range c.Edges {
		out = append(out, e.Node.FullName())
	}
	return out
}

func TestContactSearch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		org, err := dir.CreateOrganization(ctx, "Initech")
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ f, l, e string }{
			{"Peter", "Gibbons", "peter.gibbons@initech.example"},
			{"Michael", "Bolton", "mbolton@initech.example"},
			{"Samir", "Nagheenanajar", "samir@initech.example"},
			{"Joanna", "Peterson-Smith", "jo@chotchkies.example"},
			{"Zoë", "Ångström", "zoe@nordic.example"},
		} {
			if _, err := dir.CreateContact(ctx, directory.CreateContactInput{FirstName: c.f, LastName: c.l, Email: c.e, OrganizationID: &org.ID}); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			search string
			want   int
		}{
			{"peter", 2},                 // first name, and a word of "Peterson-Smith"
			{"PETER", 2},                 // case-insensitive
			{"gib", 1},                   // prefix of a last name
			{"peter gib", 1},             // every word must match
			{"Peter Gibbons", 1},         // full name
			{"mbolton@initech", 1},       // email
			{"initech", 3},               // email domain word
			{"smith", 1},                 // second part of a hyphenated name
			{"p", 2},                     // one character
			{"ångström", 1},              // non-ASCII
			{"nobody", 0},                // no match
			{"ibbons", 0},                // infix is not a word prefix
			{"%", 0},                     // no words at all
			{"' OR 1=1 --", 0},           // injection attempt is just words
			{"", 5},                      // empty search: everything
			{"   ", 5},                   // blank search: everything
			{"a b c d e f g h i j k", 0}, // many words are capped, still all must match
		} {
			conn, err := dir.Contacts(ctx, ptr(tc.search), nil, store.PageArgs{})
			if err != nil {
				t.Fatalf("search %q: %v", tc.search, err)
			}
			total, err := conn.TotalCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(conn.Edges) != tc.want || total != tc.want {
				t.Errorf("search %q: %d edges, total %d (%v), want %d", tc.search, len(conn.Edges), total, names(conn), tc.want)
			}
		}
		// organizationId filter.
		other, _ := dir.CreateOrganization(ctx, "Chotchkie's")
		conn, _ := dir.Contacts(ctx, nil, &other.ID, store.PageArgs{})
		if len(conn.Edges) != 0 {
			t.Errorf("organization filter: %v", names(conn))
		}
		orgs, _ := dir.Organizations(ctx, ptr("chotch"), store.PageArgs{})
		if len(orgs.Edges) != 1 || orgs.Edges[0].Node.Name != "Chotchkie's" {
			t.Errorf("organization search: %+v", orgs.Edges)
		}
	})
}

func TestPaginationEdges(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		const total = 105
		for i := 0; i < total; i++ {
			if _, err := dir.CreateContact(ctx, directory.CreateContactInput{FirstName: fmt.Sprintf("Person%03d", i), LastName: "Paged", Email: fmt.Sprintf("p%d@example.com", i)}); err != nil {
				t.Fatal(err)
			}
		}
		page := func(first *int, after *string) *model.ContactConnection {
			t.Helper()
			c, err := dir.Contacts(ctx, nil, nil, store.PageArgs{First: first, After: after})
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		if c := page(nil, nil); len(c.Edges) != 20 || !c.PageInfo.HasNextPage {
			t.Errorf("default page: %d edges, hasNext %v", len(c.Edges), c.PageInfo.HasNextPage)
		}
		if c := page(ptr(1000), nil); len(c.Edges) != 100 || !c.PageInfo.HasNextPage {
			t.Errorf("first capped at 100: %d", len(c.Edges))
		}
		if c := page(ptr(0), nil); len(c.Edges) != 0 || c.PageInfo.EndCursor != nil {
			t.Errorf("first 0: %d edges", len(c.Edges))
		}
		if n, _ := page(ptr(0), nil).TotalCount(ctx); n != total {
			t.Errorf("totalCount %d", n)
		}
		// Walk every page of 25: each contact exactly once, in creation order, last page has no next.
		seen := map[string]bool{}
		var after *string
		pages := 0
		for {
			c := page(ptr(25), after)
			pages++
			for _, e := range c.Edges {
				if seen[e.Node.ID] {
					t.Fatalf("contact %s twice", e.Node.ID)
				}
				seen[e.Node.ID] = true
			}
			if !c.PageInfo.HasNextPage {
				if len(c.Edges) != 5 {
					t.Errorf("last page has %d edges", len(c.Edges))
				}
				after = c.PageInfo.EndCursor
				break
			}
			after = c.PageInfo.EndCursor
		}
		if len(seen) != total || pages != 5 {
			t.Errorf("walked %d contacts in %d pages", len(seen), pages)
		}
		// After the last cursor: empty, no next page.
		if c := page(nil, after); len(c.Edges) != 0 || c.PageInfo.HasNextPage {
			t.Errorf("after the end: %d edges", len(c.Edges))
		}
		// Exactly-full page: 105 = 100 + 5; first:105 capped → hasNext true; a page ending at the last row has no next.
		c := page(ptr(100), nil)
		if c2 := page(ptr(5), c.PageInfo.EndCursor); len(c2.Edges) != 5 || c2.PageInfo.HasNextPage {
			t.Errorf("boundary page: %d edges, hasNext %v", len(c2.Edges), c2.PageInfo.HasNextPage)
		}
		if _, err := dir.Contacts(ctx, nil, nil, store.PageArgs{After: ptr("garbage")}); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("bad cursor: %v", err)
		}
	})
}

// TestOrganizationMaintainerScope: a maintainer reads only their own organization's members.
func TestOrganizationMaintainerScope(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		a, b := env.CreateOrganization("Alpha"), env.CreateOrganization("Beta")
		ca := env.CreateContact("Mia", "Maintainer", &a.ID)
		env.CreateContact("Al", "Member", &a.ID)
		cb := env.CreateContact("Bea", "Outsider", &b.ID)
		env.CreateUser("mia", []string{security.RoleOrganizationMaintain}, &ca.ID)
		tok := env.Login("mia", apptest.DefaultPassword)
		var res struct {
			Contacts      struct{ TotalCount int }
			Organizations struct{ TotalCount int }
			Other         *struct{ ID string }
			OtherOrg      *struct{ ID string }
		}
		env.MustDo(tok, `query($c:ID!,$o:ID!){ contacts { totalCount } organizations { totalCount } other: contact(id:$c) { id } otherOrg: organization(id:$o) { id } }`,
			map[string]any{"c": cb.ID, "o": b.ID}, &res)
		if res.Contacts.TotalCount != 2 || res.Organizations.TotalCount != 1 || res.Other != nil || res.OtherOrg != nil {
			t.Fatalf("maintainer sees %+v", res)
		}
		// A search stays within the maintainer's organization, also when it names another one.
		var found struct {
			Mine, Named struct{ TotalCount int }
		}
		env.MustDo(tok, `query($o:ID!){ mine: contacts(search:"bea outsider") { totalCount } named: contacts(search:"bea", organizationId:$o) { totalCount } }`,
			map[string]any{"o": b.ID}, &found)
		if found.Mine.TotalCount != 0 || found.Named.TotalCount != 0 {
			t.Fatalf("maintainer found another organization's contact: %+v", found)
		}
		if r := env.Do(tok, `mutation { createOrganization(input:{name:"X"}) { id } }`, nil); r.Code() != "FORBIDDEN" {
			t.Fatalf("maintainer created an organization: %s", r.Raw)
		}
		if r := env.Do(tok, `{ users { totalCount } }`, nil); r.Code() != "FORBIDDEN" {
			t.Fatalf("maintainer listed users: %s", r.Raw)
		}
	})
}
