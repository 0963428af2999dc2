package store

import (
	"strings"
	"testing"
)

// FuzzParseDSN: a DSN is accepted only as one of the two dialects, and an error never echoes a
// password.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"postgres://u:secret@h:5432/db?sslmode=disable", "sqlite:behalf.db", "sqlite:", "mysql://u:secret@h/db", "sqlite://x/y.db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		dialect, driver, err := ParseDSN(dsn)
		if err != nil {
			if i, j := strings.Index(dsn, "://"), strings.LastIndex(dsn, "@"); i >= 0 && j > i+3 {
				if secret := dsn[i+3 : j]; len(secret) > 3 && !strings.Contains(dsn[j:], secret) && strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q echoes the credentials of %q", err, dsn)
				}
			}
			return
		}
		if (dialect != Postgres && dialect != SQLite) || driver == "" {
			t.Fatalf("ParseDSN(%q) = %q, %q", dsn, dialect, driver)
		}
	})
}
