package apperr

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text validates a free-text input field: trimmed, valid UTF-8 without control characters, between
// min and max characters. It returns the trimmed value or a BAD_USER_INPUT error naming the field.
func Text(field, v string, min, max int) (string, error) {
	return text(field, v, min, max, unicode.IsControl)
}

// MultilineText is Text allowing line breaks and tabs (descriptions, notes).
func MultilineText(field, v string, min, max int) (string, error) {
	return text(field, v, min, max, func(r rune) bool {
		return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
	})
}

func text(field, v string, min, max int, bad func(rune) bool) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) || strings.IndexFunc(v, bad) >= 0 {
		return "", Input(field, field+" must be text without control characters")
	}
	n := utf8.RuneCountInString(v)
	if n < min {
		if min == 1 {
			return "", Input(field, field+" is required")
		}
		return "", Input(field, fmt.Sprintf("%s must be at least %d characters", field, min))
	}
	if n > max {
		return "", Input(field, fmt.Sprintf("%s must be at most %d characters", field, max))
	}
	return v, nil
}
