package money

import (
	"math"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		amount, currency string
		want             int64
		ok               bool
	}{
		{"12.5", "EUR", 1250, true},
		{"12.50", "EUR", 1250, true},
		{"0.01", "EUR", 1, true},
		{"7", "EUR", 700, true},
		{"0", "EUR", 0, true},
		{"007.10", "USD", 710, true},
		{" 3.20 ", "GBP", 320, true},
		{"999999999.99", "EUR", 99999999999, true},
		{"1500", "JPY", 1500, true},
		{"1.250", "BHD", 1250, true},
		{"1.5", "JPY", 0, false},
		{"1.234", "EUR", 0, false},
		{"1.2345", "BHD", 0, false},
		{"-1", "EUR", 0, false},
		{"+1", "EUR", 0, false},
		{"abc", "EUR", 0, false},
		{"", "EUR", 0, false},
		{".5", "EUR", 0, false},
		{"5.", "EUR", 0, false},
		{"1,50", "EUR", 0, false},
		{"1e3", "EUR", 0, false},
		{"1 000", "EUR", 0, false},
		{"1000000000", "EUR", 0, false},
		{"99999999999999999999999", "EUR", 0, false},
		{"NaN", "EUR", 0, false},
		{"12.50", "XXX", 0, false},
		{"12.50", "eur", 0, false},
	}
	for _, tt := range tests {
		got, err := Parse(tt.amount, tt.currency)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("Parse(%q,%q) = %d, %v; want %d", tt.amount, tt.currency, got, err, tt.want)
		}
		if !tt.ok && err == nil {
			t.Errorf("Parse(%q,%q) = %d, want an error", tt.amount, tt.currency, got)
		}
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		minor    int64
		currency string
		want     string
	}{
		{1250, "EUR", "12.50"},
		{1, "EUR", "0.01"},
		{0, "EUR", "0.00"},
		{100, "USD", "1.00"},
		{1500, "JPY", "1500"},
		{1250, "BHD", "1.250"},
		{5, "KWD", "0.005"},
		{-250, "EUR", "-2.50"},
		{99999999999, "EUR", "999999999.99"},
	}
	for _, tt := range tests {
		if got := Format(tt.minor, tt.currency); got != tt.want {
			t.Errorf("Format(%d,%s) = %q, want %q", tt.minor, tt.currency, got, tt.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []string{"EUR", "JPY", "BHD"} {
		for _, m := range []int64{0, 1, 9, 10, 99, 100, 12345, 999999999} {
			got, err := Parse(Format(m, c), c)
			if err != nil || got != m {
				t.Errorf("%s %d: round trip gave %d, %v", c, m, got, err)
			}
		}
	}
}

func TestNormalizeCurrency(t *testing.T) {
	if c, err := NormalizeCurrency(" eur "); err != nil || c != "EUR" {
		t.Errorf("NormalizeCurrency(eur) = %q, %v", c, err)
	}
	for _, bad := range []string{"", "EURO", "XYZ", "€"} {
		if _, err := NormalizeCurrency(bad); err == nil {
			t.Errorf("NormalizeCurrency(%q) accepted", bad)
		}
	}
}

func TestMulAdd(t *testing.T) {
	if r, err := Mul(1250, 3); err != nil || r != 3750 {
		t.Errorf("Mul = %d, %v", r, err)
	}
	if _, err := Mul(math.MaxInt64/2, 3); err == nil {
		t.Error("Mul overflow not detected")
	}
	if r, err := Add(1, 2); err != nil || r != 3 {
		t.Errorf("Add = %d, %v", r, err)
	}
	if _, err := Add(math.MaxInt64, 1); err == nil {
		t.Error("Add overflow not detected")
	}
}
