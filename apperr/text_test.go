package apperr

import "testing"

func TestText(t *testing.T) {
	for _, tc := range []struct {
		v         string
		min, max  int
		multiline bool
		want      string
		ok        bool
	}{
		{"  Acme  ", 1, 10, false, "Acme", true},
		{"   ", 1, 10, false, "", false},
		{"", 0, 10, false, "", true},
		{"Ærøskøbing", 1, 10, false, "Ærøskøbing", true}, // 10 characters, more bytes
		{"Ærøskøbing!", 1, 10, false, "", false},
		{"two\nlines", 1, 20, false, "", false},
		{"two\nlines\tok", 1, 20, true, "two\nlines\tok", true},
		{"bell\a", 1, 20, true, "", false},
		{"bad \xff utf8", 1, 20, false, "", false},
	} {
		f := Text
		if tc.multiline {
			f = MultilineText
		}
		got, err := f("field", tc.v, tc.min, tc.max)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: %q, %v", tc.v, got, err)
		}
		if err != nil && (CodeOf(err) != BadUserInput || err.(*Error).Field != "field") {
			t.Errorf("%q: error %v", tc.v, err)
		}
	}
}
