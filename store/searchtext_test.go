package store

import (
	"strings"
	"testing"
)

// TestSearchTextIsJoinedWords: the one-pass SearchText gives exactly the words of Words joined by
// spaces between a leading and a trailing space, for ASCII, non-ASCII, case changes that change a
// character's length, invalid UTF-8, and texts without any word.
func TestSearchTextIsJoinedWords(t *testing.T) {
	t.Parallel()
	for _, fields := range [][]string{
		{"Anna-Lena", "O'Brien", "a.b@x.example"},
		{"Jürgen", "MÜLLER", "j.mueller@acme.example"},
		{"ZOË", "Ångström", "", "  "},
		{"İstanbul", "ΣΊΣΥΦΟΣ", "Straße"},
		{"日本語 テキスト", "٣٤٥ arabic digits", "x\xffy"},
		{"", "--", "..."},
		{},
		{"Ünïcode", "abc123", "ABC", "a b"},
	} {
		var words []string
		for _, f := range fields {
			words = append(words, Words(f)...)
		}
		if got, want := SearchText(fields...), " "+strings.Join(words, " ")+" "; got != want {
			t.Errorf("SearchText(%q) = %q, want %q", fields, got, want)
		}
	}
}
