// Package app wires the domain services and the HTTP handler from a configuration and a database; the
// CLI and the end-to-end tests build the server the same way.
package app

import (
	"context"
	"crypto/ed25519"
	"net/http"
	"time"

	"behalf/audit"
	"behalf/commerce"
	"behalf/config"
	"behalf/directory"
	"behalf/graph"
	"behalf/graph/loaders"
	"behalf/internal/clock"
	"behalf/onbehalf"
	"behalf/resolvers"
	"behalf/security"

	"github.com/rs/zerolog"
	"gorm.io/gorm"
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
	Handler   http.Handler
}

// SecurityOptions derives the security service's options from the configuration.
func SecurityOptions(cfg config.Config) security.Options {
	return security.Options{
		SessionTTL: cfg.SessionTTL, SessionIdle: cfg.SessionIdle,
		OnBehalfTTL: cfg.OnBehalfTTL, OnBehalfIdle: cfg.OnBehalfIdle,
		LastSeenInterval: cfg.LastSeenInterval,
	}
}

// Option adjusts what New wires beyond the configuration.
type Option func(*options)

type options struct {
	auditKey   ed25519.PrivateKey
	hashParams security.Argon2Params
}

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
	a := &App{Config: cfg, DB: db, Log: log, Clock: clk}
	a.Audit = audit.New(db, clk, audit.Signing{
		Key: o.auditKey, EveryN: int64(cfg.AuditCheckpointEvents), Interval: cfg.AuditCheckpointInterval,
	})
	hasher := security.NewHasher(o.hashParams, cfg.MaxConcurrentHashes, cfg.HashWait)
	a.Directory = directory.New(db, clk)
	policy := onbehalf.NewPolicy(a.Directory.OrganizationOf, cfg.OnBehalfConsent == "opt-in")
	// Every request of a login-on-behalf session re-checks the whole policy.
	a.Security = security.New(db, clk, hasher, SecurityOptions(cfg), policy.Guard)
	a.OnBehalf = onbehalf.New(db, clk, a.Security, a.Audit, policy, onbehalf.Options{TicketTTL: cfg.OnBehalfTicketTTL, URLTemplate: cfg.OnBehalfURLTemplate()})
	a.Commerce = commerce.New(db, clk, commerce.Options{UploadMaxBytes: cfg.UploadMaxBytes},
		commerce.InvoiceGateway{}, commerce.TestCardGateway{})
	r := &resolvers.Resolver{Config: cfg, Security: a.Security, Directory: a.Directory, Audit: a.Audit, OnBehalf: a.OnBehalf, Commerce: a.Commerce}
	a.Handler = graph.NewHandler(graph.Deps{
		Config: cfg, DB: db, Log: log, Resolver: r, Audit: a.Audit, Security: a.Security,
		Loaders: loaders.Fetchers{Users: a.Security.UsersByIDs, Organizations: a.Directory.OrganizationsByIDs},
	})
	return a
}

// Sweep deletes what has outlived its use: idempotency keys past their lifetime (tickets are swept
// as new ones are issued). It returns how many rows went.
func (a *App) Sweep(ctx context.Context) (int64, error) {
	return a.Commerce.PurgeIdempotencyKeys(ctx)
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
