package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"behalf/audit"
	"behalf/internal/apptest"
	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// must fails the test on a database error.
func must(t *testing.T, res *gorm.DB) {
	t.Helper()
	if res.Error != nil {
		t.Fatalf("database: %v", res.Error)
	}
}

func openDSN(t *testing.T, dsn string) *gorm.DB {
	t.Helper()
	db, err := store.Open(dsn, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s, err := db.DB(); err == nil {
			_ = s.Close()
		}
	})
	return db
}

// TestAuditCommands: verify exits 0 on an intact chain, 1 with the seq and kind when tampered (a
// truncated tail only with --checkpoint), 2 on usage or connection errors; export writes a file that
// verify accepts; checkpoint prints a signed head.
func TestAuditCommands(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dsn := dbtest.FreshDSN(t, dialect)
			db := openDSN(t, dsn)
			dir := t.TempDir()
			keyFile := filepath.Join(dir, "audit.key")
			key, err := audit.LoadKey(keyFile, true)
			if err != nil {
				t.Fatal(err)
			}
			svc := audit.New(db, clock.Real{}, audit.Signing{Key: key})
			for i := 0; i < 10; i++ {
				if err := svc.Record(context.Background(), &model.AuditEvent{Action: "test.act", ActorLogin: "alice"}); err != nil {
					t.Fatal(err)
				}
			}
			env := map[string]string{"DATABASE_URL": dsn, "BEHALF_AUDIT_KEY_FILE": keyFile}
			if code, out, errs := runCLI(t, "", env, "audit", "verify"); code != 0 || !strings.Contains(out, "OK: 10 events intact") {
				t.Fatalf("verify: %d %q %q", code, out, errs)
			}
			code, out, errs := runCLI(t, "", env, "audit", "checkpoint")
			if code != 0 || !strings.Contains(out, `"seq": 10`) || !strings.Contains(out, `"signature"`) {
				t.Fatalf("checkpoint: %d %q %q", code, out, errs)
			}
			cpFile := filepath.Join(dir, "checkpoint.json")
			if err := os.WriteFile(cpFile, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, errs = runCLI(t, "", env, "audit", "export", "--format", "jsonl")
			if code != 0 || strings.Count(out, "\n") != 10 || !strings.Contains(out, `"prevHash"`) {
				t.Fatalf("export: %d %q %q", code, out, errs)
			}
			exportFile := filepath.Join(dir, "audit.jsonl")
			if err := os.WriteFile(exportFile, []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out, errs := runCLI(t, "", env, "audit", "verify", "--file", exportFile, "--checkpoint", cpFile); code != 0 {
				t.Fatalf("verify export: %d %q %q", code, out, errs)
			}

			// The intruder deletes the last three events, then edits one.
			unprotectAudit(t, db)
			must(t, db.Exec("DELETE FROM audit_events WHERE seq > 7"))
			if code, out, _ := runCLI(t, "", env, "audit", "verify"); code != 0 {
				t.Fatalf("a cut tail is invisible without a checkpoint, got %d %q", code, out)
			}
			if code, out, _ := runCLI(t, "", env, "audit", "verify", "--checkpoint", cpFile); code != 1 || !strings.Contains(out, "first broken seq 8: deleted") {
				t.Fatalf("verify --checkpoint: %d %q", code, out)
			}
			must(t, db.Exec("UPDATE audit_events SET actor_login = 'mallory' WHERE seq = 4"))
			if code, out, _ := runCLI(t, "", env, "audit", "verify"); code != 1 || !strings.Contains(out, "first broken seq 4: edited") {
				t.Fatalf("verify edited: %d %q", code, out)
			}
			if code, out, _ := runCLI(t, "", env, "audit", "verify", "--from", "5"); code != 0 {
				t.Fatalf("verify --from 5 skips the edit: %d %q", code, out)
			}

			// Usage and connection errors exit 2.
			for _, args := range [][]string{{"audit"}, {"audit", "nope"}, {"audit", "verify", "--from", "x"},
				{"audit", "verify", "--db", "mysql://x"}, {"audit", "verify", "--file", filepath.Join(dir, "missing")}} {
				if code, _, _ := runCLI(t, "", env, args...); code != 2 {
					t.Errorf("%v: exit %d, want 2", args, code)
				}
			}
		})
	}
}

func unprotectAudit(t *testing.T, db *gorm.DB) {
	t.Helper()
	if store.Dialect(db) == store.Postgres {
		must(t, db.Exec("ALTER TABLE audit_events DISABLE TRIGGER USER"))
		return
	}
	must(t, db.Exec("DROP TRIGGER audit_events_no_update"))
	must(t, db.Exec("DROP TRIGGER audit_events_no_delete"))
}

