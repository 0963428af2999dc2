// Package servicetoken issues short-lived signed JWTs for back-end services (RFC 8693 token exchange):
// a behalf session token goes in, a token for one configured audience comes out, whose sub is the
// customer and, in a login-on-behalf session, whose act claim names the staff member really acting.
// It owns the signing keys (table service_token_keys) and publishes their public halves as a JWKS.
package servicetoken

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"behalf/apperr"
	"behalf/audit"
	"behalf/internal/clock"
	"behalf/metrics"
	"behalf/model"
	"behalf/security"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"gorm.io/gorm"
)

// RFC 8693 identifiers.
const (
	GrantType       = "urn:ietf:params:oauth:grant-type:token-exchange"
	AccessTokenType = "urn:ietf:params:oauth:token-type:access_token"
	JWTTokenType    = "urn:ietf:params:oauth:token-type:jwt"
)

// Options configure token exchange.
type Options struct {
	Issuer    string           // iss of every token
	Audiences []string         // services a token may be exchanged for (BEHALF_SERVICE_AUDIENCES)
	TTL       time.Duration    // token lifetime, at most MaxTTL
	Rotation  time.Duration    // how long a key signs before a new one takes over
	KeySecret string           // seals private keys at rest when set (BEHALF_SERVICE_KEY_SECRET)
	Metrics   *metrics.Metrics // counts audit write failures; nil counts nothing
}

// Authenticator resolves a bearer credential; security.Service is one.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (*security.Identity, error)
}

// Service exchanges session tokens for service tokens and manages the signing keys.
type Service struct {
	db    *gorm.DB
	clock clock.Clock
	auth  Authenticator
	audit *audit.Service
	opt   Options
}

// New returns the token-exchange service.
func New(db *gorm.DB, c clock.Clock, auth Authenticator, a *audit.Service, opt Options) *Service {
	if opt.TTL <= 0 || opt.TTL > MaxTTL {
		opt.TTL = MaxTTL
	}
	if opt.Rotation <= 0 {
		opt.Rotation = 24 * time.Hour
	}
	if opt.Issuer == "" {
		opt.Issuer = "behalf"
	}
	return &Service{db: db, clock: c, auth: auth, audit: a, opt: opt}
}

// Error is an OAuth 2.0 error response (RFC 6749 §5.2): Code is the error field, Description the
// error_description, Status the HTTP status.
type Error struct {
	Code        string
	Description string
	Status      int
}

func (e *Error) Error() string { return e.Code + ": " + e.Description }

func invalid(code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// Request is a token-exchange request's form fields.
type Request struct {
	GrantType          string
	SubjectToken       string
	SubjectTokenType   string
	RequestedTokenType string
	Audiences          []string
	ActorToken         string
}

// Response is the successful answer (RFC 8693 §2.2.1).
type Response struct {
	AccessToken     string `json:"access_token"`
	IssuedTokenType string `json:"issued_token_type"`
	TokenType       string `json:"token_type"`
	ExpiresIn       int    `json:"expires_in"`
}

// Actor is the act claim (RFC 8693 §4.1): the party really acting for the subject.
type Actor struct {
	Sub string `json:"sub"`
}

// Claims are a service token's claims.
type Claims struct {
	jwt.Claims
	SessionID string `json:"sid"`
	Act       *Actor `json:"act,omitempty"`
}

// Exchange validates a token-exchange request and issues a signed service token. Only session tokens
// are exchanged: an API key is a machine credential of its own and is refused (so it can never yield
// a token naming an actor), and actor_token is refused because the actor comes only from a
// login-on-behalf session. Refusals are *Error values; other errors are internal.
func (s *Service) Exchange(ctx context.Context, req Request) (*Response, error) {
	switch {
	case req.GrantType == "":
		return nil, invalid("invalid_request", "grant_type is required")
	case req.GrantType != GrantType:
		return nil, invalid("unsupported_grant_type", "only "+GrantType+" is supported")
	case req.SubjectToken == "":
		return nil, invalid("invalid_request", "subject_token is required")
	case req.SubjectTokenType != AccessTokenType:
		return nil, invalid("invalid_request", "subject_token_type must be "+AccessTokenType)
	case req.ActorToken != "":
		return nil, invalid("invalid_request", "actor_token is not supported: the actor is taken from the login-on-behalf session")
	case req.RequestedTokenType != "" && req.RequestedTokenType != AccessTokenType && req.RequestedTokenType != JWTTokenType:
		return nil, invalid("invalid_request", "requested_token_type must be "+AccessTokenType)
	case len(req.Audiences) != 1 || req.Audiences[0] == "":
		return nil, invalid("invalid_target", "exactly one audience is required")
	case !slices.Contains(s.opt.Audiences, req.Audiences[0]):
		return nil, invalid("invalid_target", "audience is not a configured service")
	case strings.HasPrefix(req.SubjectToken, security.APIKeyPrefix):
		return nil, invalid("invalid_request", "subject_token must be a session token; API keys cannot be exchanged")
	}
	id, err := s.auth.Authenticate(ctx, req.SubjectToken)
	if err != nil {
		if apperr.CodeOf(err) == apperr.Unauthenticated {
			return nil, invalid("invalid_request", "subject_token is invalid, expired or revoked")
		}
		return nil, fmt.Errorf("authenticate subject token: %w", err)
	}
	if id.Session == nil || id.APIKey != nil {
		return nil, invalid("invalid_request", "subject_token must be a session token; API keys cannot be exchanged")
	}
	token, claims, err := s.Issue(ctx, id, req.Audiences[0])
	if err != nil {
		return nil, err
	}
	ev := &model.AuditEvent{Action: "token.exchange", Operation: "POST /oauth/token",
		Arguments: fmt.Sprintf(`{"audience":%q,"jti":%q}`, req.Audiences[0], claims.ID)}
	security.StampEvent(security.WithIdentity(ctx, id), ev)
	if err := s.audit.Record(ctx, ev); err != nil {
		s.opt.Metrics.AuditWriteFailed()
		return nil, fmt.Errorf("audit token exchange: %w", err)
	}
	return &Response{AccessToken: token, IssuedTokenType: AccessTokenType, TokenType: "Bearer",
		ExpiresIn: int(claims.Expiry.Time().Sub(claims.IssuedAt.Time()) / time.Second)}, nil
}

// Issue signs a token for id and audience with the current key. It never outlives the session.
func (s *Service) Issue(ctx context.Context, id *security.Identity, audience string) (string, *Claims, error) {
	if id == nil || id.Session == nil {
		return "", nil, errors.New("issue service token: no session")
	}
	now := s.clock.Now().Truncate(time.Second)
	k, err := s.currentKey(ctx, now)
	if err != nil {
		return "", nil, err
	}
	priv, err := s.open(k)
	if err != nil {
		return "", nil, err
	}
	exp := now.Add(s.opt.TTL)
	if id.Session.ExpiresAt.Before(exp) {
		exp = id.Session.ExpiresAt.Truncate(time.Second)
	}
	c := &Claims{
		Claims: jwt.Claims{
			Issuer: s.opt.Issuer, Subject: id.User.ID, Audience: jwt.Audience{audience},
			Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now), ID: model.NewID(),
		},
		SessionID: id.Session.ID,
	}
	if id.OnBehalf() {
		c.Act = &Actor{Sub: id.Operator.ID}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: priv},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), k.ID))
	if err != nil {
		return "", nil, fmt.Errorf("service token signer: %w", err)
	}
	token, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", nil, fmt.Errorf("sign service token: %w", err)
	}
	return token, c, nil
}
