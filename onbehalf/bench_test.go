package onbehalf_test

import (
	"testing"

	"behalf/internal/dbtest"
	"behalf/security"
	"behalf/store"
)

// BenchmarkScopedRequest measures a `me` request through the whole handler in a login-on-behalf session
// (the policy re-checked by the guard on every request) against the operator's ordinary session, for
// an operator holding security:loginOnBehalf and for an organization maintainer (whose guard also
// compares organizations). Run: bash scripts/test.sh -run '^$' -bench ScopedRequest ./onbehalf/
func BenchmarkScopedRequest(b *testing.B) {
	for _, dialect := range []string{store.SQLite, store.Postgres} {
		b.Run(dialect, func(b *testing.B) {
			w := newWorld(b, dbtest.Open(b, dialect))
			org := w.env.CreateOrganization("Acme")
			c1, c2 := w.env.CreateContact("Mia", "Maintainer", &org.ID), w.env.CreateContact("Abe", "Buyer", &org.ID)
			maint := w.env.CreateUser("mia", []string{security.RoleOrganizationMaintain}, &c1.ID)
			buyer := w.env.CreateUser("abe", []string{security.RoleCustomer}, &c2.ID)
			maintTok := w.env.Login(maint.Login, "correct horse battery staple")
			cases := []struct{ name, token string }{
				{"ordinary", w.adminTok},
				{"onbehalf", w.adminActsForCustomer().Token},
				{"onbehalf-organization", w.actFor(maintTok, maint.Login, buyer).Token},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						if r := w.env.Do(c.token, `{ me { id } }`, nil); r.Code() != "" {
							b.Fatal(r.Raw)
						}
					}
				})
			}
		})
	}
}
