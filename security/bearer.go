package security

import "strings"

// ParseBearer extracts the token of an `Authorization: Bearer <token>` header value (scheme matched
// in any case, surrounding blanks trimmed). ok is false for any other scheme, a missing token, or a
// token with blanks or control characters inside.
func ParseBearer(header string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	if token == "" || len(token) > 4096 {
		return "", false
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c == 0x7f {
			return "", false
		}
	}
	return token, true
}
