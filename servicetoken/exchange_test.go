package servicetoken_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"behalf/config"
	"behalf/internal/apptest"
	"behalf/internal/dbtest"
	"behalf/security"
	"behalf/servicetoken"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
	"gorm.io/gorm"
)

const audience = "orders-service"

// exchange posts a token-exchange request and decodes the JSON answer.
func exchange(t *testing.T, env *apptest.Env, form url.Values, headers map[string]string) (int, map[string]any) {
	t.Helper()
	h := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
	for k, v := range headers {
		h[k] = v
	}
	w := env.HTTP(apptest.Request{Path: "/oauth/token", Body: strings.NewReader(form.Encode()), Headers: h})
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("token endpoint answered non-JSON (%d): %s", w.Code, w.Body.String())
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	return w.Code, out
}

func form(subjectToken string) url.Values {
	return url.Values{"grant_type": {servicetoken.GrantType}, "subject_token": {subjectToken},
		"subject_token_type": {servicetoken.AccessTokenType}, "audience": {audience}}
}

// mustExchange exchanges subjectToken and returns the JWT.
func mustExchange(t *testing.T, env *apptest.Env, subjectToken string) string {
	t.Helper()
	code, out := exchange(t, env, form(subjectToken), nil)
	if code != http.StatusOK {
		t.Fatalf("exchange: %d %v", code, out)
	}
	if out["token_type"] != "Bearer" || out["issued_token_type"] != servicetoken.AccessTokenType || out["expires_in"] != float64(300) {
		t.Fatalf("answer %v does not follow the contract", out)
	}
	tok, _ := out["access_token"].(string)
	return tok
}

// verifier checks tokens with lestrrat-go/jwx (not go-jose, which signs them) against the JWKS fetched
// over HTTP, on the test's fake clock.
type verifier struct {
	t   *testing.T
	url string
	env *apptest.Env
}

func (v verifier) keys() jwk.Set {
	v.t.Helper()
	set, err := jwk.Fetch(context.Background(), v.url+"/.well-known/jwks.json")
	if err != nil {
		v.t.Fatalf("fetch JWKS: %v", err)
	}
	return set
}

func (v verifier) verify(token string) (jwt.Token, error) {
	return jwt.Parse([]byte(token), jwt.WithKeySet(v.keys()), jwt.WithValidate(true),
		jwt.WithClock(jwt.ClockFunc(v.env.Clock.Now)), jwt.WithAudience(audience), jwt.WithIssuer("behalf"))
}

func (v verifier) mustVerify(token string) jwt.Token {
	v.t.Helper()
	tok, err := v.verify(token)
	if err != nil {
		v.t.Fatalf("jwx does not verify the service token: %v", err)
	}
	return tok
}

func claim(t *testing.T, tok jwt.Token, name string) any {
	t.Helper()
	var v any
	if err := tok.Get(name, &v); err != nil {
		t.Fatalf("claim %s: %v", name, err)
	}
	return v
}

// TestTokenExchangeOnBehalfAndRotation is the "what it must show": inside a login-on-behalf
// session a token exchange returns a JWT that the other JOSE library verifies against
// /.well-known/jwks.json with sub = customer and act.sub = support user; after a key rotation old and
// new tokens both verify until the old one expires, and the old key then leaves the set.
func TestTokenExchangeOnBehalfAndRotation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		env := apptest.New(t, db, func(c *config.Config) { c.ServiceAudiences = []string{"billing", audience} })
		srv := httptest.NewServer(env.App.Handler)
		defer srv.Close()
		v := verifier{t: t, url: srv.URL, env: env}
		support, supportTok := env.UserWithToken("sue.support", security.RoleSupport)
		customer := env.CreateUser("carl.customer", []string{security.RoleCustomer}, nil)
		obTok, obSession := env.OnBehalf(supportTok, "sue.support", customer.ID, "ticket 4711")

		old := mustExchange(t, env, obTok)
		tok := v.mustVerify(old)
		if sub, _ := tok.Subject(); sub != customer.ID {
			t.Errorf("sub = %q, want the customer %q", sub, customer.ID)
		}
		act, _ := claim(t, tok, "act").(map[string]any)
		if act["sub"] != support.ID || len(act) != 1 {
			t.Errorf("act = %v, want {sub: %s}", act, support.ID)
		}
		if claim(t, tok, "sid") != obSession {
			t.Errorf("sid = %v, want %s", claim(t, tok, "sid"), obSession)
		}
		exp, _ := tok.Expiration()
		iat, _ := tok.IssuedAt()
		jti, _ := tok.JwtID()
		if exp.Sub(iat) != 5*time.Minute || jti == "" || !iat.Equal(env.Clock.Now()) {
			t.Errorf("iat %v exp %v jti %q: want a 5-minute token with an id", iat, exp, jti)
		}
		if evs := env.EventsWithAction("token.exchange"); len(evs) != 1 || !evs[0].OnBehalf ||
			*evs[0].ActorID != support.ID || *evs[0].SubjectID != customer.ID {
			t.Errorf("audit: %+v, want one on-behalf token.exchange event", evs)
		}

		// Rotate a minute later; another minute later, a token signed with the new key.
		env.Clock.Advance(time.Minute)
		if _, err := env.App.ServiceTokens.Rotate(context.Background()); err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(time.Minute)
		fresh := mustExchange(t, env, obTok)
		if n := v.keys().Len(); n != 2 {
			t.Fatalf("JWKS has %d keys after rotation, want the old and the new", n)
		}
		v.mustVerify(old)
		v.mustVerify(fresh)

		// Past the old token's expiry and its key's publication: only the new token verifies.
		env.Clock.Advance(4*time.Minute + time.Second)
		if _, err := v.verify(old); err == nil {
			t.Error("the old token still verifies after it expired")
		}
		v.mustVerify(fresh)
		if n := v.keys().Len(); n != 1 {
			t.Errorf("JWKS has %d keys once the old key's tokens expired, want 1", n)
		}

		// An ordinary session yields a token without act.
		own := v.mustVerify(mustExchange(t, env, supportTok))
		if own.Has("act") {
			t.Error("a token from an ordinary session carries act")
		}
		if sub, _ := own.Subject(); sub != support.ID {
			t.Errorf("sub = %q, want the session's user", sub)
		}

		// Once the login-on-behalf session ends, its token no longer exchanges.
		env.MustDo(obTok, `mutation { endOnBehalf }`, nil, nil)
		if code, out := exchange(t, env, form(obTok), nil); code != http.StatusBadRequest || out["error"] != "invalid_request" {
			t.Errorf("ended session: %d %v, want 400 invalid_request", code, out)
		}
	})
}

