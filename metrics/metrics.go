// Package metrics holds behalf's Prometheus metrics: one registry per server (no global state, so tests
// run in parallel), counters that domain code moves through nil-safe one-line calls, and collectors that
// compute gauges (live sessions, outbox lag, connection pool) when scraped. It imports nothing of
// behalf, so every package may use it.
package metrics

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "behalf"

// maxOperations caps the distinct GraphQL operation names used as label values (clients choose the
// names); later names are counted as "other".
const maxOperations = 200

// Metrics is one server's metrics. A nil *Metrics is valid and records nothing, so tests and tools
// that do not care can pass nil.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	httpDuration   *prometheus.HistogramVec
	loginFailures  *prometheus.CounterVec
	loginThrottled prometheus.Counter
	hashWaiting    prometheus.Gauge
	hashActive     prometheus.Gauge
	hashRejected   prometheus.Counter
	auditFailures  prometheus.Counter
	tokenExchanges *prometheus.CounterVec

	mu  sync.Mutex
	ops map[string]bool
}

// New returns a registry with behalf's counters, the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), ops: map[string]bool{}}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "graphql_requests_total",
		Help: "GraphQL requests by operation name, operation type (query, mutation) and first error code (empty when none)."},
		[]string{"operation", "type", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "graphql_request_duration_seconds",
		Help: "GraphQL request latency by operation name and type.", Buckets: prometheus.DefBuckets},
		[]string{"operation", "type"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "http_request_duration_seconds",
		Help: "HTTP request latency by route and status code.", Buckets: prometheus.DefBuckets},
		[]string{"route", "status"})
	m.loginFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "login_failures_total",
		Help: "Refused password checks by reason (UNKNOWN_LOGIN, BAD_PASSWORD, LOCKED, THROTTLED)."}, []string{"reason"})
	m.loginThrottled = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "login_throttles_total",
		Help: "Times an account was put into a throttle delay after repeated wrong passwords."})
	m.hashWaiting = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "password_hash_queue",
		Help: "Password hashes waiting for a hashing slot."})
	m.hashActive = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Name: "password_hashes_in_progress",
		Help: "Password hashes being computed."})
	m.hashRejected = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "password_hash_rejections_total",
		Help: "Password hashes refused with TOO_MANY_REQUESTS because no slot freed in time."})
	m.auditFailures = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "audit_write_failures_total",
		Help: "Audit events that could not be written."})
	m.tokenExchanges = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "token_exchanges_total",
		Help: "Token exchanges at POST /oauth/token by result (issued or the OAuth error code)."}, []string{"result"})
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.httpDuration, m.loginFailures, m.loginThrottled,
		m.hashWaiting, m.hashActive, m.hashRejected, m.auditFailures, m.tokenExchanges,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Register adds a collector (the live-session or outbox collectors, the pool stats) to the registry.
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(c)
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg, MaxRequestsInFlight: 4, Timeout: 10 * time.Second})
}

// Gatherer exposes the registry (tests read values from it).
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

