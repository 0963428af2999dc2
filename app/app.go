// Package app wires the domain services and the HTTP handler from a configuration and a database; the
// CLI and the end-to-end tests build the server the same way.
package app

import (
	"context"
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

// New wires every service and the HTTP handler.
func New(cfg config.Config, db *gorm.DB, log zerolog.Logger, clk clock.Clock) *App {
	a := &App{Config: cfg, DB: db, Log: log, Clock: clk}
	a.Audit = audit.New(db, clk)
	hasher := security.NewHasher(security.DefaultArgon2, cfg.MaxConcurrentHashes, cfg.HashWait)
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
