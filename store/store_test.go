package store

import (
	"strings"
	"testing"
)

func TestParseDSN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dsn, dialect, driver string }{
		{"postgres://u:p@h:5432/db", Postgres, "postgres://u:p@h:5432/db"},
		{"postgresql://h/db", Postgres, "postgresql://h/db"},
		{"sqlite:behalf.db", SQLite, "behalf.db"},
		{"sqlite:///var/lib/behalf.db", SQLite, "/var/lib/behalf.db"},
	} {
		d, drv, err := ParseDSN(tc.dsn)
		if err != nil || d != tc.dialect || drv != tc.driver {
			t.Errorf("ParseDSN(%q) = %q %q %v", tc.dsn, d, drv, err)
		}
	}
	for _, bad := range []string{"", "sqlite:", "mysql://u:secret@h/db"} {
		_, _, err := ParseDSN(bad)
		if err == nil {
			t.Errorf("ParseDSN(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

func TestWordsAndSearchText(t *testing.T) {
	t.Parallel()
	if got := SearchText("Anna-Lena", "O'Brien", "a.b@x.example"); got != " anna lena o brien a b x example " {
		t.Errorf("SearchText = %q", got)
	}
	if got := Words("  ÅNGSTRÖM, zoë!! "); strings.Join(got, "|") != "ångström|zoë" {
		t.Errorf("Words = %q", got)
	}
}
