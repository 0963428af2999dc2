package graph_test

import (
	"context"
	"fmt"
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/store"

	"gorm.io/gorm"
)

// TestMeWithContactWithoutOrganization: a user whose directory contact belongs to no organization
// reads `me` (a NULL organization_id once made every request of such a user fail on PostgreSQL).
func TestMeWithContactWithoutOrganization(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		c := env.CreateContact("Nora", "Noorg", nil)
		env.CreateUser("nora", []string{"customer"}, &c.ID)
		token := env.Login("nora", apptest.DefaultPassword)
		var out struct {
			Me struct {
				Login   string
				Contact struct {
					FullName     string
					Organization *struct{ ID string }
				}
			}
		}
		env.MustDo(token, `{ me { login contact { fullName organization { id } } } }`, nil, &out)
		if out.Me.Login != "nora" || out.Me.Contact.FullName != "Nora Noorg" || out.Me.Contact.Organization != nil {
			t.Fatalf("me = %+v", out.Me)
		}
	})
}

// listRows is how many rows of each kind the N+1 test seeds; pages of 10 and of listRows must cost
// the same number of statements.
const listRows = 60

// TestListsCostConstantStatements: a list page costs the same number of SQL statements whatever its
// size, because every edge a list reaches loads through a batching loader (graph/loaders). The
// numbers are logged; beyond authenticating the token, each list costs on both dialects:
// contacts{organization accounts} 3 (page, organizations, accounts), users{contact{organization}} 3
// (page, contacts, organizations), orders{payments items{product}} 4 (page, lines, payments,
// products) and myOnBehalfActivity{actor subject} 2 (page, users).
func TestListsCostConstantStatements(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		admin, adminToken := env.UserWithToken("admin", "administrator")
		customer, customerToken := env.UserWithToken("carla", "customer")
		seedLists(t, env, admin, customer)
		counter, err := store.CountStatements(env.DB)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, token, query string
			max                int64
		}{
			{"contacts", adminToken, `query($n:Int){ contacts(first:$n){ edges{ node{ id organization{ name } accounts{ login } } } } }`, 3},
			{"users", adminToken, `query($n:Int){ users(first:$n){ edges{ node{ login contact{ fullName organization{ name } } } } } }`, 3},
			{"orders", customerToken, `query($n:Int){ orders(first:$n){ edges{ node{ number payments{ status } items{ sku product{ name } } } } } }`, 4},
			{"myOnBehalfActivity", customerToken, `query($n:Int){ myOnBehalfActivity(first:$n){ edges{ node{ action actor{ login } subject{ login } } } } }`, 2},
		}
		for _, c := range cases {
			// What authenticating the token costs is not the list's: measure it alone.
			before := counter.Total()
			env.MustDo(c.token, `{ __typename }`, nil, nil)
			auth := counter.Total() - before
			costs := map[int]int64{}
			for _, n := range []int{10, listRows} {
				before := counter.Total()
				var out map[string]struct{ Edges []map[string]any }
				env.MustDo(c.token, c.query, map[string]any{"n": n}, &out)
				costs[n] = counter.Total() - before - auth
				if got := len(out[c.name].Edges); got != n {
					t.Fatalf("%s(first:%d) returned %d rows", c.name, n, got)
				}
			}
			t.Logf("%s: %d statements for 10 rows, %d for %d rows (plus %d to authenticate)", c.name, costs[10], costs[listRows], listRows, auth)
			if costs[10] != costs[listRows] || costs[listRows] > c.max {
				t.Errorf("%s: %d statements for 10 rows, %d for %d rows; want the same, at most %d",
					c.name, costs[10], costs[listRows], listRows, c.max)
			}
		}
	})
}

// seedLists writes listRows contacts (in 3 organizations, every third without one) with an account each
// (every fifth account without its contact), orders of the customer (2 lines, 1 payment each) and on-behalf audit events about them.
func seedLists(t *testing.T, env *apptest.Env, admin, customer *model.User) {
	t.Helper()
	db := env.DB
	orgs := []*model.Organization{env.CreateOrganization("Acme"), env.CreateOrganization("Globex"), env.CreateOrganization("Initech")}
	var users []*model.User
	for i := range listRows {
		var org *string
		if i%3 != 0 {
			org = &orgs[i%3].ID
		}
		c := env.CreateContact("First", fmt.Sprintf("Last%03d", i), org)
		contact := &c.ID
		if i%5 == 0 {
			contact = nil // an account without a contact, and a contact without an account
		}
		users = append(users, &model.User{ID: model.NewID(), Login: fmt.Sprintf("member%03d", i),
			Email: fmt.Sprintf("member%03d@example.com", i), PasswordHash: "x", Roles: model.StringList{"customer"},
			ContactID: contact, CreatedAt: apptest.Start, UpdatedAt: apptest.Start})
	}
	if err := db.Create(users).Error; err != nil {
		t.Fatal(err)
	}
	ctx := store.WithStamp(context.Background(), store.Stamp{Login: admin.Login, OperatorID: &admin.ID, SubjectID: customer.ID})
	products := []*model.Product{
		{ID: model.NewID(), SKU: "N1-A", Name: "Bolt", PriceMinor: 100, Currency: "EUR", Stock: 10, CreatedAt: apptest.Start, UpdatedAt: apptest.Start},
		{ID: model.NewID(), SKU: "N1-B", Name: "Nut", PriceMinor: 50, Currency: "EUR", Stock: 10, CreatedAt: apptest.Start, UpdatedAt: apptest.Start},
	}
	if err := db.WithContext(ctx).Create(products).Error; err != nil {
		t.Fatal(err)
	}
	for i := range listRows {
		o := &model.Order{ID: model.NewID(), Number: fmt.Sprintf("SO-%d", i), CustomerID: customer.ID, Status: model.OrderPaid,
			TotalMinor: 150, Currency: "EUR", CreatedAt: apptest.Start, UpdatedAt: apptest.Start}
		items := []*model.OrderItem{}
		for _, p := range products {
			items = append(items, &model.OrderItem{ID: model.NewID(), OrderID: o.ID, ProductID: p.ID, SKU: p.SKU, Name: p.Name,
				Quantity: 1, UnitPriceMinor: p.PriceMinor, Currency: "EUR", CreatedAt: apptest.Start})
		}
		pay := &model.Payment{ID: model.NewID(), OrderID: o.ID, CustomerID: customer.ID, Method: "INVOICE", Status: "SUCCEEDED",
			AmountMinor: 150, Currency: "EUR", CreatedAt: apptest.Start, UpdatedAt: apptest.Start}
		for _, row := range []any{o, items, pay} {
			if err := db.WithContext(ctx).Create(row).Error; err != nil {
				t.Fatal(err)
			}
		}
		ev := &model.AuditEvent{Action: "cart.add", ActorID: &admin.ID, ActorLogin: admin.Login,
			SubjectID: &customer.ID, SubjectLogin: customer.Login, OnBehalf: true}
		if err := env.App.Audit.Record(context.Background(), ev); err != nil {
			t.Fatal(err)
		}
	}
}
