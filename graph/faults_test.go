package graph_test

import (
	"net/http"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/security"

	"gorm.io/gorm"
)

// TestDatabaseErrorDuringAuthenticationIs503 takes the users table away from the server: a valid
// token then answers 503 / INTERNAL_SERVER_ERROR (retryable), never 401, which would make clients
// throw their session away.
func TestDatabaseErrorDuringAuthenticationIs503(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		// Without the identity cache, so that authentication reads the database on this request.
		env := apptest.New(t, db, func(c *config.Config) { c.IdentityCacheSize = 0 })
		_, tok := env.UserWithToken("outage.user", security.RoleCustomer)
		env.MustDo(tok, `{ me { login } }`, nil, nil)
		if err := db.Exec("ALTER TABLE users RENAME TO users_gone").Error; err != nil {
			t.Fatal(err)
		}
		res := env.Do(tok, `{ me { login } }`, nil)
		if res.Status != http.StatusServiceUnavailable || res.Code() != "INTERNAL_SERVER_ERROR" {
			t.Fatalf("status %d: %s", res.Status, res.Raw)
		}
		// A login in the outage is not an UNAUTHENTICATED either.
		res = env.Do("", wrongLogin, map[string]any{"l": "outage.user", "p": apptest.DefaultPassword})
		if res.Status != http.StatusServiceUnavailable || res.Code() != "INTERNAL_SERVER_ERROR" {
			t.Fatalf("login: status %d: %s", res.Status, res.Raw)
		}
		if err := db.Exec("ALTER TABLE users_gone RENAME TO users").Error; err != nil {
			t.Fatal(err)
		}
		env.MustDo(tok, `{ me { login } }`, nil, nil)
	})
}

// TestRequestPastItsDeadlineTimesOut blocks a query behind a table lock: the request ends at its
// deadline with TIMEOUT (HTTP 504) instead of waiting for the lock.
func TestRequestPastItsDeadlineTimesOut(t *testing.T) {
	t.Parallel()
	db := dbtest.Postgres(t)
	_, tok := apptest.New(t, db).UserWithToken("deadline.admin", security.RoleAdministrator)
	env := apptest.New(t, db, func(c *config.Config) { c.RequestTimeout = 500 * time.Millisecond })
	lock := db.Begin()
	if lock.Error != nil {
		t.Fatal(lock.Error)
	}
	defer lock.Rollback()
	if err := lock.Exec("LOCK TABLE contacts IN ACCESS EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	res := env.Do(tok, `{ contacts(first: 5) { totalCount } }`, nil)
	if res.Status != http.StatusGatewayTimeout || res.Code() != "TIMEOUT" {
		t.Fatalf("status %d: %s", res.Status, res.Raw)
	}
}
