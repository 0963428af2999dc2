package onbehalf_test

import (
	"fmt"
	"testing"

	"behalf/internal/dbtest"
	"behalf/store"
)

// BenchmarkOrderFlow measures the order flow (addToCart, placeOrder, payOrder by invoice) through the
// whole handler, in the customer's own session and in a login-on-behalf session acting for the same
// customer, on both dialects. The two run as a pair of sub-benchmarks on one server and database, so
// `-count N` interleaves them; besides ns/op and allocs/op it reports the statements per flow.
//
//	bash scripts/test.sh -run '^$' -bench OrderFlow -benchmem -count 6 ./onbehalf/
func BenchmarkOrderFlow(b *testing.B) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		b.Run(dialect, func(b *testing.B) {
			w := newFlowWorld(b, dbtest.Open(b, dialect))
			seq := 0
			for _, c := range []struct{ name, token string }{{"own", w.own}, {"onbehalf", w.onBehalf}} {
				b.Run(c.name, func(b *testing.B) {
					b.ReportAllocs()
					var stmts int64
					for b.Loop() {
						seq++
						st, err := w.flow(c.token, fmt.Sprintf("bench-%s-%d", c.name, seq))
						if err != nil {
							b.Fatal(err)
						}
						stmts += st.Add + st.Place + st.Pay
					}
					b.ReportMetric(float64(stmts)/float64(b.N), "stmts/op")
				})
			}
		})
	}
}
