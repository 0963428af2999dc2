package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

const wrongLogin = `mutation($l:String!,$p:String!){ login(login:$l, password:$p){ token } }`

func TestTwoPasswordMutationsInOneDocumentRunNeither(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db)
		env.CreateUser("dora", []string{security.RoleCustomer}, nil)
		verified := env.App.Security.Hasher().Verified()
		for _, q := range []string{
			`mutation { a: login(login:"dora", password:"` + apptest.DefaultPassword + `"){ token } b: login(login:"dora", password:"guess two"){ token } }`,
			`mutation { login(login:"dora", password:"x"){ token } ...F } fragment F on Mutation { logout }`,
			`mutation { logout ... on Mutation { changePassword(currentPassword:"x", newPassword:"y") } }`,
		} {
			res := env.Do("", q, nil)
			if res.Code() != "BAD_REQUEST" || string(res.Data) != "" && string(res.Data) != "null" {
				t.Fatalf("%s: %s", q, res.Raw)
			}
		}
		if n := env.App.Security.Hasher().Verified() - verified; n != 0 {
			t.Fatalf("%d passwords hashed", n)
		}
		if evs := env.AuditEvents(); len(evs) != 0 {
			t.Fatalf("%d audit events: a resolver ran", len(evs))
		}
		var sessions int64
		if err := db.Model(&model.Session{}).Count(&sessions).Error; err != nil || sessions != 0 {
			t.Fatalf("%d sessions, %v", sessions, err)
		}
	})
}

// TestParallelWrongLoginsCountEveryHash sends 60 wrong passwords for one account at once: the count
// of failures equals the number of passwords hashed (no lost update), which the throttle keeps at
// its free allowance plus one; then 15 minutes of guessing every 30 s hash no more than the
// documented rate (~70 an hour).
func TestParallelWrongLoginsCountEveryHash(t *testing.T) {
	t.Parallel()
	db := dbtest.Postgres(t)
	env := apptest.New(t, db, func(c *config.Config) { c.MaxConcurrentHashes, c.HashQueue, c.HashWait = 4, 60, time.Minute })
	u := env.CreateUser("victim", []string{security.RoleCustomer}, nil)
	h := env.App.Security.Hasher()
	start := h.Verified()
	var wg sync.WaitGroup
	codes := make([]string, 60)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = env.Do("", wrongLogin, map[string]any{"l": "victim", "p": fmt.Sprintf("guess number %d", i)}).Code()
		}()
	}
	wg.Wait()
	for _, c := range codes {
		if c != "UNAUTHENTICATED" && c != "TOO_MANY_REQUESTS" {
			t.Fatalf("codes %v", codes)
		}
	}
	failed := func() int {
		var v model.User
		if err := db.First(&v, "id = ?", u.ID).Error; err != nil {
			t.Fatal(err)
		}
		return v.FailedLogins
	}
	hashed := h.Verified() - start
	if int64(failed()) != hashed || hashed > 4 || hashed < 1 {
		t.Fatalf("failed_logins %d, hashed %d (want equal, at most 4)", failed(), hashed)
	}
	// A guess every 30 s for 15 minutes: after the free ones and the doubling delays (1 s … 32 s), at
	// most one a minute is hashed, the documented ~70 an hour.
	for i := 0; i < 30; i++ {
		env.Clock.Advance(30 * time.Second)
		if c := env.Do("", wrongLogin, map[string]any{"l": "victim", "p": "another guess"}).Code(); c != "UNAUTHENTICATED" && c != "TOO_MANY_REQUESTS" {
			t.Fatalf("code %s", c)
		}
	}
	if n := h.Verified() - start; n > 4+6+15 {
		t.Fatalf("%d guesses hashed in 15 minutes", n)
	} else {
		t.Logf("60 parallel wrong logins: %d hashed, failed_logins %d; 15 minutes of guessing: %d hashed", hashed, hashed, n)
	}
}

