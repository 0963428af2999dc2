package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"behalf/internal/dbtest"
	"behalf/store"

	"gorm.io/gorm"
)

// TestThreeReplicas starts three `behalf serve` processes at the same instant on one empty PostgreSQL
// database and checks, across them: migrations and demo data happen once; every revocation done on one
// replica makes the affected credential UNAUTHENTICATED on the other two within milliseconds (the
// observed delays are logged); with a replica's listener connection terminated, a revocation elsewhere
// is refused there on the next request; and 10,000 authenticated requests in steady state cost the
// database no statement per request (pg_stat_statements).
func TestThreeReplicas(t *testing.T) {
	t.Parallel()
	dsn := dbtest.EmptyPostgresDSN(t)
	admin := dbtest.AdminPostgres(t)
	rs := startReplicas(t, dsn, 3, "--demo")
	a, b := rs[0], rs[1]
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	})

	logins, printed := demoLogins(t, rs)
	t.Run("migrate and load demo data once", func(t *testing.T) {
		var dup []int64
		if err := db.Raw("SELECT version_id FROM goose_db_version GROUP BY version_id HAVING count(*) > 1").Scan(&dup).Error; err != nil {
			t.Fatal(err)
		}
		var orgs int64
		if err := db.Table("organizations").Count(&orgs).Error; err != nil {
			t.Fatal(err)
		}
		if len(dup) > 0 || printed != 1 || orgs != 2 || logins["admin"] == "" || logins["support"] == "" {
			t.Fatalf("migrations applied twice: %v; demo data printed by %d replicas, %d organizations, logins %d", dup, printed, orgs, len(logins))
		}
	})
	var adminTok string
	{
		var out struct{ Login struct{ Token string } }
		a.mustDo(t, "", `mutation($l:String!,$p:String!){ login(login:$l, password:$p) { token } }`,
			map[string]any{"l": "admin", "p": logins["admin"]}, &out)
		adminTok = out.Login.Token
	}
	f := &fixture{t: t, rs: rs, admin: adminTok}

	var delays []time.Duration
	t.Run("revocations reach the other replicas", func(t *testing.T) {
		f.t = t
		for _, sc := range revocationScenarios {
			t.Run(sc.name, func(t *testing.T) {
				f.t = t
				p := f.party(sc.name)
				affected := p.scoped
				if sc.key {
					f.withKey(p)
					affected = p.key
				}
				for _, r := range rs { // warm every replica's cache
					if ok, err := r.alive(affected); err != nil || !ok {
						t.Fatalf("before: replica %s refuses the credential (%v)", r.name, err)
					}
				}
				on := rs[sc.on]
				sc.do(f, on, p)
				// The replica that did it refuses at once (its own subscribers heard it at commit).
				if ok, err := on.alive(affected); err != nil || ok {
					t.Fatalf("replica %s still accepts the credential it revoked (%v)", on.name, err)
				}
				for _, r := range rs {
					if r != on {
						delays = append(delays, f.untilRefused(r, affected))
					}
				}
				if sc.after != nil {
					sc.after(f, on, p)
					for _, r := range rs {
						if ok, err := r.alive(affected); err != nil || ok {
							t.Fatalf("replica %s: revived after %s (%v)", r.name, sc.name, err)
						}
					}
				}
			})
		}
	})
	f.t = t
	if len(delays) > 0 {
		slices.Sort(delays)
		p50, p99 := delays[len(delays)/2], delays[(len(delays)*99)/100]
		t.Logf("revocation reached the other replicas after p50 %v, p99 %v, max %v (%d observations)", p50, p99, delays[len(delays)-1], len(delays))
		// The requirement is 100 ms; on a loaded machine single samples may stray, the median must not.
		if p50 > 100*time.Millisecond {
			t.Errorf("median propagation delay %v exceeds 100ms", p50)
		}
	}

	t.Run("listener terminated", func(t *testing.T) {
		f.t = t
		p := f.party("listener")
		bystander := f.party("bystander").scoped
		for _, r := range rs {
			for _, tok := range []string{p.scoped, bystander} {
				if ok, err := r.alive(tok); err != nil || !ok {
					t.Fatalf("before: replica %s refuses (%v)", r.name, err)
				}
			}
		}
		// Load on B during the whole test: not one request may fail while its listener is away.
		stop := make(chan struct{})
		var served, failed atomic.Int64
		var firstErr atomic.Value
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					ok, err := b.alive(bystander)
					if err != nil || !ok {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprintf("ok=%v err=%v", ok, err))
					}
					served.Add(1)
				}
			})
		}
		lost := b.log.count("change listener lost")
		var killed []bool
		if err := admin.Raw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE ?`,
			fmt.Sprintf("%s %% %d", store.ListenerApplicationName, b.cmd.Process.Pid)).Scan(&killed).Error; err != nil || len(killed) != 1 {
			t.Fatalf("terminate B's listener: %v (%d backends)", err, len(killed))
		}
		b.log.waitFor(t, b, "change listener lost", lost+1, 30*time.Second)
		var out struct{ RevokeSession bool }
		a.mustDo(t, f.admin, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": p.scopedID}, &out)
		if ok, err := b.alive(p.scoped); err != nil || ok {
			t.Fatalf("B accepted a session revoked on A while its listener was down (%v)", err)
		}
		// B reconnects, flushes and trusts its cache again; the revocation stays effective.
		b.log.waitFor(t, b, "change listener connected", 2, 30*time.Second)
		if ok, err := b.alive(p.scoped); err != nil || ok {
			t.Fatalf("B accepts the revoked session after reconnecting (%v)", err)
		}
		close(stop)
		wg.Wait()
		if failed.Load() > 0 {
			t.Fatalf("%d of %d requests to B failed while its listener was away: %v", failed.Load(), served.Load(), firstErr.Load())
		}
		t.Logf("B served %d requests while its listener was terminated and reconnected", served.Load())
	})

	t.Run("no statement per request", func(t *testing.T) {
		f.t = t
		countSteadyState(t, f, admin, dsn)
	})
}

// fixture creates the people of a scenario through the replicas.
type fixture struct {
	t     *testing.T
	rs    []*replica
	admin string
	seq   int
}

// party is a support user acting for a customer: the operator's own session (opened on A), the
// login-on-behalf session (opened on B), and an API key of the customer.
type party struct {
	opID, opLogin, opPassword, opToken string
	custID, custLogin, custPassword    string
	scoped, scopedID                   string
	key, keyID                         string
	custToken                          string
}

const testPassword = "correct horse battery staple 9"

func (f *fixture) createUser(login, role string) string {
	f.t.Helper()
	var out struct{ CreateUser struct{ ID string } }
	f.rs[0].mustDo(f.t, f.admin, `mutation($l:String!,$e:String!,$p:String!,$r:String!){
		createUser(input:{login:$l, email:$e, password:$p, roles:[$r]}) { id } }`,
		map[string]any{"l": login, "e": login + "@replicas.example", "p": testPassword, "r": role}, &out)
	return out.CreateUser.ID
}

func (f *fixture) login(r *replica, login string) string {
	f.t.Helper()
	var out struct{ Login struct{ Token string } }
	r.mustDo(f.t, "", `mutation($l:String!,$p:String!){ login(login:$l, password:$p) { token } }`,
		map[string]any{"l": login, "p": testPassword}, &out)
	return out.Login.Token
}

func (f *fixture) party(tag string) *party {
	f.t.Helper()
	f.seq++
	slug := fmt.Sprintf("%d-%s", f.seq, strings.NewReplacer(" ", "-", "'", "").Replace(tag))
	if len(slug) > 40 {
		slug = slug[:40]
	}
	p := &party{opLogin: "op-" + slug, custLogin: "cust-" + slug, opPassword: testPassword, custPassword: testPassword}
	p.opID = f.createUser(p.opLogin, "support")
	p.custID = f.createUser(p.custLogin, "customer")
	p.opToken = f.login(f.rs[0], p.opLogin)
	var ticket struct{ LoginOnBehalf struct{ Ticket string } }
	f.rs[1].mustDo(f.t, p.opToken, `mutation($u:ID!){ loginOnBehalf(userId:$u, reason:"replica test") { ticket } }`,
		map[string]any{"u": p.custID}, &ticket)
	var confirmed struct {
		ConfirmOnBehalf struct {
			Token   string
			Session struct{ ID string }
		}
	}
	f.rs[1].mustDo(f.t, "", `mutation($t:String!,$l:String!,$p:String!){ confirmOnBehalf(ticket:$t, login:$l, password:$p) { token session { id } } }`,
		map[string]any{"t": ticket.LoginOnBehalf.Ticket, "l": p.opLogin, "p": testPassword}, &confirmed)
	p.scoped, p.scopedID = confirmed.ConfirmOnBehalf.Token, confirmed.ConfirmOnBehalf.Session.ID
	return p
}

// withKey gives the party's customer a session (on A) and an API key.
func (f *fixture) withKey(p *party) {
	f.t.Helper()
	p.custToken = f.login(f.rs[0], p.custLogin)
	var out struct {
		GenerateAPIKey struct {
			APIKey struct{ ID string } `json:"apiKey"`
			Secret string
		} `json:"generateApiKey"`
	}
	f.rs[0].mustDo(f.t, p.custToken, `mutation{ generateApiKey(name:"replicas") { apiKey { id } secret } }`, nil, &out)
	p.key, p.keyID = out.GenerateAPIKey.Secret, out.GenerateAPIKey.APIKey.ID
}

// untilRefused polls r with token until it answers UNAUTHENTICATED and returns how long that took; it
// fails the test after 10 s (a broken bus, not a slow one).
func (f *fixture) untilRefused(r *replica, token string) time.Duration {
	f.t.Helper()
	t0 := time.Now()
	for {
		ok, err := r.alive(token)
		if err != nil {
			f.t.Fatal(err)
		}
		d := time.Since(t0)
		if !ok {
			// And it stays refused.
			if ok, err := r.alive(token); err != nil || ok {
				f.t.Fatalf("replica %s accepted the credential again (%v)", r.name, err)
			}
			return d
		}
		if d > 10*time.Second {
			f.t.Fatalf("replica %s still accepts the credential %v after the revocation", r.name, d)
		}
	}
}

// revocationScenario is one way a credential dies, done on replica rs[on].
type revocationScenario struct {
	name  string
	on    int
	key   bool // the affected credential is the customer's API key, else the login-on-behalf session
	do    func(f *fixture, on *replica, p *party)
	after func(f *fixture, on *replica, p *party) // optionally, what must not revive it
}

const updateUser = `mutation($id:ID!,$l:Boolean,$r:[String!]){ updateUser(input:{id:$id, locked:$l, roles:$r}) { id } }`

var revocationScenarios = []revocationScenario{
	{name: "endOnBehalf", on: 2, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, p.scoped, `mutation{ endOnBehalf }`, nil, nil)
	}},
	{name: "operator logout", on: 0, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, p.opToken, `mutation{ logout }`, nil, nil)
	}},
	{name: "operator locked", on: 1, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, updateUser, map[string]any{"id": p.opID, "l": true}, nil)
	}, after: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, updateUser, map[string]any{"id": p.opID, "l": false}, nil)
	}},
	{name: "operator loses the permission", on: 2, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, updateUser, map[string]any{"id": p.opID, "r": []string{"customer"}}, nil)
	}, after: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, updateUser, map[string]any{"id": p.opID, "r": []string{"support"}}, nil)
	}},
	{name: "customer promoted to staff", on: 0, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, updateUser, map[string]any{"id": p.custID, "r": []string{"support"}}, nil)
	}, after: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, updateUser, map[string]any{"id": p.custID, "r": []string{"customer"}}, nil)
	}},
	{name: "customer withdraws consent", on: 0, do: func(f *fixture, on *replica, p *party) {
		tok := f.login(on, p.custLogin)
		on.mustDo(f.t, tok, `mutation{ setAllowLoginOnBehalf(allow:false) { id } }`, nil, nil)
		on.mustDo(f.t, tok, `mutation{ setAllowLoginOnBehalf(allow:true) { id } }`, nil, nil)
	}},
	{name: "revokeSession", on: 1, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, f.admin, `mutation($id:ID!){ revokeSession(id:$id) }`, map[string]any{"id": p.scopedID}, nil)
	}},
	{name: "operator changes password", on: 2, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, p.opToken, `mutation($c:String!,$n:String!){ changePassword(currentPassword:$c, newPassword:$n) }`,
			map[string]any{"c": testPassword, "n": testPassword + " changed"}, nil)
	}},
	{name: "API key revoked", on: 1, key: true, do: func(f *fixture, on *replica, p *party) {
		on.mustDo(f.t, p.custToken, `mutation($id:ID!){ revokeApiKey(id:$id) }`, map[string]any{"id": p.keyID}, nil)
	}},
}

// countSteadyState runs 10,000 authenticated requests spread over the replicas, after one warm-up
// request per token and replica, and counts with pg_stat_statements what the database ran meanwhile.
func countSteadyState(t *testing.T, f *fixture, admin *gorm.DB, dsn string) {
	var preload string
	if err := admin.Raw("SELECT current_setting('shared_preload_libraries')").Scan(&preload).Error; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(preload, "pg_stat_statements") {
		if ciMode() {
			t.Fatal("pg_stat_statements is not preloaded on the test server (scripts/pg.sh preloads it when installed)")
		}
		t.Skip("pg_stat_statements is not preloaded on the test server")
	}
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
	}()
	if err := db.Exec("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").Error; err != nil {
		t.Fatal(err)
	}
	f.createUser("steady-state", "customer")
	tokens := make([]string, 6)
	for i := range tokens {
		tokens[i] = f.login(f.rs[i%len(f.rs)], "steady-state")
	}
	for _, tok := range tokens {
		for _, r := range f.rs {
			if ok, err := r.alive(tok); err != nil || !ok {
				t.Fatalf("warm-up on %s: %v", r.name, err)
			}
		}
	}
	if err := db.Exec("SELECT pg_stat_statements_reset()").Error; err != nil {
		t.Fatal(err)
	}
	const requests = 10000
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	t0 := time.Now()
	for range 8 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= requests {
					return
				}
				ok, err := f.rs[i%int64(len(f.rs))].alive(tokens[i%int64(len(tokens))])
				if err != nil || !ok {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("ok=%v err=%v", ok, err))
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(t0)
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed: %v", failed.Load(), requests, firstErr.Load())
	}
	var stmts []struct {
		Query string
		Calls int64
	}
	if err := db.Raw(`SELECT query, calls FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) ORDER BY calls DESC`).Scan(&stmts).Error; err != nil {
		t.Fatal(err)
	}
	var total int64
	var lines []string
	for _, s := range stmts {
		total += s.Calls
		lines = append(lines, fmt.Sprintf("%6d  %.100s", s.Calls, strings.Join(strings.Fields(s.Query), " ")))
	}
	t.Logf("%d authenticated requests over %d replicas in %v: the database ran %d statements meanwhile:\n%s",
		requests, len(f.rs), elapsed.Round(time.Millisecond), total, strings.Join(lines, "\n"))
	// Heartbeats (one per replica and second), a possible last-seen flush and this query: far below one
	// statement per 100 requests.
	if total > requests/100 {
		t.Errorf("%d statements for %d requests: some request reads the database", total, requests)
	}
}

// ciMode reports whether the tests run in CI (where a missing PostgreSQL feature must fail, not skip).
func ciMode() bool {
	v := strings.ToLower(strings.TrimSpace(os.Getenv("CI")))
	return v != "" && v != "false" && v != "0" && v != "no"
}
