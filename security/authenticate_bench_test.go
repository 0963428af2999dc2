package security_test

import (
	"context"
	"testing"
	"time"

	"behalf/internal/clock"
	"behalf/internal/dbtest"
	"behalf/security"
	"behalf/store"
)

// BenchmarkAuthenticate measures what every authenticated request pays before its resolvers run, for a
// session token, a login-on-behalf token and an API key: "cached" in steady state (identity cache
// warm and trusted), "database" with the cache off (every check read from the database, as on a
// replica whose change listener is down). It runs on SQLite, and on PostgreSQL when
// BEHALF_TEST_POSTGRES_URL is set (bash scripts/test.sh -run '^$' -bench Authenticate ./security/).
func BenchmarkAuthenticate(b *testing.B) {
	for _, mode := range []string{"cached", "database"} {
		for _, dialect := range []string{store.SQLite, store.Postgres} {
			b.Run(mode+"/"+dialect, func(b *testing.B) { benchmarkAuthenticate(b, dialect, mode == "cached") })
		}
	}
}

func benchmarkAuthenticate(b *testing.B, dialect string, cached bool) {
	db := dbtest.Open(b, dialect)
	clk := clock.Real{}
	opt := security.DefaultOptions
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	if cached {
		bus, err := store.InstallBus(db)
		if err != nil {
			b.Fatal(err)
		}
		go bus.Listen(ctx, store.DSN(db), store.ListenOptions{})
		for !bus.Trusted() {
			time.Sleep(time.Millisecond)
		}
		opt.IdentityCacheSize = 100
	}
	svc := security.New(db, clk, security.NewHasher(security.DefaultArgon2, 2, time.Second), opt, nil)
	user := func(login string, role string) *security.AuthResult {
		u, err := svc.CreateUserUnchecked(ctx, security.CreateUserInput{
			Login: login, Email: login + "@example.com", Password: "benchmark passphrase", Roles: []string{role},
		})
		if err != nil {
			b.Fatal(err)
		}
		res, err := svc.NewSession(ctx, security.NewSessionInput{User: u, TTL: time.Hour, Idle: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		return res
	}
	customer, staff := user("carla", security.RoleCustomer), user("sally", security.RoleSupport)
	ob, err := svc.NewSession(ctx, security.NewSessionInput{
		User: customer.User, Operator: staff.User, Parent: staff.Session, Reason: "benchmark", TTL: time.Hour, Idle: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	id := security.NewIdentity(customer.User, "")
	id.Session = customer.Session
	key, err := svc.GenerateAPIKey(security.WithIdentity(ctx, id), "benchmark", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, token string }{
		{"session", customer.Token}, {"onbehalf", ob.Token}, {"apikey", key.Secret},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := svc.Authenticate(ctx, c.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