func (m *Metrics) opLabel(name string) string {
	if name == "" {
		return ""
	}
	if len(name) > 64 {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ops[name] {
		return name
	}
	if len(m.ops) >= maxOperations {
		return "other"
	}
	m.ops[name] = true
	return name
}

// GraphQLRequest counts one GraphQL request and its latency; code is the first error's
// extensions.code, "" when it succeeded.
func (m *Metrics) GraphQLRequest(operation, opType, code string, d time.Duration) {
	if m == nil {
		return
	}
	op := m.opLabel(operation)
	m.requests.WithLabelValues(op, opType, code).Inc()
	m.duration.WithLabelValues(op, opType).Observe(d.Seconds())
}

// HTTPRequest records one HTTP request's latency by route (a fixed path, never a client-chosen one).
func (m *Metrics) HTTPRequest(route string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpDuration.WithLabelValues(route, statusLabel(status)).Observe(d.Seconds())
}

func statusLabel(s int) string {
	if s == 0 {
		s = http.StatusOK
	}
	return strconv.Itoa(s)
}

// LoginFailed counts a refused password check by reason code.
func (m *Metrics) LoginFailed(reason string) {
	if m != nil {
		m.loginFailures.WithLabelValues(reason).Inc()
	}
}

// LoginThrottled counts an account entering a throttle delay.
func (m *Metrics) LoginThrottled() {
	if m != nil {
		m.loginThrottled.Inc()
	}
}

// HashWaiting moves the number of hashes waiting for a slot by delta (+1 on queueing, -1 on leaving).
func (m *Metrics) HashWaiting(delta int) {
	if m != nil {
		m.hashWaiting.Add(float64(delta))
	}
}

// HashActive moves the number of hashes being computed by delta.
func (m *Metrics) HashActive(delta int) {
	if m != nil {
		m.hashActive.Add(float64(delta))
	}
}

// HashRejected counts a hash refused for want of a slot.
func (m *Metrics) HashRejected() {
	if m != nil {
		m.hashRejected.Inc()
	}
}

// AuditWriteFailed counts an audit event that could not be written.
func (m *Metrics) AuditWriteFailed() {
	if m != nil {
		m.auditFailures.Inc()
	}
}

// TokenExchange counts a token exchange by result ("issued" or the OAuth error code).
func (m *Metrics) TokenExchange(result string) {
	if m != nil {
		m.tokenExchanges.WithLabelValues(result).Inc()
	}
}

// RegisterDB adds the connection pool statistics (sql.DBStats) as go_sql_* metrics labelled
// db_name="behalf".
func (m *Metrics) RegisterDB(db *sql.DB) error {
	return m.Register(collectors.NewDBStatsCollector(db, Namespace))
}

// scrapeTimeout bounds the database queries a scrape runs.
const scrapeTimeout = 5 * time.Second

// SessionCounter counts live sessions: ordinary ones and login-on-behalf ones.
type SessionCounter func(ctx context.Context) (ordinary, onBehalf int64, err error)

type sessionCollector struct {
	count SessionCounter
	live  *prometheus.Desc
}

// NewSessionCollector returns a collector that counts live sessions when scraped (one small query), as
// behalf_sessions_live{kind="ordinary"|"on_behalf"}.
func NewSessionCollector(count SessionCounter) prometheus.Collector {
	return &sessionCollector{count: count,
		live: prometheus.NewDesc(Namespace+"_sessions_live", "Live sessions by kind (ordinary, on_behalf), counted at scrape time.", []string{"kind"}, nil),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.live }

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ordinary, onBehalf, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.live, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, float64(ordinary), "ordinary")
	ch <- prometheus.MustNewConstMetric(c.live, prometheus.GaugeValue, float64(onBehalf), "on_behalf")
}

// OutboxStats is the state of the event outbox at scrape time.
type OutboxStats struct {
	Pending     int64         // events not yet delivered to every subscriber
	OldestAge   time.Duration // age of the oldest pending event (the outbox lag); 0 when none
	DeadLetters int64         // deliveries that gave up after the last attempt
}

// OutboxReader reads the outbox state; the outbox package provides it.
type OutboxReader func(ctx context.Context) (OutboxStats, error)

type outboxCollector struct {
	read                OutboxReader
	pending, lag, deads *prometheus.Desc
}

// NewOutboxCollector returns a collector reporting behalf_outbox_pending, behalf_outbox_lag_seconds and
// behalf_outbox_dead_letters, read when scraped.
func NewOutboxCollector(read OutboxReader) prometheus.Collector {
	return &outboxCollector{read: read,
		pending: prometheus.NewDesc(Namespace+"_outbox_pending", "Outbox events not yet delivered.", nil, nil),
		lag:     prometheus.NewDesc(Namespace+"_outbox_lag_seconds", "Age of the oldest undelivered outbox event.", nil, nil),
		deads:   prometheus.NewDesc(Namespace+"_outbox_dead_letters", "Deliveries dead-lettered after their last attempt.", nil, nil),
	}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.lag
	ch <- c.deads
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(s.Pending))
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, s.OldestAge.Seconds())
	ch <- prometheus.MustNewConstMetric(c.deads, prometheus.GaugeValue, float64(s.DeadLetters))
}

// Read returns the value of the sample of metric name whose labels include labels (counters, gauges,
// and histograms' sample counts), or an error when there is none. Tests use it.
func Read(g prometheus.Gatherer, name string, labels map[string]string) (float64, error) {
	families, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	samples:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue samples
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), nil
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), nil
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount()), nil
			}
		}
	}
	return 0, fmt.Errorf("no sample of %s with labels %v", name, labels)
}
