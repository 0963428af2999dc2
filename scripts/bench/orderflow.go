package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// The order flow scenario: add to cart, place the order, pay it by invoice, in the customer's own
// session and in a login-on-behalf session acting for the same customer (same cart, same product).
// One client alternates the two in the order own, on behalf, on behalf, own, … (ABBA), so what the
// flows leave behind (rows, dead tuples, a warming cache, a vacuum starting) weighs on both alike;
// run one after the other, whichever ran second paid for the first one's leftovers.

// orderFlowOnce runs one flow with token; i makes its idempotency keys unique.
func orderFlowOnce(b *client, token string, i int64) error {
	if _, _, err := b.do(token, "add", `mutation add { addToCart(sku: "SKU-00001", quantity: 1) { version } }`, nil); err != nil {
		return err
	}
	key := fmt.Sprintf("k-%d-%d-%s", time.Now().UnixNano(), i, token[len(token)-6:])
	data, _, err := b.do(token, "place", `mutation place($k: String!) { placeOrder(idempotencyKey: $k) { id } }`, map[string]any{"k": key})
	if err != nil {
		return err
	}
	var o struct{ PlaceOrder struct{ ID string } }
	if err := json.Unmarshal(data, &o); err != nil {
		return err
	}
	_, _, err = b.do(token, "pay", `mutation pay($o: ID!, $k: String!) { payOrder(orderId: $o, idempotencyKey: $k, method: INVOICE) { status } }`,
		map[string]any{"o": o.PlaceOrder.ID, "k": key + "p"})
	return err
}

// orderFlow alternates own and on-behalf flows (ABBA) for dur (at most maxFlows flows in all) and
// returns the latencies of each.
func orderFlow(b *client, ownToken, obToken string, dur time.Duration, maxFlows int64) (own, ob stats) {
	start := time.Now()
	deadline := start.Add(dur)
	run := func(st *stats, token string, i int64) {
		t0 := time.Now()
		if err := orderFlowOnce(b, token, i); err != nil {
			st.errs++
			if st.firstEr == nil {
				st.firstEr = err
			}
			return
		}
		st.lat = append(st.lat, time.Since(t0))
	}
	for i := int64(0); i+4 <= maxFlows && time.Now().Before(deadline); i += 4 {
		run(&own, ownToken, i)
		run(&ob, obToken, i+1)
		run(&ob, obToken, i+2)
		run(&own, ownToken, i+3)
	}
	secs := time.Since(start).Seconds()
	for _, st := range []*stats{&own, &ob} {
		st.n = len(st.lat)
		st.rate = float64(st.n) / secs
		sort.Slice(st.lat, func(i, j int) bool { return st.lat[i] < st.lat[j] })
	}
	return own, ob
}

// printOrderFlow prints the scenario's line: p50 and p95 of each, flows per second of the whole run,
// and what on behalf costs over own at the median.
func printOrderFlow(own, ob stats) {
	fmt.Printf("%-28s own p50 %8s p95 %8s %5.1f flows/s | on behalf p50 %8s p95 %8s %5.1f flows/s | on behalf costs %+.1f%% (p50, interleaved)%s\n",
		"order flow (add, place, pay)", ms(own.pct(50)), ms(own.pct(95)), own.rate, ms(ob.pct(50)), ms(ob.pct(95)), ob.rate,
		100*(float64(ob.pct(50))/max(float64(own.pct(50)), 1)-1), errNote(own, ob))
}
