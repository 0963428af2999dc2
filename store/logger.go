package store

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Logger sends GORM's logs to zerolog (the request's logger when the context has one). SQL is logged
// with placeholders only: parameter values can hold token hashes, password hashes or personal data.
type Logger struct {
	Base          zerolog.Logger
	SlowThreshold time.Duration
}

var _ logger.Interface = (*Logger)(nil)

func (l *Logger) log(ctx context.Context) *zerolog.Logger {
	if zl := zerolog.Ctx(ctx); zl != nil && zl.GetLevel() != zerolog.Disabled {
		return zl
	}
	return &l.Base
}

// LogMode is part of logger.Interface; levels come from zerolog.
func (l *Logger) LogMode(logger.LogLevel) logger.Interface { return l }

// Info logs an informational message.
func (l *Logger) Info(ctx context.Context, msg string, args ...any) {
	l.log(ctx).Info().Str("component", "gorm").Msgf(msg, args...)
}

// Warn logs a warning.
func (l *Logger) Warn(ctx context.Context, msg string, args ...any) {
	l.log(ctx).Warn().Str("component", "gorm").Msgf(msg, args...)
}

// Error logs an error.
func (l *Logger) Error(ctx context.Context, msg string, args ...any) {
	l.log(ctx).Error().Str("component", "gorm").Msgf(msg, args...)
}

// ParamsFilter drops parameter values, so rendered SQL keeps its placeholders.
func (l *Logger) ParamsFilter(ctx context.Context, sql string, params ...any) (string, []any) {
	return sql, nil
}

// Trace logs failed queries and slow ones; other queries at debug level.
func (l *Logger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	elapsed := time.Since(begin)
	zl := l.log(ctx)
	switch {
	case err != nil && !errors.Is(err, gorm.ErrRecordNotFound) && !errors.Is(err, context.Canceled):
		sql, rows := fc()
		zl.Error().Str("component", "gorm").Err(err).Str("sql", sql).Int64("rows", rows).Dur("elapsed", elapsed).Msg("query failed")
	case l.SlowThreshold > 0 && elapsed > l.SlowThreshold:
		sql, rows := fc()
		zl.Warn().Str("component", "gorm").Str("sql", sql).Int64("rows", rows).Dur("elapsed", elapsed).Msg("slow query")
	case zl.GetLevel() <= zerolog.DebugLevel:
		sql, rows := fc()
		zl.Debug().Str("component", "gorm").Str("sql", sql).Int64("rows", rows).Dur("elapsed", elapsed).Msg("query")
	}
}
