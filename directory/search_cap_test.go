package directory_test

import (
	"fmt"
	"reflect"
	"testing"

	"behalf/directory"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// TestSearchWalkCap: a search whose words rarely meet reads at most SearchWalkCap index entries per
// page. Here every contact has the word "common" and three, sorting last, also "rare": the first
// page of "common ra" stops at the cap with no row, hasNextPage and a cursor; the pages after it go
// on from there and find the three, each once, and totalCount still counts all matches. A search
// whose page fills before the cap ("common") pages as always. Also within an organization, where
// the walk passes every other organization's contacts.
func TestSearchWalkCap(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		ctx := staffCtx(env)
		dir := env.App.Directory
		org, err := dir.CreateOrganization(ctx, "Rare Co")
		if err != nil {
			t.Fatal(err)
		}
		n := directory.SearchWalkCap + 200
		cs := make([]*model.Contact, 0, n+3)
		for i := range n {
			cs = append(cs, &model.Contact{ID: fmt.Sprintf("c%06d", i), FirstName: "Common", LastName: fmt.Sprintf("X%d", i), Email: fmt.Sprintf("x%d@e.example", i)})
		}
		for i, l := range []string{"Rare", "Rarer", "Rarest"} { // ids after every other: last in the "common" range
			cs = append(cs, &model.Contact{ID: fmt.Sprintf("z%d", i), FirstName: "Common", LastName: l, Email: fmt.Sprintf("z%d@e.example", i), OrganizationID: &org.ID})
		}
		sctx := store.WithStamp(ctx, store.Stamp{Login: "test"})
		if err := db.WithContext(sctx).CreateInBatches(cs, 500).Error; err != nil {
			t.Fatal(err)
		}
		if err := directory.IndexContacts(sctx, db, cs...); err != nil {
			t.Fatal(err)
		}

		for _, tc := range []struct {
			name   string
			search string
			org    *string
		}{{"two words", "common ra", nil}, {"one word within an organization", "common", &org.ID}} {
			first, err := dir.Contacts(ctx, ptr(tc.search), tc.org, store.PageArgs{First: ptr(20)})
			if err != nil {
				t.Fatal(err)
			}
			if len(first.Edges) != 0 || !first.PageInfo.HasNextPage || first.PageInfo.EndCursor == nil {
				t.Fatalf("%s: first page %q, hasNextPage %v: want no rows, a next page and a cursor (the walk's cap)",
					tc.name, names(first), first.PageInfo.HasNextPage)
			}
			var got []string
			after := first.PageInfo.EndCursor
			for pages := 0; after != nil; pages++ {
				if pages > 3 {
					t.Fatalf("%s: pagination does not end", tc.name)
				}
				conn, err := dir.Contacts(ctx, ptr(tc.search), tc.org, store.PageArgs{First: ptr(20), After: after})
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, names(conn)...)
				after = nil
				if conn.PageInfo.HasNextPage {
					after = conn.PageInfo.EndCursor
				}
			}
			if want := []string{"Common Rare", "Common Rarer", "Common Rarest"}; !reflect.DeepEqual(got, want) {
				t.Errorf("%s: pages after the cap found %q, want %q", tc.name, got, want)
			}
			if total, err := first.TotalCount(ctx); err != nil || total != 3 {
				t.Errorf("%s: totalCount %d, %v: want 3", tc.name, total, err)
			}
		}

		// A page that fills before the cap: 20 rows and a next page at its last row.
		conn, err := dir.Contacts(ctx, ptr("common"), nil, store.PageArgs{First: ptr(20)})
		if err != nil {
			t.Fatal(err)
		}
		if len(conn.Edges) != 20 || !conn.PageInfo.HasNextPage || *conn.PageInfo.EndCursor != conn.Edges[19].Cursor {
			t.Errorf("common: %d rows, hasNextPage %v", len(conn.Edges), conn.PageInfo.HasNextPage)
		}
	})
}
