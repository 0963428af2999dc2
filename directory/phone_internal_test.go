package directory

import (
	"regexp"
	"testing"
)

// TestValidPhoneIsTheRegexp: validPhone accepts exactly what ^[0-9+()./ -]{3,40}$ accepts.
func TestValidPhoneIsTheRegexp(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[0-9+()./ -]{3,40}$`)
	for _, p := range []string{"", "12", "123", "+49 30 1234", "(030) 12.34/56-7", "call me", "12a", "١٢٣",
		"1234567890123456789012345678901234567890", "12345678901234567890123456789012345678901", "+++", "12\n3", "12_3", "12:3"} {
		if got, want := validPhone(p), re.MatchString(p); got != want {
			t.Errorf("validPhone(%q) = %v, want %v", p, got, want)
		}
	}
}
