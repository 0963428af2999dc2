package commerce

import (
	"fmt"
	"os"
	"testing"

	"behalf/internal/dbtest"
	"behalf/security"
	"behalf/store"
)

// benchDialects runs on SQLite, and on PostgreSQL too when BEHALF_TEST_POSTGRES_URL is set.
func benchDialects(b *testing.B, fn func(b *testing.B, f *fixture)) {
	dialects := []string{store.SQLite}
	if os.Getenv(dbtest.EnvPostgresURL) != "" {
		dialects = append(dialects, store.Postgres)
	}
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) { fn(b, newFixture(b, dbtest.Open(b, d))) })
	}
}

// BenchmarkAddToCart measures one addToCart (lock the cart, upsert the line, bump the version, reload)
// on a cart that already holds 20 lines.
func BenchmarkAddToCart(b *testing.B) {
	benchDialects(b, func(b *testing.B, f *fixture) {
		ctx := f.as(f.user("carla", security.RoleCustomer))
		for i := range 20 {
			f.product(fmt.Sprintf("P-%02d", i), "1.50", 1000)
			must(f.svc.AddToCart(ctx, fmt.Sprintf("P-%02d", i), 1))
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if _, err := f.svc.AddToCart(ctx, fmt.Sprintf("P-%02d", i%20), 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkProductsSearch measures a two-word catalog search over 2000 products (first page).
func BenchmarkProductsSearch(b *testing.B) {
	benchDialects(b, func(b *testing.B, f *fixture) {
		words := []string{"nitrile", "gloves", "bolt", "tape", "pipette", "beaker", "drill", "cable"}
		rows := make([]CreateProductInput, 0, 2000)
		for i := range 2000 {
			rows = append(rows, CreateProductInput{
				SKU: fmt.Sprintf("SKU-%05d", i), Name: words[i%8] + " " + words[(i/8)%8] + fmt.Sprintf(" size %d", i%13),
				Description: "bench item", Price: "1", Currency: "EUR",
			})
		}
		for _, in := range rows {
			p, err := newProduct(in)
			if err != nil {
				b.Fatal(err)
			}
			if err := f.db.Create(p).Error; err != nil {
				b.Fatal(err)
			}
		}
		if store.Dialect(f.db) == store.Postgres {
			dbtest.Must(b, f.db.Exec("ANALYZE products"))
		}
		ctx := f.as(f.user("carla", security.RoleCustomer))
		search := "glov nitr"
		first := 20
		b.ResetTimer()
		for b.Loop() {
			conn, err := f.svc.Products(ctx, &search, store.PageArgs{First: &first})
			if err != nil || len(conn.Edges) == 0 {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPlaceOrder measures placing a 5-line order (reservations, number, lines, emptying the cart).
func BenchmarkPlaceOrder(b *testing.B) {
	benchDialects(b, func(b *testing.B, f *fixture) {
		ctx := f.as(f.user("carla", security.RoleCustomer))
		for i := range 5 {
			f.product(fmt.Sprintf("P-%d", i), "2.00", MaxStock)
		}
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			b.StopTimer()
			for j := range 5 {
				must(f.svc.AddToCart(ctx, fmt.Sprintf("P-%d", j), 1))
			}
			b.StartTimer()
			if _, err := f.svc.PlaceOrder(ctx, fmt.Sprintf("k-%d", i)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
