package audit

import (
	"strings"
	"testing"
)

func TestRedactArgs(t *testing.T) {
	t.Parallel()
	type input struct {
		Login    string `json:"login"`
		Password string `json:"password"`
	}
	got := RedactArgs(map[string]any{
		"login": "ann", "password": "hunter2hunter2", "ticket": "bht_x", "paymentToken": "tok_visa",
		"input":  input{Login: "bob", Password: "s3cret-s3cret"},
		"nested": []any{map[string]any{"newPassword": "abc", "name": "keep"}},
	})
	for _, secret := range []string{"hunter2hunter2", "bht_x", "tok_visa", "s3cret-s3cret", `"abc"`} {
		if strings.Contains(got, secret) {
			t.Errorf("%q not redacted: %s", secret, got)
		}
	}
	for _, keep := range []string{`"login":"ann"`, `"login":"bob"`, `"name":"keep"`} {
		if !strings.Contains(got, keep) {
			t.Errorf("%s missing: %s", keep, got)
		}
	}
	if RedactArgs(nil) != "" {
		t.Error("no args should record nothing")
	}
}
