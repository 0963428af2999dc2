package graph_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/model"
	"behalf/security"
	"behalf/store"

	"gorm.io/gorm"
)

// The benchmarks pair each GraphQL request with a raw baseline doing the same database work by hand
// (database/sql, encoding/json), so the figures show what the server adds: authentication, parsing,
// validation, resolvers, the error presenter, logging.
//
//	bash scripts/test.sh -run '^$' -bench . -benchmem ./graph/

func benchEnv(b *testing.B, dialect string) (*apptest.Env, string) {
	db := dbtest.Open(b, dialect)
	env := apptest.New(b, db)
	env.StartBackground() // steady state: the identity cache is trusted on PostgreSQL too
	org := env.CreateOrganization("Bench Org")
	for i := 0; i < 200; i++ {
		env.CreateContact(fmt.Sprintf("First%d", i), fmt.Sprintf("Last%d", i), &org.ID)
	}
	_, tok := env.UserWithToken("bench.admin", security.RoleAdministrator)
	return env, tok
}

func dialects() []string { return []string{store.SQLite, store.Postgres} }

func postJSON(b *testing.B, h http.Handler, tok string, body []byte) {
	r := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tok)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 200 || bytes.Contains(w.Body.Bytes(), []byte(`"errors"`)) {
		b.Fatalf("%d %s", w.Code, w.Body.String())
	}
}

func BenchmarkMe(b *testing.B) {
	for _, d := range dialects() {
		b.Run(d+"/graphql", func(b *testing.B) {
			env, tok := benchEnv(b, d)
			body, _ := json.Marshal(map[string]any{"query": `{ me { id login email roles } }`})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				postJSON(b, env.App.Handler, tok, body)
			}
		})
		b.Run(d+"/raw", func(b *testing.B) {
			env, tok := benchEnv(b, d)
			sqlDB, _ := env.DB.DB()
			hash := security.HashToken(tok)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rawMe(b, sqlDB, hash)
			}
		})
	}
}

// rawMe is the least work a "who am I" request needs: the session row, the user row, JSON out.
func rawMe(b *testing.B, db *sql.DB, hash []byte) {
	ctx := context.Background()
	q := "SELECT user_id, revoked_at IS NULL FROM sessions WHERE token_hash = $1"
	var uid string
	var live bool
	if err := db.QueryRowContext(ctx, q, hash).Scan(&uid, &live); err != nil || !live {
		b.Fatal(err)
	}
	var u struct{ ID, Login, Email, Roles string }
	if err := db.QueryRowContext(ctx, "SELECT id, login, email, roles FROM users WHERE id = $1", uid).Scan(&u.ID, &u.Login, &u.Email, &u.Roles); err != nil {
		b.Fatal(err)
	}
	if _, err := json.Marshal(map[string]any{"data": map[string]any{"me": u}}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkContactSearch(b *testing.B) {
	for _, d := range dialects() {
		b.Run(d+"/graphql", func(b *testing.B) {
			env, tok := benchEnv(b, d)
			body, _ := json.Marshal(map[string]any{"query": `{ contacts(search:"first1", first:20) { totalCount edges { node { id fullName email organization { name } } } } }`})
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				postJSON(b, env.App.Handler, tok, body)
			}
		})
		b.Run(d+"/raw", func(b *testing.B) {
			env, _ := benchEnv(b, d)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rawSearch(b, env.DB, "first1")
			}
		})
	}
}

// rawSearch runs the same queries (page, count, organization) through GORM without the GraphQL layer.
func rawSearch(b *testing.B, db *gorm.DB, term string) {
	ctx := context.Background()
	q := store.MatchWords(db.WithContext(ctx).Model(&model.Contact{}), "contacts", &term)
	var rows []model.Contact
	if err := q.Session(&gorm.Session{}).Order("id").Limit(21).Find(&rows).Error; err != nil {
		b.Fatal(err)
	}
	var n int64
	if err := q.Session(&gorm.Session{}).Count(&n).Error; err != nil {
		b.Fatal(err)
	}
	var org model.Organization
	if len(rows) > 0 && rows[0].OrganizationID != nil {
		dbtest.Must(b, db.WithContext(ctx).First(&org, "id = ?", *rows[0].OrganizationID))
	}
	if _, err := json.Marshal(rows); err != nil {
		b.Fatal(err)
	}
}
