package querylimit

import (
	"bytes"
	"strconv"
	"unicode/utf8"
)

// JSONQuery finds the "query" member of a JSON request object and returns it unescaped, without
// decoding the rest of the body (encoding/json takes milliseconds for a few hundred KB; this takes
// microseconds). ok is false when body is not an object with a string "query" member; the transport
// then decodes it and reports what is wrong.
func JSONQuery(body []byte) (query []byte, ok bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return nil, false
	}
	i++
	for {
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != '"' {
			return nil, false
		}
		keyStart := i
		end, ok := skipString(body, i)
		if !ok {
			return nil, false
		}
		key := body[keyStart:end]
		i = skipSpace(body, end)
		if i >= len(body) || body[i] != ':' {
			return nil, false
		}
		i = skipSpace(body, i+1)
		if string(key) == `"query"` {
			if i >= len(body) || body[i] != '"' {
				return nil, false
			}
			end, ok := skipString(body, i)
			if !ok {
				return nil, false
			}
			return unquoteJSON(body[i:end])
		}
		if i, ok = skipValue(body, i); !ok {
			return nil, false
		}
		i = skipSpace(body, i)
		if i >= len(body) || body[i] != ',' {
			return nil, false
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the JSON string starting at b[i] == '"': the next quote
// not preceded by an odd number of backslashes (found with bytes.IndexByte, which is vectorised).
func skipString(b []byte, i int) (int, bool) {
	for i++; i < len(b); {
		k := bytes.IndexByte(b[i:], '"')
		if k < 0 {
			return 0, false
		}
		j := i + k
		n := 0
		for j-1-n >= i && b[j-1-n] == '\\' {
			n++
		}
		if n%2 == 0 {
			return j + 1, true
		}
		i = j + 1
	}
	return 0, false
}

// skipValue returns the index just past the JSON value starting at b[i] (nesting kept in a counter).
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
		}
		return 0, false
	default: // a number, true, false or null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i, true
			}
		}
		return 0, false
	}
}

// unquoteJSON decodes a quoted JSON string; one without escapes is returned in place.
func unquoteJSON(q []byte) ([]byte, bool) {
	s := q[1 : len(q)-1]
	if bytes.IndexByte(s, '\\') < 0 {
		return s, utf8.Valid(s) // invalid UTF-8: leave it to encoding/json (which substitutes U+FFFD)
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if k := bytes.IndexByte(s[i:], '\\'); k != 0 { // copy the run up to the next escape at once
			if k < 0 {
				k = len(s) - i
			}
			out = append(out, s[i:i+k]...)
			i += k - 1
			continue
		}
		i++
		if i >= len(s) {
			return nil, false
		}
		switch s[i] {
		case '"', '\\', '/':
			out = append(out, s[i])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+4 >= len(s) {
				return nil, false
			}
			r, err := strconv.ParseUint(string(s[i+1:i+5]), 16, 32)
			if err != nil {
				return nil, false
			}
			i += 4
			ru := rune(r)
			if ru >= 0xD800 && ru < 0xDC00 && i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
				if lo, err := strconv.ParseUint(string(s[i+3:i+7]), 16, 32); err == nil && lo >= 0xDC00 && lo < 0xE000 {
					ru = (ru-0xD800)<<10 + (rune(lo) - 0xDC00) + 0x10000
					i += 6
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			return nil, false
		}
	}
	return out, utf8.Valid(out)
}
