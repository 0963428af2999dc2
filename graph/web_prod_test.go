package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"

	"gorm.io/gorm"
)

// TestAppsAndSchemaInProduction: with introspection off, the SDL is still served, and the console and
// storefront pages are part of the server.
func TestAppsAndSchemaInProduction(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) { c.Env = "production" })
		if r := env.Do("", `{ __schema { queryType { name } } }`, nil); r.Code() == "" {
			t.Fatalf("introspection on in production: %s", r.Raw)
		}
		for path, want := range map[string]string{
			"/graphql/schema.graphql": "type Query {",
			"/console/":               "behalf admin console",
			"/storefront/account/impersonate/some-user": "behalf shop",
		} {
			w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: path})
			if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) {
				t.Errorf("GET %s: %d %.100q", path, w.Code, w.Body.String())
			}
		}
	})
}
