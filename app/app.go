// Package app wires the domain services and the HTTP handler from a configuration and a database; the
// CLI and the end-to-end tests build the server the same way.
package app

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"time"

	"behalf/audit"
	"behalf/commerce"
	"behalf/config"
	"behalf/directory"
	"behalf/graph"
	"behalf/graph/loaders"
	"behalf/integrations"
	"behalf/internal/clock"
	"behalf/metrics"
	"behalf/onbehalf"
	"behalf/resolvers"
	"behalf/security"
	"behalf/servicetoken"
	"behalf/store"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"
	otelgorm "gorm.io/plugin/opentelemetry/tracing"
)

// App is a wired behalf server.
type App struct {
	Config    config.Config
	DB        *gorm.DB
	Log       zerolog.Logger
	Clock     clock.Clock
	Audit     *audit.Service
	Security  *security.Service
	Directory *directory.Service
	Commerce  *commerce.Service
	OnBehalf  *onbehalf.Service
	// Integrations writes the outbox and delivers webhooks and e-mail; serve runs its dispatcher.
	Integrations *integrations.Service
	// ServiceTokens exchanges session tokens for service JWTs (POST /oauth/token).
	ServiceTokens *servicetoken.Service
	// Metrics is served at /metrics on BEHALF_METRICS_ADDR by the CLI.
	Metrics *metrics.Metrics
	Handler http.Handler
}

// WithTracerProvider turns tracing on: HTTP requests, GraphQL operations and resolvers, and SQL
// statements become spans of tp.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracer = tp }
}

// SecurityOptions derives the security service's options from the configuration.
func SecurityOptions(cfg config.Config) security.Options {
	return security.Options{
		SessionTTL: cfg.SessionTTL, SessionIdle: cfg.SessionIdle,
		OnBehalfTTL: cfg.OnBehalfTTL, OnBehalfIdle: cfg.OnBehalfIdle,
		LastSeenInterval: cfg.LastSeenInterval, IdentityCacheSize: cfg.IdentityCacheSize,
		LoginIPFailures: cfg.LoginIPFailures, LoginIPWindow: cfg.LoginIPWindow,
	}
}

// Option adjusts what New wires beyond the configuration.
type Option func(*options)

type options struct {
	auditKey   ed25519.PrivateKey
	hashParams security.Argon2Params
	tracer     trace.TracerProvider
	hashExe    string
}

// WithHashWorker lets the server hash passwords in a worker process, exe (its own binary) re-executed
// as "hash-worker", at the priority BEHALF_HASH_WORKER names (unless it is off). Only serve passes it:
// tests and one-shot commands hash in process.
func WithHashWorker(exe string) Option { return func(o *options) { o.hashExe = exe } }

// WithAuditKey signs audit checkpoints with key (the CLI loads it from BEHALF_AUDIT_KEY_FILE).
func WithAuditKey(key ed25519.PrivateKey) Option { return func(o *options) { o.auditKey = key } }

// WithHashParams hashes new passwords with p instead of security.DefaultArgon2 (tests use a cheap
// cost so that each login does not burn 19 MiB and tens of milliseconds).
func WithHashParams(p security.Argon2Params) Option { return func(o *options) { o.hashParams = p } }

