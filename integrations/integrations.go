// Package integrations tells the outside world what happened: events are written to a transactional
// outbox in the transaction of the change they report (a rolled-back mutation emits nothing), and a
// dispatcher delivers them as signed webhooks (Standard Webhooks) and, for a login on behalf, as an
// e-mail to the customer. It owns the tables webhook_endpoints, outbox_events, outbox_deliveries and
// notification_settings.
package integrations

import (
	"context"
	"time"

	"behalf/internal/clock"

	"github.com/rs/zerolog"
	"gorm.io/gorm"
)

// Event types of the contract.
const (
	EventOnBehalfStarted = "onbehalf.started"
	EventOnBehalfEnded   = "onbehalf.ended"
	EventOnBehalfDenied  = "onbehalf.denied"
	EventOrderPlaced     = "order.placed"
	EventOrderPaid       = "order.paid"
	EventSessionRevoked  = "session.revoked"
)

// EventTypes lists every event type an endpoint may subscribe to.
var EventTypes = []string{
	EventOnBehalfStarted, EventOnBehalfEnded, EventOnBehalfDenied, EventOrderPlaced, EventOrderPaid, EventSessionRevoked,
}

// Delivery statuses (GraphQL DeliveryStatus): PENDING not tried yet, FAILED tried and to be retried,
// DELIVERED done, DEAD given up after the maximum number of attempts (an administrator may retry it).
const (
	StatusPending   = "PENDING"
	StatusDelivered = "DELIVERED"
	StatusFailed    = "FAILED"
	StatusDead      = "DEAD"
)

// Delivery channels.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Person is what a message may say about a user: a display name (never roles or permissions) and,
// for the customer, the address to write to.
type Person struct {
	ID          string
	DisplayName string
	Email       string
}

// People looks users up for messages; the security and directory services answer it.
type People interface {
	Person(ctx context.Context, userID string) (Person, error)
}

// Options tune delivery. Zero values pick the defaults noted.
type Options struct {
	SMTPURL       string        // smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…; empty: no e-mail
	SMTPFrom      string        // From address of e-mails
	AllowPrivate  bool          // allow webhook targets on private, loopback and link-local addresses
	Timeout       time.Duration // per delivery attempt (default 10s)
	MaxAttempts   int           // attempts before DEAD (default 8)
	Backoff       time.Duration // delay before the first retry, doubled each time (default 30s)
	MaxBackoff    time.Duration // longest delay between attempts (default 1h)
	SecretOverlap time.Duration // how long a rotated-out secret keeps signing (default 24h)
	PollInterval  time.Duration // how often the dispatcher looks for due deliveries unwoken (default 5s)
	Lease         time.Duration // how long a claimed delivery is reserved for its dispatcher (default 2m)
	// Jitter returns a number in [0, 1) spreading retries; nil uses math/rand.
	Jitter func() float64
}

func (o Options) withDefaults() Options {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 8
	}
	if o.Backoff <= 0 {
		o.Backoff = 30 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = time.Hour
	}
	if o.SecretOverlap <= 0 {
		o.SecretOverlap = 24 * time.Hour
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = 2 * time.Minute
	}
	if o.Lease < o.Timeout+10*time.Second {
		o.Lease = o.Timeout + 10*time.Second
	}
	return o
}

// Service manages webhook endpoints, writes events to the outbox and delivers them.
type Service struct {
	db     *gorm.DB
	clock  clock.Clock
	people People
	opt    Options
	log    zerolog.Logger
	client *webhookClient
	mailer *mailer
	wake   chan struct{}
}

// New returns the integrations service. It validates the SMTP URL.
func New(db *gorm.DB, c clock.Clock, people People, log zerolog.Logger, opt Options) (*Service, error) {
	opt = opt.withDefaults()
	m, err := newMailer(opt.SMTPURL, opt.SMTPFrom, opt.Timeout)
	if err != nil {
		return nil, err
	}
	return &Service{
		db: db, clock: c, people: people, opt: opt, log: log, mailer: m,
		client: newWebhookClient(opt.Timeout, opt.AllowPrivate),
		wake:   make(chan struct{}, 1),
	}, nil
}

// Options returns the effective options.
func (s *Service) Options() Options { return s.opt }

// Wake tells the dispatcher that new deliveries were committed; it never blocks.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Clock returns the service's clock.
func (s *Service) Clock() clock.Clock { return s.clock }
