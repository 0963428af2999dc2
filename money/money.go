// Package money handles prices as integer minor units (cents) with an ISO 4217 currency: amounts are
// parsed from and formatted to decimal strings, never through floating point.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// exponents lists the supported ISO 4217 currencies with their number of decimals. A whitelist keeps
// typos ("EUO") out of the catalog and tells us how many decimals an amount may have.
var exponents = map[string]int{
	"EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2,
	"HUF": 2, "CAD": 2, "AUD": 2, "NZD": 2, "SGD": 2, "HKD": 2, "CNY": 2, "INR": 2, "BRL": 2,
	"MXN": 2, "ZAR": 2,
	"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0,
	"BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3,
}

// MaxMajor bounds the integer part of an amount: 999 999 999 units of any currency is more than any
// single price or order line needs, and keeps every total far from int64 overflow.
const MaxMajor = 999_999_999

// Errors returned by Parse; they are safe to show to clients.
var (
	ErrCurrency = errors.New("unsupported currency (use an ISO 4217 code such as EUR)")
	ErrFormat   = errors.New("amount must be a decimal number such as 12.50")
	ErrNegative = errors.New("amount must not be negative")
	ErrTooLarge = errors.New("amount is too large")
	ErrOverflow = errors.New("amount overflows")
)

// Exponent returns the number of decimals of currency, and whether it is supported.
func Exponent(currency string) (int, bool) {
	e, ok := exponents[currency]
	return e, ok
}

// NormalizeCurrency upper-cases and checks a currency code.
func NormalizeCurrency(currency string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(currency))
	if _, ok := exponents[c]; !ok {
		return "", ErrCurrency
	}
	return c, nil
}

// Parse turns a decimal string ("12.5", "12.50", "0.01", "7") into minor units of currency. It refuses
// signs, exponents, thousands separators, more decimals than the currency has, and amounts beyond
// MaxMajor.
func Parse(amount, currency string) (int64, error) {
	exp, ok := exponents[currency]
	if !ok {
		return 0, ErrCurrency
	}
	s := strings.TrimSpace(amount)
	if strings.HasPrefix(s, "-") {
		return 0, ErrNegative
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || !digits(intPart) || (hasDot && (frac == "" || !digits(frac))) {
		return 0, ErrFormat
	}
	if len(frac) > exp {
		return 0, fmt.Errorf("%s has at most %d decimals", currency, exp)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 9 {
		return 0, ErrTooLarge
	}
	major := int64(0)
	if intPart != "" {
		n, err := strconv.ParseInt(intPart, 10, 64)
		if err != nil {
			return 0, ErrFormat
		}
		major = n
	}
	if major > MaxMajor {
		return 0, ErrTooLarge
	}
	frac += strings.Repeat("0", exp-len(frac))
	minor := int64(0)
	if frac != "" {
		n, err := strconv.ParseInt(frac, 10, 64)
		if err != nil {
			return 0, ErrFormat
		}
		minor = n
	}
	return major*pow10(exp) + minor, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// Format renders minor units of currency as a decimal string with exactly the currency's decimals
// ("12.50", "7" for JPY, "1.250" for BHD).
func Format(minor int64, currency string) string {
	exp, ok := exponents[currency]
	if !ok {
		exp = 2
	}
	sign := ""
	if minor < 0 {
		sign = "-"
		if minor == math.MinInt64 {
			return "overflow"
		}
		minor = -minor
	}
	if exp == 0 {
		return sign + strconv.FormatInt(minor, 10)
	}
	p := pow10(exp)
	return fmt.Sprintf("%s%d.%0*d", sign, minor/p, exp, minor%p)
}

// Mul returns minor × n, or ErrOverflow.
func Mul(minor int64, n int64) (int64, error) {
	if minor == 0 || n == 0 {
		return 0, nil
	}
	r := minor * n
	if r/n != minor || (minor > 0) != (n > 0) && r > 0 {
		return 0, ErrOverflow
	}
	return r, nil
}

// Add returns a + b, or ErrOverflow.
func Add(a, b int64) (int64, error) {
	r := a + b
	if (b > 0 && r < a) || (b < 0 && r > a) {
		return 0, ErrOverflow
	}
	return r, nil
}
