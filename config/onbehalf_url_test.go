package config

import (
	"io"
	"strings"
	"testing"
)

// TestOnBehalfURLTemplate: with no settings the ticket link points at this server's own storefront
// (derived from the listen address, never from request headers); BEHALF_STOREFRONT_URL keeps working;
// BEHALF_ONBEHALF_URL replaces the whole template.
func TestOnBehalfURLTemplate(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "http://localhost:8080/storefront/account/impersonate/{userId}#ticket={ticket}"},
		{map[string]string{"BEHALF_ADDR": "127.0.0.1:9000"}, "http://127.0.0.1:9000/storefront/account/impersonate/{userId}#ticket={ticket}"},
		{map[string]string{"BEHALF_ADDR": "0.0.0.0:7000"}, "http://localhost:7000/storefront/account/impersonate/{userId}#ticket={ticket}"},
		{map[string]string{"BEHALF_ADDR": "[::]:7000"}, "http://localhost:7000/storefront/account/impersonate/{userId}#ticket={ticket}"},
		{map[string]string{"BEHALF_STOREFRONT_URL": "https://shop.example.com/"}, "https://shop.example.com/account/impersonate/{userId}#ticket={ticket}"},
		{map[string]string{"BEHALF_STOREFRONT_URL": "https://shop.example.com", "BEHALF_ONBEHALF_URL": "https://shop.example.com/impersonate/{userId}#ticket={ticket}"},
			"https://shop.example.com/impersonate/{userId}#ticket={ticket}"},
	} {
		cfg, err := Load(nil, func(k string) string { return c.env[k] }, io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if got := cfg.OnBehalfURLTemplate(); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
	for _, bad := range []string{
		"https://shop.example.com/impersonate/{userId}",            // no ticket
		"https://shop.example.com/impersonate/{userId}?t={ticket}", // ticket in the query: sent to servers
		"/impersonate/{userId}#ticket={ticket}",                    // not absolute
	} {
		_, err := Load(nil, func(k string) string {
			if k == "BEHALF_ONBEHALF_URL" {
				return bad
			}
			return ""
		}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "BEHALF_ONBEHALF_URL") {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}
