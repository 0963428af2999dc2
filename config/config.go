// Package config is behalf's one settings struct, read from flags and BEHALF_* environment variables
// (each flag has an env twin) and validated at start with a message naming the bad setting.
package config

import (
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of the server.
type Config struct {
	Addr                string
	DB                  string
	DBExplicit          bool // --db or DATABASE_URL given (else the embedded default is used)
	Demo                bool
	Env                 string
	StorefrontURL       string // without a trailing slash; default: this server's own /storefront
	OnBehalfURL         string // template with {userId} and {ticket}; empty: see OnBehalfURLTemplate
	SessionTTL          time.Duration
	SessionIdle         time.Duration
	OnBehalfTTL         time.Duration
	OnBehalfIdle        time.Duration
	OnBehalfTicketTTL   time.Duration
	OnBehalfConsent     string
	LastSeenInterval    time.Duration
	IdentityCacheSize   int
	ChangeHeartbeat     time.Duration
	ListenDB            string
	MaxConcurrentHashes int
	HashWait            time.Duration
	HashWorker          string // idle, low or off (see security.HashWorker)
	HashIdleWait        time.Duration
	HashRate            float64
	HashClientRate      float64
	DBMaxOpenConns      int
	DBMaxIdleConns      int
	DBConnMaxLifetime   time.Duration
	ComplexityLimit     int
	QueryCacheSize      int
	CORSOrigins         []string
	LogLevel            string
	LogFormat           string
	ShutdownTimeout     time.Duration
	UploadMaxBytes      int64
	MetricsAddr         string
	ServiceAudiences    []string
	ServiceTokenIssuer  string
	ServiceTokenTTL     time.Duration
	ServiceKeyRotation  time.Duration
	ServiceKeySecret    string

	// Abuse and fault limits (issue 12).
	MaxBodyBytes       int64
	QueryMaxTokens     int
	QueryMaxDepth      int
	QueryMaxWidth      int
	QueryMaxFields     int
	QueryMaxFragments  int
	QueryMaxDirectives int
	RequestTimeout     time.Duration
	DBAcquireTimeout   time.Duration
	DBStatementTimeout time.Duration
	LoginIPFailures    int
	LoginIPWindow      time.Duration
	TrustedProxies     []netip.Prefix
	TestCardGateway    bool
	HashQueue          int
	// Integrations (webhooks and e-mail through the outbox).
	SMTPURL              string
	SMTPFrom             string
	WebhookAllowPrivate  bool
	WebhookTimeout       time.Duration
	WebhookMaxAttempts   int
	WebhookBackoff       time.Duration
	WebhookSecretOverlap time.Duration
	OutboxPollInterval   time.Duration
	// Audit trail (issue 8).
	AuditKeyFile            string
	AuditCheckpointEvents   int
	AuditCheckpointInterval time.Duration
}

// defaultHashSlots is the default number of concurrent password hashes: half the cores, at least one.
func defaultHashSlots() int { return max(1, runtime.NumCPU()/2) }

// DefaultDB is the embedded database used when no DSN is given.
const DefaultDB = "sqlite:behalf.db"

// Production reports whether BEHALF_ENV=production (introspection off).
func (c Config) Production() bool { return c.Env == "production" }

// Setting documents one setting; Settings is the table the README's configuration section mirrors.
type Setting struct {
	Flag, Env, Default, Usage string
	set                       func(c *Config, v string) error
}

func dur(get func(c *Config) *time.Duration, min, max time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("not a duration (use e.g. 90s, 2m, 12h)")
		}
		if d < min || (max > 0 && d > max) {
			if max > 0 {
				return fmt.Errorf("must be between %s and %s", min, max)
			}
			return fmt.Errorf("must be at least %s", min)
		}
		*get(c) = d
		return nil
	}
}

func integer(get func(c *Config) *int, min int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		if n < min {
			return fmt.Errorf("must be at least %d", min)
		}
		*get(c) = n
		return nil
	}
}

func oneOf(get func(c *Config) *string, vals ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, ok := range vals {
			if v == ok {
				*get(c) = v
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(vals, ", "))
	}
}