// TestTwoRolesOnPostgres: `behalf migrate --app-role` gives the application role what serve needs and
// no more. As that role, a support user acts for a customer and places an order, `behalf audit verify`
// exits 0, and UPDATE, DELETE and TRUNCATE of the audit table are refused.
func TestTwoRolesOnPostgres(t *testing.T) {
	t.Parallel()
	dsn := dbtest.FreshDSN(t, store.Postgres) // its user owns the schema: the owner role
	owner := openDSN(t, dsn)
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	role, password := "behalf_app_"+hex.EncodeToString(b), hex.EncodeToString(b)+"-pw"
	must(t, owner.Exec(fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, password)))
	t.Cleanup(func() {
		// Runs before the database is dropped; the role's privileges live only in it.
		owner.Exec("DROP OWNED BY " + role)
		owner.Exec("DROP ROLE " + role)
	})
	if code, out, errs := runCLI(t, "", nil, "migrate", "--db", dsn, "--app-role", role); code != 0 || !strings.Contains(out, "granted role "+role) {
		t.Fatalf("migrate --app-role: %d %q %q", code, out, errs)
	}
	// A hardened server takes EXECUTE on functions away from PUBLIC: the role keeps what it was granted.
	must(t, owner.Exec("REVOKE EXECUTE ON FUNCTION audit_append FROM PUBLIC"))
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, password)
	appDSN := u.String()
	app := openDSN(t, appDSN)
	if err := store.Migrate(app); err != nil { // serve checks the migrations at start
		t.Fatalf("migrate check as the app role: %v", err)
	}

	env := apptest.New(t, app)
	env.CreateUser("sam", []string{security.RoleSupport}, nil)
	carla := env.CreateUser("carla", []string{security.RoleCustomer}, nil)
	_, adminTok := env.UserWithToken("ada", security.RoleAdministrator)
	env.MustDo(adminTok, `mutation{ createProduct(input:{sku:"BOLT", name:"Bolt", price:"1.50", currency:"EUR", stock:10}){ id } }`, nil, nil)
	samTok := env.Login("sam", apptest.DefaultPassword)
	var tk struct{ LoginOnBehalf struct{ Ticket string } }
	env.MustDo(samTok, `mutation($u:ID!){ loginOnBehalf(userId:$u, reason:"phone call"){ ticket } }`, map[string]any{"u": carla.ID}, &tk)
	var conf struct{ ConfirmOnBehalf struct{ Token string } }
	env.MustDo("", `mutation($t:String!,$p:String!){ confirmOnBehalf(ticket:$t, login:"sam", password:$p){ token } }`,
		map[string]any{"t": tk.LoginOnBehalf.Ticket, "p": apptest.DefaultPassword}, &conf)
	scoped := conf.ConfirmOnBehalf.Token
	env.MustDo(scoped, `mutation{ addToCart(sku:"BOLT", quantity:2){ version } }`, nil, nil)
	env.MustDo(scoped, `mutation{ placeOrder(idempotencyKey:"k1"){ id } }`, nil, nil)
	orders := env.EventsWithAction("order.place")
	if len(orders) != 1 || orders[0].ActorLogin != "sam" || orders[0].SubjectLogin != "carla" || !orders[0].OnBehalf {
		t.Fatalf("order.place events %+v", orders)
	}

	if code, out, errs := runCLI(t, "", nil, "audit", "verify", "--db", appDSN); code != 0 || !strings.Contains(out, "OK:") {
		t.Fatalf("verify as the app role: %d %q %q", code, out, errs)
	}
	for _, q := range []string{"UPDATE audit_events SET actor_login = 'x'", "DELETE FROM audit_events", "TRUNCATE audit_events",
		"DELETE FROM audit_checkpoints", "DROP TABLE audit_events"} {
		if err := app.Exec(q).Error; err == nil || !strings.Contains(err.Error(), "42501") {
			t.Errorf("as the app role, %s: %v (want permission denied)", q, err)
		}
	}
	// The owner is refused too, by the trigger.
	if err := owner.Exec("DELETE FROM audit_events").Error; err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("as the owner, DELETE: %v", err)
	}
}

// TestConcurrentMutationsFormOneChain: 50 mutations at once still yield one valid chain.
func TestConcurrentMutationsFormOneChain(t *testing.T) {
	t.Parallel()
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			db := dbtest.Open(t, dialect)
			env := apptest.New(t, db)
			_, tok := env.UserWithToken("ada", security.RoleAdministrator)
			const n = 50
			errs := make(chan string, n)
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					// env.Do would fail the test from this goroutine: post and check by hand.
					body, _ := json.Marshal(map[string]any{
						"query":     `mutation($n:String!){ createOrganization(input:{name:$n}){ id } }`,
						"variables": map[string]any{"n": fmt.Sprintf("Org %d", i)},
					})
					w := env.HTTP(apptest.Request{Path: "/graphql", Body: bytes.NewReader(body),
						Headers: map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}})
					if w.Code != 200 || strings.Contains(w.Body.String(), `"errors"`) {
						errs <- w.Body.String()
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for e := range errs {
				t.Errorf("mutation failed: %s", e)
			}
			res, err := audit.Verify(context.Background(), audit.DBSource{DB: db}, 1, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Break != nil || res.Events != n+1 { // the login, then the 50 mutations
				t.Fatalf("chain: %d events, break %v", res.Events, res.Break)
			}
		})
	}
}
