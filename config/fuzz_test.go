package config

import (
	"io"
	"strings"
	"testing"
)

// FuzzSettings gives one setting an arbitrary value: Load accepts it or refuses it naming the setting,
// and never panics.
func FuzzSettings(f *testing.F) {
	f.Add(0, "90s")
	f.Add(5, "12")
	f.Add(len(Settings)-1, "10.0.0.0/8, 192.0.2.1")
	f.Fuzz(func(t *testing.T, i int, v string) {
		if i < 0 {
			i = -i
		}
		s := Settings[i%len(Settings)]
		if s.Flag == "db" || strings.TrimSpace(v) == "" {
			return
		}
		_, err := Load(nil, func(k string) string {
			if k == s.Env {
				return v
			}
			return ""
		}, io.Discard)
		if err != nil && !strings.Contains(err.Error(), s.Env) {
			t.Fatalf("%s=%q: error %q does not name the setting", s.Env, v, err)
		}
	})
}