// Settings lists every setting with its flag, env twin and default.
var Settings = []Setting{
	{"addr", "BEHALF_ADDR", ":8080", "HTTP listen address", func(c *Config, v string) error { c.Addr = v; return nil }},
	{"db", "DATABASE_URL", DefaultDB, "database DSN: postgres://… or sqlite:PATH", func(c *Config, v string) error { c.DB = v; return nil }},
	{"demo", "BEHALF_DEMO", "false", "load demo data (always on for the default embedded database)", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		c.Demo = b
		return nil
	}},
	{"env", "BEHALF_ENV", "development", "development or production (production turns introspection off)", oneOf(func(c *Config) *string { return &c.Env }, "development", "production")},
	{"storefront-url", "BEHALF_STOREFRONT_URL", "", "storefront base URL for login-on-behalf links (default: this server's own /storefront, http://HOST:PORT/storefront from --addr)", func(c *Config, v string) error {
		if v == "" {
			c.StorefrontURL = ""
			return nil
		}
		if !absoluteHTTP(v) {
			return fmt.Errorf("must be an absolute http(s) URL")
		}
		c.StorefrontURL = strings.TrimRight(v, "/")
		return nil
	}},
	{"onbehalf-url", "BEHALF_ONBEHALF_URL", "", "template of the login-on-behalf link with {userId} and {ticket} (default: BEHALF_STOREFRONT_URL/account/impersonate/{userId}#ticket={ticket})", func(c *Config, v string) error {
		c.OnBehalfURL = ""
		if v == "" {
			return nil
		}
		if !strings.Contains(v, "{ticket}") {
			return fmt.Errorf("must contain {ticket} (and usually {userId})")
		}
		if !absoluteHTTP(strings.NewReplacer("{userId}", "u", "{ticket}", "t").Replace(v)) {
			return fmt.Errorf("must be an absolute http(s) URL")
		}
		if i := strings.Index(v, "{ticket}"); !strings.Contains(v[:i], "#") {
			return fmt.Errorf("{ticket} must be in the fragment (after #), which browsers never send to servers")
		}
		c.OnBehalfURL = v
		return nil
	}},
	{"session-ttl", "BEHALF_SESSION_TTL", "12h", "absolute lifetime of a session", dur(func(c *Config) *time.Duration { return &c.SessionTTL }, time.Minute, 0)},
	{"session-idle", "BEHALF_SESSION_IDLE", "1h", "idle timeout of a session", dur(func(c *Config) *time.Duration { return &c.SessionIdle }, time.Minute, 0)},
	{"onbehalf-ttl", "BEHALF_ONBEHALF_TTL", "60m", "absolute lifetime of a login-on-behalf session", dur(func(c *Config) *time.Duration { return &c.OnBehalfTTL }, time.Minute, 24*time.Hour)},
	{"onbehalf-idle", "BEHALF_ONBEHALF_IDLE", "15m", "idle timeout of a login-on-behalf session", dur(func(c *Config) *time.Duration { return &c.OnBehalfIdle }, time.Minute, 24*time.Hour)},
	{"onbehalf-ticket-ttl", "BEHALF_ONBEHALF_TICKET_TTL", "2m", "lifetime of a login-on-behalf ticket (at most 10m)", dur(func(c *Config) *time.Duration { return &c.OnBehalfTicketTTL }, 10*time.Second, 10*time.Minute)},
	{"onbehalf-consent", "BEHALF_ONBEHALF_CONSENT", "opt-out", "opt-out (allowed unless the customer refuses) or opt-in", oneOf(func(c *Config) *string { return &c.OnBehalfConsent }, "opt-out", "opt-in")},
	{"last-seen-interval", "BEHALF_LAST_SEEN_INTERVAL", "1m", "how often the last-seen and last-used stamps of busy sessions and API keys are written (one statement per interval)", dur(func(c *Config) *time.Duration { return &c.LastSeenInterval }, time.Second, time.Hour)},
	{"identity-cache-size", "BEHALF_IDENTITY_CACHE_SIZE", "10000", "credentials whose identity is kept in memory (0: read the database on every request)", integer(func(c *Config) *int { return &c.IdentityCacheSize }, 0)},
	{"change-heartbeat", "BEHALF_CHANGE_HEARTBEAT", "1s", "PostgreSQL: how often the change listener checks its connection; silent for two, the identity cache is bypassed", dur(func(c *Config) *time.Duration { return &c.ChangeHeartbeat }, 10*time.Millisecond, time.Minute)},
	{"listen-db", "BEHALF_LISTEN_DB", "", "PostgreSQL: DSN of a direct connection for the change listener (default: the --db DSN); set it when --db goes through PgBouncer in transaction mode", func(c *Config, v string) error {
		if v != "" && !strings.HasPrefix(v, "postgres://") && !strings.HasPrefix(v, "postgresql://") {
			return fmt.Errorf("must be a postgres:// URL")
		}
		c.ListenDB = v
		return nil
	}},
	{"max-concurrent-hashes", "BEHALF_MAX_CONCURRENT_HASHES", strconv.Itoa(defaultHashSlots()), "password hashes computed at once (half the cores, at least one); beyond, a short queue", integer(func(c *Config) *int { return &c.MaxConcurrentHashes }, 1)},
	{"hash-queue", "BEHALF_HASH_QUEUE", strconv.Itoa(4 * defaultHashSlots()), "logins waiting for a hashing slot; beyond, 429 TOO_MANY_REQUESTS with a Retry-After estimated from the queue", integer(func(c *Config) *int { return &c.HashQueue }, 0)},
	{"hash-wait", "BEHALF_HASH_WAIT", "2s", "how long a login waits for a hashing slot", dur(func(c *Config) *time.Duration { return &c.HashWait }, 0, time.Minute)},
	{"hash-rate", "BEHALF_HASH_RATE", strconv.Itoa(2 * runtime.NumCPU()), "password verifications (logins, confirmations) per second (two per core); beyond, 429 TOO_MANY_REQUESTS with a Retry-After spreading the refused over the time the rate needs to serve them (0: no cap)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("hash-rate: want a number >= 0, got %q", v)
		}
		c.HashRate = f
		return nil
	}},
	{"hash-client-rate", "BEHALF_HASH_CLIENT_RATE", strconv.Itoa(runtime.NumCPU()), "password verifications per second one client address may take of the hash rate (one per core: half of it); beyond, 429 with a Retry-After spread over the time its share needs to serve its refused requests, so one client sending logins as fast as it can cannot keep everyone else at 429 (0: no share)", func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("hash-client-rate: want a number >= 0, got %q", v)
		}
		c.HashClientRate = f
		return nil
	}},
	{"hash-idle-wait", "BEHALF_HASH_IDLE_WAIT", "1s", "how long a login's hash waits in the hash worker for spare CPU before the server computes it itself at normal priority (bounds login latency on a saturated machine; 0: no bound)", dur(func(c *Config) *time.Duration { return &c.HashIdleWait }, 0, time.Minute)},
	{"hash-worker", "BEHALF_HASH_WORKER", "idle", "where the server computes password hashes: idle (a worker process at the lowest CPU priority, SCHED_IDLE), low (a worker process at nice 19) or off (in the server, at normal priority)", oneOf(func(c *Config) *string { return &c.HashWorker }, "idle", "low", "off")},
	{"db-max-open-conns", "BEHALF_DB_MAX_OPEN_CONNS", "20", "database connection pool size", integer(func(c *Config) *int { return &c.DBMaxOpenConns }, 1)},
	{"db-max-idle-conns", "BEHALF_DB_MAX_IDLE_CONNS", "20", "idle connections kept", integer(func(c *Config) *int { return &c.DBMaxIdleConns }, 0)},
	{"db-conn-max-lifetime", "BEHALF_DB_CONN_MAX_LIFETIME", "30m", "recycle connections after", dur(func(c *Config) *time.Duration { return &c.DBConnMaxLifetime }, time.Second, 0)},
	{"complexity-limit", "BEHALF_COMPLEXITY_LIMIT", "1000", "maximum query complexity", integer(func(c *Config) *int { return &c.ComplexityLimit }, 10)},
	{"query-cache-size", "BEHALF_QUERY_CACHE_SIZE", "1000", "parsed queries kept in the LRU cache", integer(func(c *Config) *int { return &c.QueryCacheSize }, 1)},
	{"cors-origins", "BEHALF_CORS_ORIGINS", "", "comma-separated origins allowed by CORS (storefront, admin console)", func(c *Config, v string) error {
		c.CORSOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				c.CORSOrigins = append(c.CORSOrigins, o)
			}
		}
		return nil
	}},
	{"log-level", "BEHALF_LOG_LEVEL", "info", "debug, info, warn or error", oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{"log-format", "BEHALF_LOG_FORMAT", "json", "json or console", oneOf(func(c *Config) *string { return &c.LogFormat }, "json", "console")},
	{"shutdown-timeout", "BEHALF_SHUTDOWN_TIMEOUT", "20s", "how long in-flight requests may finish at shutdown", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout }, time.Second, 10*time.Minute)},
	{"upload-max-bytes", "BEHALF_UPLOAD_MAX_BYTES", "2097152", "largest file accepted by addToCartFromFile", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("must be a number of bytes ≥ 1024")
		}
		c.UploadMaxBytes = n
		return nil
	}},
	{"metrics-addr", "BEHALF_METRICS_ADDR", "", "listen address of the Prometheus /metrics endpoint (off when empty)", func(c *Config, v string) error { c.MetricsAddr = v; return nil }},
	{"service-audiences", "BEHALF_SERVICE_AUDIENCES", "", "comma-separated audiences a session token may be exchanged for at POST /oauth/token", func(c *Config, v string) error {
		c.ServiceAudiences = nil
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				c.ServiceAudiences = append(c.ServiceAudiences, a)
			}
		}
		return nil
	}},
	{"service-token-issuer", "BEHALF_SERVICE_TOKEN_ISSUER", "behalf", "iss claim of service tokens (e.g. this server's public URL)", func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("must not be empty")
		}
		c.ServiceTokenIssuer = v
		return nil
	}},
	{"service-token-ttl", "BEHALF_SERVICE_TOKEN_TTL", "5m", "lifetime of a service token (at most 5m)", dur(func(c *Config) *time.Duration { return &c.ServiceTokenTTL }, 10*time.Second, 5*time.Minute)},
	{"service-key-rotation", "BEHALF_SERVICE_KEY_ROTATION", "24h", "how long a service-token signing key signs before a new one takes over", dur(func(c *Config) *time.Duration { return &c.ServiceKeyRotation }, 10*time.Minute, 90*24*time.Hour)},
	{"service-key-secret", "BEHALF_SERVICE_KEY_SECRET", "", "secret sealing the service-token signing keys in the database (AES-256-GCM); stored unsealed when empty", func(c *Config, v string) error { c.ServiceKeySecret = v; return nil }},
	{"max-body-bytes", "BEHALF_MAX_BODY_BYTES", "1048576", "largest JSON request body (multipart bodies: the upload limit); beyond, 413 QUERY_TOO_LARGE", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1024 {
			return fmt.Errorf("must be a number of bytes ≥ 1024")
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"query-max-tokens", "BEHALF_QUERY_MAX_TOKENS", "10000", "most lexical tokens in a query document; beyond, QUERY_TOO_LARGE", integer(func(c *Config) *int { return &c.QueryMaxTokens }, 100)},
	{"query-max-depth", "BEHALF_QUERY_MAX_DEPTH", "15", "deepest field nesting, through fragments; beyond, QUERY_TOO_DEEP", integer(func(c *Config) *int { return &c.QueryMaxDepth }, 2)},
	{"query-max-width", "BEHALF_QUERY_MAX_WIDTH", "100", "most fields, aliases and spreads in one selection set; beyond, QUERY_TOO_WIDE", integer(func(c *Config) *int { return &c.QueryMaxWidth }, 10)},
	{"query-max-fields", "BEHALF_QUERY_MAX_FIELDS", "1000", "most fields in an operation with its fragments expanded; beyond, QUERY_TOO_WIDE", integer(func(c *Config) *int { return &c.QueryMaxFields }, 10)},
	{"query-max-fragments", "BEHALF_QUERY_MAX_FRAGMENTS", "50", "most fragment definitions in a document; beyond, QUERY_TOO_WIDE", integer(func(c *Config) *int { return &c.QueryMaxFragments }, 1)},
	{"query-max-directives", "BEHALF_QUERY_MAX_DIRECTIVES", "50", "most directives in a document; beyond, QUERY_TOO_WIDE", integer(func(c *Config) *int { return &c.QueryMaxDirectives }, 1)},
	{"request-timeout", "BEHALF_REQUEST_TIMEOUT", "15s", "deadline of one request (resolvers and SQL observe it); beyond, TIMEOUT", dur(func(c *Config) *time.Duration { return &c.RequestTimeout }, 100*time.Millisecond, 10*time.Minute)},
	{"db-acquire-timeout", "BEHALF_DB_ACQUIRE_TIMEOUT", "3s", "how long a request waits for a pool connection; beyond, 503", dur(func(c *Config) *time.Duration { return &c.DBAcquireTimeout }, 10*time.Millisecond, time.Minute)},
	{"db-statement-timeout", "BEHALF_DB_STATEMENT_TIMEOUT", "10s", "PostgreSQL statement_timeout of the server's connections", dur(func(c *Config) *time.Duration { return &c.DBStatementTimeout }, 10*time.Millisecond, 10*time.Minute)},
	{"login-ip-failures", "BEHALF_LOGIN_IP_FAILURES", "100", "wrong passwords one client address may send per login-ip-window; beyond, TOO_MANY_REQUESTS", integer(func(c *Config) *int { return &c.LoginIPFailures }, 1)},
	{"login-ip-window", "BEHALF_LOGIN_IP_WINDOW", "15m", "window of login-ip-failures", dur(func(c *Config) *time.Duration { return &c.LoginIPWindow }, time.Second, 24*time.Hour)},
	{"trusted-proxies", "BEHALF_TRUSTED_PROXIES", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded name the client", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			pr, err := netip.ParsePrefix(p)
			if err != nil {
				a, aerr := netip.ParseAddr(p)
				if aerr != nil {
					return fmt.Errorf("%q is not a CIDR or address", p)
				}
				pr = netip.PrefixFrom(a, a.BitLen())
			}
			c.TrustedProxies = append(c.TrustedProxies, pr.Masked())
		}
		return nil
	}},
	{"test-card-gateway", "BEHALF_TEST_CARD_GATEWAY", "", "accept the test card gateway (default: on except in production)", func(c *Config, v string) error {
		if v == "" {
			c.TestCardGateway = !c.Production()
			return nil
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		c.TestCardGateway = b
		return nil
	}},
	{"smtp-url", "BEHALF_SMTP_URL", "", "SMTP server for e-mail to customers, smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…; empty: no e-mail", func(c *Config, v string) error {
		if v != "" {
			u, err := url.Parse(v)
			if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
				return fmt.Errorf("must look like smtp://user:pass@host:587 or smtps://user:pass@host:465")
			}
		}
		c.SMTPURL = v
		return nil
	}},
	{"smtp-from", "BEHALF_SMTP_FROM", "", "From address of e-mails (default behalf@<SMTP host>)", func(c *Config, v string) error {
		if _, err := mail.ParseAddress(v); v != "" && err != nil {
			return fmt.Errorf("must be an e-mail address")
		}
		c.SMTPFrom = v
		return nil
	}},
	{"webhook-allow-private", "BEHALF_WEBHOOK_ALLOW_PRIVATE", "false", "allow webhook targets on private, loopback and link-local addresses", func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("must be true or false")
		}
		c.WebhookAllowPrivate = b
		return nil
	}},
	{"webhook-timeout", "BEHALF_WEBHOOK_TIMEOUT", "10s", "time limit of one webhook or e-mail delivery attempt", dur(func(c *Config) *time.Duration { return &c.WebhookTimeout }, 100*time.Millisecond, 5*time.Minute)},
	{"webhook-max-attempts", "BEHALF_WEBHOOK_MAX_ATTEMPTS", "8", "delivery attempts before an event is dead-lettered (DEAD)", integer(func(c *Config) *int { return &c.WebhookMaxAttempts }, 1)},
	{"webhook-backoff", "BEHALF_WEBHOOK_BACKOFF", "30s", "delay before the first retry, doubled after each failure (at most 1h), with jitter", dur(func(c *Config) *time.Duration { return &c.WebhookBackoff }, time.Millisecond, time.Hour)},
	{"webhook-secret-overlap", "BEHALF_WEBHOOK_SECRET_OVERLAP", "24h", "how long a rotated-out webhook secret keeps signing next to the new one", dur(func(c *Config) *time.Duration { return &c.WebhookSecretOverlap }, time.Minute, 30*24*time.Hour)},
	{"outbox-poll-interval", "BEHALF_OUTBOX_POLL_INTERVAL", "5s", "how often the outbox dispatcher looks for due deliveries (it also wakes at once after a local commit)", dur(func(c *Config) *time.Duration { return &c.OutboxPollInterval }, 10*time.Millisecond, time.Hour)},
	{"audit-key-file", "BEHALF_AUDIT_KEY_FILE", "", "Ed25519 key signing audit checkpoints (default: behalf-audit.key beside the embedded database, generated on first start; none on PostgreSQL)", func(c *Config, v string) error { c.AuditKeyFile = v; return nil }},
	{"audit-checkpoint-events", "BEHALF_AUDIT_CHECKPOINT_EVENTS", "1000", "sign an audit checkpoint after this many events (0: by time only)", integer(func(c *Config) *int { return &c.AuditCheckpointEvents }, 0)},
	{"audit-checkpoint-interval", "BEHALF_AUDIT_CHECKPOINT_INTERVAL", "10m", "and at least this often while events arrive", dur(func(c *Config) *time.Duration { return &c.AuditCheckpointInterval }, time.Second, 24*time.Hour)},
}

