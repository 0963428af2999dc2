package app

import (
	"context"

	"behalf/metrics"
)

// registerCollectors adds the gauges computed at scrape time: live sessions (one query), the outbox
// (open deliveries, lag, dead letters) and the connection pool.
func (a *App) registerCollectors() {
	if err := a.Metrics.Register(metrics.NewSessionCollector(a.Security.LiveSessionCounts)); err != nil {
		a.Log.Error().Err(err).Msg("session metrics not registered")
	}
	if err := a.Metrics.Register(metrics.NewOutboxCollector(a.outboxStats)); err != nil {
		a.Log.Error().Err(err).Msg("outbox metrics not registered")
	}
	if sqlDB, err := a.DB.DB(); err == nil {
		if err := a.Metrics.RegisterDB(sqlDB); err != nil {
			a.Log.Error().Err(err).Msg("database pool metrics not registered")
		}
	}
}

// outboxStats reads the outbox's figures for the metrics collector.
func (a *App) outboxStats(ctx context.Context) (metrics.OutboxStats, error) {
	st, err := a.Integrations.Stats(ctx)
	return metrics.OutboxStats{Pending: st.Open, OldestAge: st.Oldest, DeadLetters: st.Dead}, err
}
