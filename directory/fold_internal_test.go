package directory

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestFoldASCIIIsFoldUnicode: the ASCII fast path folds exactly as the general path, on names,
// e-mails, punctuation, over-long words and random ASCII.
func TestFoldASCIIIsFoldUnicode(t *testing.T) {
	t.Parallel()
	texts := []string{"", " ", "Anna-Lena", "O'Brien", "u1.beck@org2.example", "JOHN  SMITH", "a_b-c.d+e",
		"x1y2Z3", strings.Repeat("Long", 20) + " word", strings.Repeat("a", 64), strings.Repeat("B", 65), "\t\x00\x7f~"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		b := make([]byte, r.IntN(90))
		for i := range b {
			b[i] = byte(r.IntN(128))
		}
		texts = append(texts, string(b))
	}
	for _, s := range texts {
		if got, want := foldASCII(s), foldUnicode(s); !slices.Equal(got, want) {
			t.Errorf("foldASCII(%q) = %q, want %q", s, got, want)
		}
	}
	if got := Fold("Jürgen Müller"); !slices.Equal(got, []string{"jurgen", "muller"}) {
		t.Errorf("Fold of non-ASCII text = %q", got)
	}
}
