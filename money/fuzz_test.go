package money

import "testing"

// FuzzParse: any accepted amount formats back to a string that parses to the same minor units.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.50", "0.01", "7", "1e3", "-1", "1,000.00", " 3.5 ", "99999999999999999999", "0.001"} {
		f.Add(s, "EUR")
		f.Add(s, "JPY")
	}
	f.Fuzz(func(t *testing.T, amount, currency string) {
		minor, err := Parse(amount, currency)
		if err != nil {
			return
		}
		if minor < 0 {
			t.Fatalf("Parse(%q, %q) = %d", amount, currency, minor)
		}
		back, err := Parse(Format(minor, currency), currency)
		if err != nil || back != minor {
			t.Fatalf("Parse(%q) = %d, formatted %q, parsed back %d, %v", amount, minor, Format(minor, currency), back, err)
		}
	})
}