// TestTokenExchangeRefusals checks the RFC 6749 §5.2 errors, and that API keys never exchange.
func TestTokenExchangeRefusals(t *testing.T) {
	t.Parallel()
	db := dbtest.SQLite(t)
	env := apptest.New(t, db, func(c *config.Config) { c.ServiceAudiences = []string{audience} })
	_, tok := env.UserWithToken("ada.admin", security.RoleAdministrator)
	var key struct {
		GenerateApiKey struct{ Secret string } `json:"generateApiKey"`
	}
	env.MustDo(tok, `mutation { generateApiKey(name: "erp") { secret } }`, nil, &key)

	with := func(k, v string) url.Values { f := form(tok); f.Set(k, v); return f }
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers map[string]string
		status  int
		error   string
	}{
		{"wrong grant", with("grant_type", "password"), nil, 400, "unsupported_grant_type"},
		{"no grant", with("grant_type", ""), nil, 400, "invalid_request"},
		{"no subject token", with("subject_token", ""), nil, 400, "invalid_request"},
		{"wrong token type", with("subject_token_type", servicetoken.JWTTokenType), nil, 400, "invalid_request"},
		{"unknown audience", with("audience", "elsewhere"), nil, 400, "invalid_target"},
		{"two audiences", func() url.Values { f := form(tok); f.Add("audience", audience); return f }(), nil, 400, "invalid_target"},
		{"bad subject token", with("subject_token", "bhs_nope"), nil, 400, "invalid_request"},
		{"api key as subject", with("subject_token", key.GenerateApiKey.Secret), nil, 400, "invalid_request"},
		{"actor token", with("actor_token", tok), nil, 400, "invalid_request"},
		{"api key as client", form(tok), map[string]string{"Authorization": "Bearer " + key.GenerateApiKey.Secret}, 401, "invalid_client"},
	} {
		code, out := exchange(t, env, tc.form, tc.headers)
		if code != tc.status || out["error"] != tc.error || out["error_description"] == "" {
			t.Errorf("%s: %d %v, want %d %s with a description", tc.name, code, out, tc.status, tc.error)
		}
		if out["access_token"] != nil {
			t.Errorf("%s: a token was issued", tc.name)
		}
	}
	if w := env.HTTP(apptest.Request{Method: http.MethodGet, Path: "/oauth/token"}); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET /oauth/token: %d, want 405", w.Code)
	}
}

// TestServiceKeysAreTheSameOnEveryReplica runs two servers on one database: a token one of them issues
// verifies against the JWKS the other publishes, and both publish the same set.
func TestServiceKeysAreTheSameOnEveryReplica(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db *gorm.DB) {
		aud := func(c *config.Config) { c.ServiceAudiences = []string{audience} }
		a, b := apptest.New(t, db, aud), apptest.New(t, db, aud)
		srvB := httptest.NewServer(b.App.Handler)
		defer srvB.Close()
		_, tok := a.UserWithToken("sue.support", security.RoleSupport)
		token := mustExchange(t, a, tok)
		verifier{t: t, url: srvB.URL, env: b}.mustVerify(token)
		setA, err := a.App.ServiceTokens.JWKS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		setB, err := b.App.ServiceTokens.JWKS(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(setA.Keys) != 1 || len(setB.Keys) != 1 || setA.Keys[0].KeyID != setB.Keys[0].KeyID {
			t.Errorf("replicas publish %d and %d keys, want the same one", len(setA.Keys), len(setB.Keys))
		}
	})
}
