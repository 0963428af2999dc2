package app

import (
	"behalf/metrics"
)

// registerCollectors adds the gauges computed at scrape time: live sessions (one query) and the
// connection pool. The outbox, once it exists, registers metrics.NewOutboxCollector here with a
// reader of its table.
func (a *App) registerCollectors() {
	if err := a.Metrics.Register(metrics.NewSessionCollector(a.Security.LiveSessionCounts)); err != nil {
		a.Log.Error().Err(err).Msg("session metrics not registered")
	}
	if sqlDB, err := a.DB.DB(); err == nil {
		if err := a.Metrics.RegisterDB(sqlDB); err != nil {
			a.Log.Error().Err(err).Msg("database pool metrics not registered")
		}
	}
}
