package config

import (
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestPrecedenceFlagOverEnvOverDefault(t *testing.T) {
	env := map[string]string{"BEHALF_SESSION_TTL": "2h", "BEHALF_SESSION_IDLE": "10m", "DATABASE_URL": "postgres://x@y/z"}
	c, err := Load([]string{"--session-ttl", "3h", "--demo"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.SessionTTL != 3*time.Hour || c.SessionIdle != 10*time.Minute || c.OnBehalfTTL != time.Hour || !c.Demo || !c.DBExplicit || c.DB != "postgres://x@y/z" {
		t.Fatalf("%+v", c)
	}
	d := Defaults()
	if d.DBExplicit || d.DB != DefaultDB || d.OnBehalfTicketTTL != 2*time.Minute || d.OnBehalfConsent != "opt-out" || d.Production() {
		t.Fatalf("defaults %+v", d)
	}
}

func TestInvalidValuesNameTheSetting(t *testing.T) {
	for env, val := range map[string]string{
		"BEHALF_SESSION_TTL": "12", "BEHALF_ONBEHALF_TICKET_TTL": "11m", "BEHALF_ONBEHALF_TTL": "1s",
		"BEHALF_ENV": "prod", "BEHALF_LOG_LEVEL": "loud", "BEHALF_DB_MAX_OPEN_CONNS": "0",
		"BEHALF_UPLOAD_MAX_BYTES": "10", "BEHALF_STOREFRONT_URL": "ftp://x", "BEHALF_DEMO": "yes please",
	} {
		_, err := Load(nil, func(k string) string {
			if k == env {
				return val
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("%s=%s: %v", env, val, err)
		}
	}
}

// TestREADMEDocumentsEverySetting keeps the README's configuration table complete.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range Settings {
		if !strings.Contains(string(b), "`"+s.Env+"`") || !strings.Contains(string(b), "`--"+s.Flag+"`") {
			t.Errorf("README.md does not document %s / --%s", s.Env, s.Flag)
		}
	}
}