// TestLoginStormDoesNotStarveSearches runs 200 concurrent logins against a server with a pool of 5
// connections while another goroutine searches: every search succeeds, logins beyond the hash
// limiter get 429 with Retry-After, and while a password hashes its request holds no transaction
// and no connection of the database sits idle in a transaction for long (pg_stat_activity).
func TestLoginStormDoesNotStarveSearches(t *testing.T) {
	t.Parallel()
	dsn := dbtest.FreshDSN(t, store.Postgres)
	db, err := store.Open(dsn, store.Options{MaxOpenConns: 5, MaxIdleConns: 5})
	if err != nil {
		t.Fatal(err)
	}
	monitor, err := store.Open(dsn, store.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, g := range []*gorm.DB{db, monitor} {
			if s, err := g.DB(); err == nil {
				_ = s.Close()
			}
		}
	})
	const slots, queue, logins = 2, 4, 200
	env := apptest.New(t, db, func(c *config.Config) { c.MaxConcurrentHashes, c.HashQueue, c.HashWait = slots, queue, time.Minute })
	org := env.CreateOrganization("Storm Org")
	for i := 0; i < 30; i++ {
		env.CreateContact(fmt.Sprintf("Anna%d", i), "Schmidt", &org.ID)
	}
	_, admin := env.UserWithToken("storm.admin", security.RoleAdministrator)
	// 200 accounts sharing one password hash (inserted directly: creating each would hash), so that the
	// storm is many clients signing in, not one account's throttle.
	proto := env.CreateUser("storm.user0", []string{security.RoleCustomer}, nil)
	for i := 1; i < 200; i++ {
		u := *proto
		u.ID, u.Login, u.Email = model.NewID(), fmt.Sprintf("storm.user%d", i), fmt.Sprintf("storm.user%d@example.com", i)
		if err := db.Create(&u).Error; err != nil {
			t.Fatal(err)
		}
	}

	// Hashes block until every login beyond the slots and the queue has been refused, so the storm is
	// the same on any machine however fast the (cheap, in tests) hash is.
	var txDuringHash, idleInTx, hashes atomic.Int64
	var monErr atomic.Value
	release := make(chan struct{})
	var releaseOnce sync.Once
	var ok, tooMany, other atomic.Int64
	refused := func() {
		if tooMany.Add(1) >= logins-slots-queue {
			releaseOnce.Do(func() { close(release) })
		}
	}
	env.App.Security.Hasher().OnHash = func(ctx context.Context) {
		defer func() {
			select {
			case <-release:
			case <-time.After(time.Minute): // a failing run must not hang; the counts below catch it
			}
		}()
		hashes.Add(1)
		if store.TxBegun(ctx) {
			txDuringHash.Add(1)
		}
		var n int64
		if err := monitor.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND state = 'idle in transaction' AND state_change < now() - interval '1 second'`).Scan(&n).Error; err != nil {
			monErr.Store(err)
		}
		idleInTx.Add(n)
	}

	stop := make(chan struct{})
	searchDone := make(chan []string)
	go func() {
		var failures []string
		searches := 0
		for {
			select {
			case <-stop:
				if searches == 0 {
					failures = append(failures, "no search ran")
				}
				searchDone <- failures
				return
			default:
			}
			res := env.Do(admin, `{ contacts(search: "schm", first: 10) { totalCount edges { node { fullName } } } }`, nil)
			searches++
			if res.Status != http.StatusOK || len(res.Errors) > 0 {
				failures = append(failures, fmt.Sprintf("%d %s", res.Status, res.Raw))
			}
		}
	}()
	var wg sync.WaitGroup
	var badRetry atomic.Int64
	for i := 0; i < logins; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := env.Do("", wrongLogin, map[string]any{"l": fmt.Sprintf("storm.user%d", i), "p": apptest.DefaultPassword})
			switch res.Code() {
			case "":
				ok.Add(1)
			case "TOO_MANY_REQUESTS":
				refused()
				// Retry-After in whole seconds, estimated from the hash queue: 1 s to 30 s.
				if ra, err := strconv.Atoi(res.Header.Get("Retry-After")); res.Status != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 30 {
					badRetry.Add(1)
				}
			default:
				other.Add(1)
				t.Logf("login: %s", res.Raw)
			}
		}()
	}
	wg.Wait()
	close(stop)
	failures := <-searchDone
	if len(failures) > 0 {
		t.Fatalf("%d searches failed during the login storm, first: %s", len(failures), failures[0])
	}
	if err, _ := monErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	t.Logf("200 logins: %d signed in, %d got 429, %d other; %d hashes", ok.Load(), tooMany.Load(), other.Load(), hashes.Load())
	if ok.Load() != slots+queue || tooMany.Load() != logins-slots-queue || other.Load() != 0 || badRetry.Load() != 0 {
		t.Fatalf("ok %d, 429 %d (without status/Retry-After %d), other %d", ok.Load(), tooMany.Load(), badRetry.Load(), other.Load())
	}
	if txDuringHash.Load() != 0 || idleInTx.Load() != 0 {
		t.Fatalf("a transaction was open while hashing: %d in the request, %d idle in transaction in pg_stat_activity", txDuringHash.Load(), idleInTx.Load())
	}
	if !strings.Contains(env.Logs.String(), "request") {
		t.Fatal("no access log")
	}
}