func absoluteHTTP(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// PublicBaseURL is how this server is reached from a browser when nothing else says so: http, the
// host of Addr (localhost when it is empty or a wildcard address) and its port. It is derived from the
// listen address rather than from request headers, so that a forged Host header cannot change links.
func (c Config) PublicBaseURL() string {
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		host, port = "", "8080"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// OnBehalfURLTemplate is the template of OnBehalfTicket.url: BEHALF_ONBEHALF_URL, else
// BEHALF_STOREFRONT_URL (else this server's own /storefront) + /account/impersonate/{userId}#ticket={ticket}.
func (c Config) OnBehalfURLTemplate() string {
	if c.OnBehalfURL != "" {
		return c.OnBehalfURL
	}
	base := c.StorefrontURL
	if base == "" {
		base = c.PublicBaseURL() + "/storefront"
	}
	return base + "/account/impersonate/{userId}#ticket={ticket}"
}

// Defaults returns the configuration with every default applied.
func Defaults() Config {
	c, err := Load(nil, func(string) string { return "" }, io.Discard)
	if err != nil {
		panic(err)
	}
	return c
}

// Load reads settings from args (flags) and env: a flag wins over its env twin, which wins over the
// default. Errors name the setting.
func Load(args []string, env func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("behalf serve", flag.ContinueOnError)
	fs.SetOutput(out)
	vals := make([]*string, len(Settings))
	var demo *bool
	for i, s := range Settings {
		usage := fmt.Sprintf("%s (env %s, default %q)", s.Usage, s.Env, s.Default)
		if s.Flag == "demo" {
			demo = fs.Bool(s.Flag, false, usage)
			vals[i] = new(string)
			continue
		}
		vals[i] = fs.String(s.Flag, "", usage)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for i, s := range Settings {
		v, from := s.Default, ""
		if e := env(s.Env); e != "" {
			v, from = e, s.Env
		}
		if set[s.Flag] {
			v, from = *vals[i], "--"+s.Flag
		}
		if s.Flag == "demo" && set["demo"] {
			v = strconv.FormatBool(*demo)
		}
		if from != "" && s.Flag == "db" {
			c.DBExplicit = true
		}
		if err := s.set(&c, v); err != nil {
			name := s.Env + " (--" + s.Flag + ")"
			return c, fmt.Errorf("invalid setting %s = %q: %v", name, v, err)
		}
	}
	return c, nil
}
