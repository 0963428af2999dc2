package onbehalf_test

import (
	"fmt"
	"testing"
	"time"

	"behalf/internal/dbtest"
	"behalf/store"
)

// BenchmarkOrderFlow measures the order flow (addToCart, placeOrder, payOrder by invoice) through the
// whole handler, in the customer's own session and in a login-on-behalf session acting for the same
// customer, on both dialects. The two run as a pair of sub-benchmarks on one server and database
// (ns/op, allocs/op and the statements per flow of each), then interleaved in one loop, which reports
// each one's time per flow and what on behalf costs over own in percent (one op is four flows).
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
			// Both in one loop, alternating own, on behalf, on behalf, own (ABBA), so load and the
			// database's growth weigh on both alike: the ratio is the figure to read on a busy machine.
			b.Run("interleaved", func(b *testing.B) {
				var own, ob time.Duration
				n := 0
				for i := 0; b.Loop(); i++ {
					for j, tok := range []string{w.own, w.onBehalf, w.onBehalf, w.own} {
						seq++
						t0 := time.Now()
						if _, err := w.flow(tok, fmt.Sprintf("bench-i-%d", seq)); err != nil {
							b.Fatal(err)
						}
						if j == 0 || j == 3 {
							own += time.Since(t0)
						} else {
							ob += time.Since(t0)
						}
					}
					n += 2
				}
				b.ReportMetric(float64(own.Nanoseconds())/float64(n), "own-ns/flow")
				b.ReportMetric(float64(ob.Nanoseconds())/float64(n), "onbehalf-ns/flow")
				b.ReportMetric(100*(float64(ob)/float64(own)-1), "onbehalf-%")
			})
		})
	}
}
