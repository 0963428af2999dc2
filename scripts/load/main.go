// Command load drives a running behalf server on this machine and reports throughput and latency per
// scenario next to a raw baseline measured in the same run (GET /healthz: the HTTP stack alone), so
// the figures say what GraphQL, authentication and the database add.
//
// It only targets loopback addresses, and every run is bounded in time and request count.
//
//	go run ./scripts/load -url http://127.0.0.1:8080 -token bhs_… -c 8 -d 5s
package main

import (
	"bytes"
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
)

type scenario struct {
	name  string
	build func() (*http.Request, error)
}

type result struct {
	name    string
	n, errs int64
	lat     []time.Duration
	elapsed time.Duration
}

func main() {
	base := flag.String("url", "http://127.0.0.1:8080", "server base URL (loopback only)")
	token := flag.String("token", "", "bearer token for the authenticated scenarios")
	conc := flag.Int("c", 8, "concurrent clients")
	dur := flag.Duration("d", 5*time.Second, "duration per scenario (at most 60s)")
	maxReq := flag.Int64("n", 200000, "request cap per scenario")
	flag.Parse()
	u, err := url.Parse(*base)
	if err != nil || !loopback(u.Hostname()) {
		fmt.Fprintln(os.Stderr, "load: -url must point at this machine (127.0.0.0/8, ::1 or localhost)")
		os.Exit(2)
	}
	if *dur > time.Minute {
		*dur = time.Minute
	}
	gql := func(query string) func() (*http.Request, error) {
		body, _ := json.Marshal(map[string]any{"query": query})
		return func() (*http.Request, error) {
			r, err := http.NewRequest(http.MethodPost, *base+"/graphql", bytes.NewReader(body))
			if err != nil {
				return nil, err
			}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Authorization", "Bearer "+*token)
			return r, nil
		}
	}
	scenarios := []scenario{
		{"baseline GET /healthz", func() (*http.Request, error) { return http.NewRequest(http.MethodGet, *base+"/healthz", nil) }},
		{"graphql me", gql(`{ me { id login email roles } }`)},
		{"graphql contacts(search)", gql(`{ contacts(search: "a", first: 20) { totalCount edges { node { id fullName email organization { name } } } } }`)},
		{"graphql products(search)", gql(`{ products(search: "a", first: 20) { totalCount edges { node { sku name price { amount currency } stock } } } }`)},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *conc * 2}, Timeout: 10 * time.Second}
	var results []result
	for _, s := range scenarios {
		results = append(results, run(client, s, *conc, *dur, *maxReq))
	}
	fmt.Printf("\n%-28s %10s %9s %9s %9s %9s %7s %s\n", "scenario", "req/s", "p50", "p95", "p99", "max", "errors", "vs baseline")
	baseRate := rate(results[0])
	for _, r := range results {
		sort.Slice(r.lat, func(i, j int) bool { return r.lat[i] < r.lat[j] })
		ratio := "—"
		if rate(r) == 0 {
			ratio = "all failed"
		} else if baseRate > 0 && r.name != results[0].name {
			ratio = fmt.Sprintf("%.1f× slower", baseRate/max(rate(r), 1e-9))
		}
		fmt.Printf("%-28s %10.0f %9s %9s %9s %9s %7d %s\n", r.name, rate(r), pct(r.lat, 50), pct(r.lat, 95), pct(r.lat, 99), pct(r.lat, 100), r.errs, ratio)
	}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func rate(r result) float64 { return float64(r.n-r.errs) / r.elapsed.Seconds() }

func pct(lat []time.Duration, p int) string {
	if len(lat) == 0 {
		return "-"
	}
	i := (len(lat) - 1) * p / 100
	return lat[i].Round(10 * time.Microsecond).String()
}

func run(client *http.Client, s scenario, conc int, dur time.Duration, maxReq int64) result {
	var n, errs int64
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(dur)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) && atomic.AddInt64(&n, 1) <= maxReq {
				req, err := s.build()
				if err != nil {
					atomic.AddInt64(&errs, 1)
					continue
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					atomic.AddInt64(&errs, 1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
				if resp.StatusCode != 200 || bytes.Contains(body, []byte(`"errors"`)) {
					atomic.AddInt64(&errs, 1)
				}
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n > maxReq {
		n = maxReq
	}
	fmt.Fprintf(os.Stderr, "  %s: %d requests\n", strings.TrimSpace(s.name), n)
	return result{name: s.name, n: int64(len(lat)), errs: errs, lat: lat, elapsed: time.Since(start)}
}