// New wires every service and the HTTP handler.
func New(cfg config.Config, db *gorm.DB, log zerolog.Logger, clk clock.Clock, opts ...Option) *App {
	o := options{hashParams: security.DefaultArgon2}
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{Config: cfg, DB: db, Log: log, Clock: clk, Metrics: metrics.New()}
	if o.tracer != nil {
		// Statements become spans without their bound values (which include token and password hashes).
		if err := db.Use(otelgorm.NewPlugin(otelgorm.WithTracerProvider(o.tracer), otelgorm.WithoutQueryVariables(), otelgorm.WithoutMetrics())); err != nil {
			log.Error().Err(err).Msg("gorm tracing plugin not installed")
		}
	}
	// The change bus tells the identity cache (and other replicas) what changed; see Background.
	if _, err := store.InstallBus(db); err != nil {
		log.Error().Err(err).Msg("no change bus: every request reads its identity from the database")
	}
	a.Audit = audit.New(db, clk, audit.Signing{
		Key: o.auditKey, EveryN: int64(cfg.AuditCheckpointEvents), Interval: cfg.AuditCheckpointInterval,
	})
	hasher := security.NewHasherQueue(o.hashParams, cfg.MaxConcurrentHashes, cfg.HashQueue, cfg.HashWait, a.Metrics)
	hasher.SetRate(cfg.HashRate, cfg.HashClientRate)
	hasher.SetClock(clk.Now)
	if o.hashExe != "" && cfg.HashWorker != "off" {
		w := security.NewHashWorker(cfg.HashIdleWait, o.hashExe, "hash-worker", "--priority", cfg.HashWorker)
		w.OnEvent = func(event string, err error) {
			switch event {
			case "started":
				log.Info().Str("priority", cfg.HashWorker).Msg("password hash worker started")
			case "fallback":
				log.Debug().Msg("password hashed in process: no hash worker")
			default:
				log.Error().Err(err).Str("event", event).Msg("password hash worker")
			}
		}
		hasher.SetDeriver(w)
	}
	a.Directory = directory.New(db, clk)
	policy := onbehalf.NewPolicy(a.Directory.OrganizationOf, cfg.OnBehalfConsent == "opt-in")
	// Every request of a login-on-behalf session re-checks the whole policy.
	secOpts := SecurityOptions(cfg)
	secOpts.Metrics = a.Metrics
	a.Security = security.New(db, clk, hasher, secOpts, policy.Guard)
	a.OnBehalf = onbehalf.New(db, clk, a.Security, a.Audit, policy, onbehalf.Options{TicketTTL: cfg.OnBehalfTicketTTL, URLTemplate: cfg.OnBehalfURLTemplate()})
	// The test card gateway accepts made-up tokens: never in production unless explicitly enabled.
	gateways := []commerce.PaymentGateway{commerce.InvoiceGateway{}}
	if cfg.TestCardGateway {
		gateways = append(gateways, &commerce.TestCardGateway{})
	}
	a.Commerce = commerce.New(db, clk, commerce.Options{UploadMaxBytes: cfg.UploadMaxBytes}, gateways...)
	integ, err := integrations.New(db, clk, people{a.Security, a.Directory}, log, IntegrationsOptions(cfg))
	if err != nil {
		panic(fmt.Sprintf("integrations: %v", err)) // the settings were validated by config.Load
	}
	a.Integrations = integ
	a.ServiceTokens = servicetoken.New(db, clk, a.Security, a.Audit, servicetoken.Options{
		Issuer: cfg.ServiceTokenIssuer, Audiences: cfg.ServiceAudiences, TTL: cfg.ServiceTokenTTL,
		Rotation: cfg.ServiceKeyRotation, KeySecret: cfg.ServiceKeySecret, Metrics: a.Metrics,
	})
	a.registerCollectors()
	r := &resolvers.Resolver{Config: cfg, Security: a.Security, Directory: a.Directory, Audit: a.Audit, OnBehalf: a.OnBehalf, Commerce: a.Commerce, Integrations: a.Integrations}
	a.Handler = graph.NewHandler(graph.Deps{
		Config: cfg, DB: db, Log: log, Resolver: r, Audit: a.Audit, Security: a.Security, Events: a.Integrations,
		Loaders: loaders.Fetchers{
			Users: a.Security.UsersByIDs, Organizations: a.Directory.OrganizationsByIDs,
			Contacts: a.Directory.ContactsByIDs, Products: a.Commerce.ProductsByIDs, Orders: a.Commerce.OrdersByIDs,
			AccountsOfContacts: a.Security.AccountsOfContacts, PaymentsOfOrders: a.Commerce.PaymentsOfOrders,
		},
		ServiceTokens: a.ServiceTokens, Metrics: a.Metrics, Tracer: o.tracer,
	})
	return a
}

// Sweep deletes what has outlived its use: idempotency keys past their lifetime (tickets are swept
// as new ones are issued). It returns how many rows went. With several replicas on one database only
// one sweeps at a time: the others find the advisory lock taken and skip this round.
func (a *App) Sweep(ctx context.Context) (int64, error) {
	var n int64
	err := store.RunInTx(ctx, a.DB, func(ctx context.Context) error {
		ok, err := store.TryXactLock(ctx, a.DB, store.LockSweep)
		if err != nil || !ok {
			return err
		}
		n, err = a.Commerce.PurgeIdempotencyKeys(ctx)
		return err
	})
	return n, err
}

// RunSweeper calls Sweep every interval until ctx ends, logging what it removed.
func (a *App) RunSweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := a.Sweep(ctx)
			if err != nil {
				a.Log.Error().Err(err).Msg("sweep failed")
			} else if n > 0 {
				a.Log.Info().Int64("rows", n).Msg("swept expired idempotency keys")
			}
		}
	}
}
