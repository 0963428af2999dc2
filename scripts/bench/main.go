// Command bench is the measuring half of scripts/bench.sh. It has two modes:
//
//	bench raw   -addr 127.0.0.1:PORT -db postgres://…       a raw net/http + pgx server answering the
//	                                                         same JSON as behalf for each scenario
//	bench drive -behalf http://127.0.0.1:P1 -raw http://127.0.0.1:P2 [flags]
//	                                                         runs every scenario against both and prints
//	                                                         one line per scenario with its ratio to raw
//
// Loopback only; every loop is bounded by a duration and a request cap.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"behalf/directory"
	"behalf/store"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench raw|drive [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "raw":
		err = raw(os.Args[2:])
	case "drive":
		err = drive(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("%s is not a loopback address", raw)
	}
	return nil
}

// ---- the raw baseline server ----

// raw serves, on /graphql, the same JSON behalf answers for each scenario's query, doing the same SQL
// by hand with pgx: the operation is chosen by the request's "operationName".
func raw(args []string) error {
	fs := flag.NewFlagSet("raw", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	dsn := fs.String("db", "", "PostgreSQL DSN")
	conns := fs.Int("conns", 20, "pool size (behalf's default)")
	_ = fs.Parse(args)
	if err := loopback("http://" + *addr); err != nil {
		return err
	}
	cfg, err := pgxpool.ParseConfig(*dsn)
	if err != nil {
		return err
	}
	cfg.MaxConns = int32(*conns)
	// The same session settings as behalf's pool (store.Open): custom plans for every statement, so
	// both servers make PostgreSQL do the same work for the same SQL and the ratio measures behalf's
	// own overhead. (behalf needs custom plans for its tsvector searches of users, organizations and
	// products; with a cached generic plan the raw server would skip planning the contact search.)
	if _, ok := cfg.ConnConfig.RuntimeParams["plan_cache_mode"]; !ok {
		cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			OperationName string         `json:"operationName"`
			Variables     map[string]any `json:"variables"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		data, err := rawOp(r.Context(), pool, req.OperationName, req.Variables, r.Header.Get("Authorization"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"data": data})
	})
	srv := &http.Server{Addr: *addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	return srv.ListenAndServe()
}

func rawOp(ctx context.Context, pool *pgxpool.Pool, op string, vars map[string]any, auth string) (any, error) {
	switch op {
	case "typename":
		return map[string]any{"__typename": "Query"}, nil
	case "me":
		sum := sha256.Sum256([]byte(strings.TrimPrefix(auth, "Bearer ")))
		var uid string
		if err := pool.QueryRow(ctx, "SELECT user_id FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL", sum[:]).Scan(&uid); err != nil {
			return nil, err
		}
		var id, login, email, roles string
		if err := pool.QueryRow(ctx, "SELECT id, login, email, roles FROM users WHERE id = $1", uid).Scan(&id, &login, &email, &roles); err != nil {
			return nil, err
		}
		return map[string]any{"me": map[string]any{"id": id, "login": login, "email": email, "roles": strings.Split(roles, ",")}}, nil
	case "search":
		// The same statement behalf runs for a search page (directory.SearchSQL), scanned by hand.
		term, _ := vars["term"].(string)
		// Like behalf (store.QueryGenericPlan), in one round trip with its cached generic plan.
		q, qa := directory.SearchSQL(store.Postgres, directory.SearchQuery{Words: directory.Fold(term), Limit: 21})
		var batch pgx.Batch
		batch.Queue(store.GenericPlanSQL)
		batch.Queue(q, qa...)
		br := pool.SendBatch(ctx, &batch)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
		rows, err := br.Query()
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		edges := []any{}
		for rows.Next() {
			var token, id, f, l, e, phone string
			var match bool
			var org *string
			var created time.Time
			if err := rows.Scan(&token, &match, &id, &f, &l, &e, &phone, &org, &created); err != nil {
				return nil, err
			}
			if match && len(edges) < 20 {
				edges = append(edges, map[string]any{"node": map[string]any{"id": id, "firstName": f, "lastName": l, "email": e}})
			}
		}
		return map[string]any{"contacts": map[string]any{"edges": edges}}, rows.Err()
	case "catalog":
		rows, err := pool.Query(ctx, "SELECT id, sku, name, description, price_minor, currency, stock FROM products ORDER BY id LIMIT 51")
		if err != nil {
			return nil, err
		}
		edges := []any{}
		for rows.Next() {
			var id, sku, name, desc, cur string
			var minor int64
			var stock int
			if err := rows.Scan(&id, &sku, &name, &desc, &minor, &cur, &stock); err != nil {
				return nil, err
			}
			if len(edges) < 50 {
				edges = append(edges, map[string]any{"cursor": id, "node": map[string]any{"id": id, "sku": sku, "name": name, "description": desc,
					"price": map[string]any{"amount": fmt.Sprintf("%d.%02d", minor/100, minor%100), "currency": cur}, "stock": stock}})
			}
		}
		return map[string]any{"products": map[string]any{"edges": edges}}, rows.Err()
	}
	return nil, fmt.Errorf("unknown operation %q", op)
}

// ---- the driver ----

type client struct {
	http *http.Client
	base string
}

// do posts one GraphQL operation and returns its data, failing on transport or GraphQL errors.
func (c *client) do(token, op, query string, vars map[string]any) (json.RawMessage, int, error) {
	body, _ := json.Marshal(map[string]any{"operationName": op, "query": query, "variables": vars})
	req, err := http.NewRequest(http.MethodPost, c.base+"/graphql", bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, resp.StatusCode, err
	}
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, resp.StatusCode, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	if len(out.Errors) > 0 || resp.StatusCode != 200 {
		return nil, resp.StatusCode, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return out.Data, resp.StatusCode, nil
}

type stats struct {
	n, errs int
	rate    float64
	lat     []time.Duration
	firstEr error
}

func (s stats) pct(p int) time.Duration {
	if len(s.lat) == 0 {
		return 0
	}
	return s.lat[(len(s.lat)-1)*p/100]
}

// merge combines the measurements of two runs: all latencies, and the rate over their summed time.
func (s stats) merge(o stats) stats {
	if s.n == 0 && s.errs == 0 {
		return o
	}
	var secs float64
	for _, x := range []stats{s, o} {
		if x.rate > 0 {
			secs += float64(x.n) / x.rate
		}
	}
	m := stats{n: s.n + o.n, errs: s.errs + o.errs, firstEr: firstErr(s.firstEr, o.firstEr)}
	m.lat = append(append(make([]time.Duration, 0, len(s.lat)+len(o.lat)), s.lat...), o.lat...)
	sort.Slice(m.lat, func(i, j int) bool { return m.lat[i] < m.lat[j] })
	if secs > 0 {
		m.rate = float64(m.n) / secs
	}
	return m
}

// load runs f from conc goroutines for dur (at most maxReq calls) and returns throughput and latency.
func load(conc int, dur time.Duration, maxReq int64, f func(worker int) error) stats {
	var n atomic.Int64
	var mu sync.Mutex
	var st stats
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			errs := 0
			var first error
			for time.Now().Before(deadline) && n.Add(1) <= maxReq {
				t0 := time.Now()
				if err := f(w); err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			st.lat = append(st.lat, lat...)
			st.errs += errs
			if st.firstEr == nil {
				st.firstEr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	st.n = len(st.lat)
	st.rate = float64(st.n) / time.Since(start).Seconds()
	sort.Slice(st.lat, func(i, j int) bool { return st.lat[i] < st.lat[j] })
	return st
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

func line(name string, b, r stats) {
	ratio := 0.0
	if r.rate > 0 {
		ratio = b.rate / r.rate
	}
	errs := ""
	if b.errs+r.errs > 0 {
		errs = fmt.Sprintf("  errors %d/%d (%v)", b.errs, r.errs, firstErr(b.firstEr, r.firstEr))
	}
	fmt.Printf("%-28s behalf %7.0f req/s p50 %8s p95 %8s | raw %7.0f req/s p95 %8s | ratio %.2f%s\n",
		name, b.rate, ms(b.pct(50)), ms(b.pct(95)), r.rate, ms(r.pct(95)), ratio, errs)
}

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func drive(args []string) error {
	fs := flag.NewFlagSet("drive", flag.ExitOnError)
	behalfURL := fs.String("behalf", "", "behalf base URL (loopback)")
	rawURL := fs.String("raw", "", "raw baseline base URL (loopback)")
	adminToken := fs.String("admin-token", "", "an administrator's session token")
	custToken := fs.String("customer-token", "", "a customer's session token")
	obToken := fs.String("onbehalf-token", "", "a login-on-behalf session token acting for that customer")
	stormLogin := fs.String("storm-login", "", "login used by the login storm")
	stormPassword := fs.String("storm-password", "", "its password")
	stormRounds := fs.Int("storm-rounds", 4, "interleaved rounds of search alone / during the login storm")
	behalfPid := fs.Int("behalf-pid", 0, "behalf's process id, to report the CPU share of hashing (0: not reported)")
	conc := fs.Int("c", 4, "clients")
	dur := fs.Duration("d", 5*time.Second, "duration per scenario (at most 60s)")
	maxReq := fs.Int64("n", 100000, "request cap per scenario")
	only := fs.String("only", "", "run only this scenario (lean: {__typename}, me and the catalog page; search; orderflow; storm)")
	pairRounds := fs.Int("rounds", 4, "alternating rounds per behalf/raw scenario (behalf, raw, raw, behalf, …)")
	_ = fs.Parse(args)
	for _, u := range []string{*behalfURL, *rawURL} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	*dur = min(*dur, time.Minute)
	tr := &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 512}
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	b, r := &client{hc, *behalfURL}, &client{hc, *rawURL}
	searchQ := `query search($term: String!) { contacts(search: $term, first: 20) { edges { node { id firstName lastName email } } } }`
	storm := func() {
		// Search alone, then while 200 clients log in in a loop (storm.go).
		term := map[string]any{"term": "schm"}
		stormScenario(b, *stormRounds, *dur, *conc, *maxReq, func() error { _, _, err := b.do(*adminToken, "search", searchQ, term); return err },
			*stormLogin, *stormPassword, *behalfPid).print(*stormRounds)
	}
	// pair measures a scenario on behalf and on raw in alternating rounds (behalf, raw, raw, behalf,
	// …), each a share of the duration: the machine's speed drifts by tens of percent over seconds
	// (other tenants of the host), and measuring one server after the other would put that drift
	// into the ratio.
	pair := func(name, op, query, token string, vars map[string]any) {
		run := func(c *client, d time.Duration) stats {
			return load(*conc, d, *maxReq, func(int) error { _, _, err := c.do(token, op, query, vars); return err })
		}
		var bs, rs stats
		each := *dur / time.Duration(*pairRounds)
		for i := range *pairRounds {
			if i%2 == 0 {
				bs = bs.merge(run(b, each))
				rs = rs.merge(run(r, each))
			} else {
				rs = rs.merge(run(r, each))
				bs = bs.merge(run(b, each))
			}
		}
		line(name, bs, rs)
	}
	searches := func() {
		for _, t := range []struct{ class, term string }{
			{"one letter", "a"}, {"common prefix", "schm"}, {"two words", "anna schm"},
			{"non-ASCII prefix", "mül"}, {"no match (typo)", "schmdt"},
		} {
			pair("search "+t.class+" \""+t.term+"\"", "search", searchQ, *adminToken, map[string]any{"term": t.term})
		}
	}
	lean := func() {
		pair("{__typename}", "typename", `query typename { __typename }`, "", nil)
		pair("me (authenticated)", "me", `query me { me { id login email roles } }`, *adminToken, nil)
	}
	catalog := func() {
		pair("catalog page 50 × 10 fields", "catalog",
			`query catalog { products(first: 50) { edges { cursor node { id sku name description price { amount currency } stock } } } }`, *custToken, nil)
	}
	switch *only {
	case "":
	case "search":
		searches()
		return nil
	case "lean":
		lean()
		catalog()
		return nil
	case "storm":
		storm()
		return nil
	case "orderflow":
		printOrderFlow(orderFlow(b, *custToken, *obToken, *dur, *maxReq/10))
		return nil
	default:
		return fmt.Errorf("-only: unknown scenario %q", *only)
	}
	lean()
	searches()
	catalog()

	// The order flow: add to cart, place, pay by invoice; own session against login on behalf.
	printOrderFlow(orderFlow(b, *custToken, *obToken, *dur, *maxReq/10))

	storm()
	return nil
}

func errNote(a, b stats) string {
	if a.errs+b.errs == 0 {
		return ""
	}
	return fmt.Sprintf("  errors %d/%d (%v)", a.errs, b.errs, firstErr(a.firstEr, b.firstEr))
}
