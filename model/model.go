// Package model holds the GORM models shared with the GraphQL schema (gqlgen autobinds to them).
// It is small on purpose: rules live in the domain packages.
package model

import (
	"database/sql/driver"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// NewID returns a time-ordered UUIDv7 string: ids sort by creation, which keyset pagination relies on,
// and they cannot be enumerated.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

// StringList is a list of short strings stored in one text column, comma-separated.
type StringList []string

// Value implements driver.Valuer.
func (l StringList) Value() (driver.Value, error) { return strings.Join(l, ","), nil }

// Scan implements sql.Scanner.
func (l *StringList) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		s = ""
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("StringList: cannot scan %T", src)
	}
	if s == "" {
		*l = StringList{}
		return nil
	}
	*l = strings.Split(s, ",")
	return nil
}

// Organization is a customer company.
type Organization struct {
	ID         string `gorm:"primaryKey"`
	Name       string
	SearchText string `gorm:"->:false;<-"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Contact is a person in the directory, usually belonging to an organization.
type Contact struct {
	ID             string `gorm:"primaryKey"`
	FirstName      string
	LastName       string
	Email          string
	Phone          string
	OrganizationID *string
	SearchText     string `gorm:"->:false;<-"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// FullName is first and last name joined.
func (c *Contact) FullName() string { return strings.TrimSpace(c.FirstName + " " + c.LastName) }

// User is an account that can sign in: a customer, a staff member, or both via roles.
type User struct {
	ID           string `gorm:"primaryKey"`
	Login        string
	Email        string
	PasswordHash string
	Roles        StringList `gorm:"type:text"`
	ContactID    *string
	Locked       bool
	// AllowOnBehalf is the customer's explicit consent choice; nil means "not chosen", which follows
	// the BEHALF_ONBEHALF_CONSENT policy (opt-out: allowed, opt-in: not allowed).
	AllowOnBehalf  *bool `gorm:"column:allow_login_on_behalf"`
	FailedLogins   int
	LastFailedAt   *time.Time
	ThrottledUntil *time.Time
	SearchText     string `gorm:"->:false;<-"`
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Session is a signed-in session. An on-behalf session has OnBehalf set: UserID is the customer (the
// subject), OperatorID the staff member really acting, ParentSessionID the operator's own session.
type Session struct {
	ID              string `gorm:"primaryKey"`
	TokenHash       []byte
	UserID          string
	OperatorID      *string
	ParentSessionID *string
	OnBehalf        bool
	Reason          string
	CreatedAt       time.Time
	ExpiresAt       time.Time
	IdleSeconds     int
	LastSeenAt      time.Time
	RevokedAt       *time.Time
	RevokedReason   string
	IP              string
	UserAgent       string
}

// IdleTimeout is how long the session may go unused.
func (s *Session) IdleTimeout() time.Duration { return time.Duration(s.IdleSeconds) * time.Second }

// APIKey lets an integration authenticate as its owner (with restrictions) without a password.
type APIKey struct {
	ID         string `gorm:"primaryKey"`
	UserID     string
	Name       string
	Prefix     string
	SecretHash []byte
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName keeps the table name readable.
func (APIKey) TableName() string { return "api_keys" }

// AuditEvent is one entry of the audit trail.
type AuditEvent struct {
	ID           string `gorm:"primaryKey"`
	At           time.Time
	Action       string
	ActorID      *string
	ActorLogin   string
	SubjectID    *string
	SubjectLogin string
	OnBehalf     bool
	SessionID    *string
	Reason       string
	Outcome      AuditOutcome
	ErrorCode    string
	Operation    string
	Arguments    string
	IP           string
	UserAgent    string
	RequestID    string
	// ClientRequestID is the X-Request-Id the client sent (sanitized); RequestID is the server's own.
	ClientRequestID string
	// Seq is the event's position in the hash chain (1, 2, …, no gaps).
	Seq int64
	// PrevHash is the hash of the event before (audit.GenesisHash for the first).
	PrevHash string
	// Hash is the hex SHA-256 of the event's canonical encoding (audit.Canonical).
	Hash string
}
