package graph_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"
)

// BenchmarkLean measures what the whole handler costs (time and allocations per request) for the
// cheapest request, a 50-row list of plain fields, and a contact search, on SQLite:
//
//	go test -run '^$' -bench Lean -benchmem ./graph/
func BenchmarkLean(b *testing.B) {
	env := apptest.New(b, dbtest.SQLite(b))
	org := env.CreateOrganization("Bench Org")
	for i := range 200 {
		env.CreateContact(fmt.Sprintf("First%d", i), fmt.Sprintf("Schmidt%d", i), &org.ID)
	}
	ctx := store.WithStamp(context.Background(), store.Stamp{Login: "bench"})
	for i := range 60 {
		p := &model.Product{ID: model.NewID(), SKU: fmt.Sprintf("SKU-%03d", i), Name: fmt.Sprintf("Product %d", i),
			Description: "A catalog item", PriceMinor: int64(100 + i), Currency: "EUR", Stock: 10}
		if err := env.DB.WithContext(ctx).Create(p).Error; err != nil {
			b.Fatal(err)
		}
	}
	_, tok := env.UserWithToken("bench.admin", security.RoleAdministrator)
	for _, c := range []struct{ name, query string }{
		{"typename", `{ __typename }`},
		{"catalog50", `{ products(first: 50) { edges { cursor node { id sku name description price { amount currency } stock } } } }`},
		{"search", `{ contacts(search: "schm", first: 20) { edges { node { id firstName lastName email } } } }`},
	} {
		body, _ := json.Marshal(map[string]any{"query": c.query})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				postJSON(b, env.App.Handler, tok, body)
			}
		})
	}
}
