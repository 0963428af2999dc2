package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The login storm: search p95 alone and while 200 clients log in in a loop, in interleaved rounds
// (alone, storm, alone, storm, …) so that a loaded machine's drift hits both sides alike. The storm
// clients behave like real clients: on 429 they sleep the Retry-After they were given (bounded by
// maxClientRetry and by the end of the storm), then try again.

const (
	stormClients   = 200
	maxClientRetry = 30 * time.Second
)

type stormResult struct {
	alone, storm                  []time.Duration
	aloneErrs, stormErrs          int
	logins, tooMany, other        int64
	retrySum                      time.Duration
	stormTime                     time.Duration
	cpuBehalf, cpuWorker, cpuMach float64 // seconds during the storms
}

// stormLogin posts one login and returns the HTTP status and the Retry-After it carried.
func (c *client) stormLogin(login, password string) (int, time.Duration, error) {
	body, _ := json.Marshal(map[string]any{"operationName": "login",
		"query":     `mutation login($l: String!, $p: String!) { login(login: $l, password: $p) { token } }`,
		"variables": map[string]any{"l": login, "p": password}})
	resp, err := c.http.Post(c.base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, 0, err
	}
	ra := time.Duration(0)
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		ra = time.Duration(s) * time.Second
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"token"`)) {
		return resp.StatusCode, ra, fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return resp.StatusCode, ra, nil
}

// stormScenario runs rounds × (search alone for dur, search during a storm for dur).
func stormScenario(b *client, rounds int, dur time.Duration, conc int, maxReq int64, search func() error, login, password string, behalfPid int) stormResult {
	var res stormResult
	for range rounds {
		q := load(conc, dur, maxReq, func(int) error { return search() })
		res.alone, res.aloneErrs = append(res.alone, q.lat...), res.aloneErrs+q.errs

		stop := make(chan struct{})
		var logins, tooMany, other, retryNs atomic.Int64
		var wg sync.WaitGroup
		cpu0 := readCPU(behalfPid)
		t0 := time.Now()
		for range stormClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					status, ra, err := b.stormLogin(login, password)
					switch {
					case err == nil:
						logins.Add(1)
					case status == http.StatusTooManyRequests:
						tooMany.Add(1)
						retryNs.Add(int64(ra))
						select { // as told, bounded
						case <-stop:
							return
						case <-time.After(min(max(ra, 0), maxClientRetry)):
						}
					default:
						other.Add(1)
					}
				}
			}()
		}
		s := load(conc, dur, maxReq, func(int) error { return search() })
		close(stop)
		res.stormTime += time.Since(t0)
		cpu1 := readCPU(behalfPid)
		wg.Wait()
		res.storm, res.stormErrs = append(res.storm, s.lat...), res.stormErrs+s.errs
		res.logins += logins.Load()
		res.tooMany += tooMany.Load()
		res.other += other.Load()
		res.retrySum += time.Duration(retryNs.Load())
		res.cpuBehalf += cpu1.behalf - cpu0.behalf
		res.cpuWorker += cpu1.worker - cpu0.worker
		res.cpuMach += cpu1.machine - cpu0.machine
	}
	sort.Slice(res.alone, func(i, j int) bool { return res.alone[i] < res.alone[j] })
	sort.Slice(res.storm, func(i, j int) bool { return res.storm[i] < res.storm[j] })
	return res
}

func (r stormResult) print(rounds int) {
	alone, storm := stats{lat: r.alone}, stats{lat: r.storm}
	meanRetry := 0.0
	if r.tooMany > 0 {
		meanRetry = r.retrySum.Seconds() / float64(r.tooMany)
	}
	fmt.Printf("%-28s search p95 alone %8s, during storm %8s (%+.0f%%), p50 %s / %s, searches ok %d failed %d | %d clients honouring Retry-After (≤%s): logins ok %d (%.1f/s), HTTP 429 %d (mean Retry-After %.1fs), other errors %d | %d interleaved rounds",
		"search during login storm", ms(alone.pct(95)), ms(storm.pct(95)),
		100*(float64(storm.pct(95))/max(float64(alone.pct(95)), 1)-1), ms(alone.pct(50)), ms(storm.pct(50)),
		len(r.storm), r.stormErrs+r.aloneErrs, stormClients, maxClientRetry, r.logins, float64(r.logins)/max(r.stormTime.Seconds(), 0.001),
		r.tooMany, meanRetry, r.other, rounds)
	if r.cpuMach > 0 {
		fmt.Printf(" | CPU during the storms: hash worker %.0f%%, behalf %.0f%% of the machine's busy time", 100*r.cpuWorker/r.cpuMach, 100*r.cpuBehalf/r.cpuMach)
	}
	fmt.Println()
}

type cpuTimes struct{ behalf, worker, machine float64 } // seconds

// readCPU reads the CPU time of behalf (pid), of its children (the hash worker) and of the whole
// machine (all cores) from /proc; zeros where unavailable.
func readCPU(pid int) cpuTimes {
	var c cpuTimes
	if pid <= 0 {
		return c
	}
	const hz = 100.0 // USER_HZ
	proc := func(p string) float64 {
		b, err := os.ReadFile(filepath.Join("/proc", p, "stat"))
		if err != nil {
			return 0
		}
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		ut, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
		st, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
		return (ut + st) / hz
	}
	c.behalf = proc(strconv.Itoa(pid))
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, child := range strings.Fields(string(b)) {
			c.worker += proc(child)
		}
	}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line := strings.SplitN(string(b), "\n", 2)[0]
		for i, f := range strings.Fields(line) {
			if i == 0 || i > 8 { // user … steal; not guest (already in user)
				continue
			}
			v, _ := strconv.ParseFloat(f, 64)
			if i != 4 && i != 5 { // not idle, iowait
				c.machine += v / hz
			}
		}
	}
	return c
}
