package graph

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/99designs/gqlgen/graphql"
)

// decodeParams fills p from a request body exactly as a json.Decoder with UseNumber does (which
// transport.POST uses), but reads the common body — one valid JSON object whose members are
// "query" and "operationName" (strings or null) and "variables" and "extensions" (objects or null),
// each at most once — without running the whole document through reflection: the strings are sliced
// out, and only the variables and extensions are decoded. Any other body (other or repeated members,
// other value types, invalid JSON) goes through the json.Decoder, so results and error messages stay
// the same.
func decodeParams(body []byte, p *graphql.RawParams) error {
	if !json.Valid(body) || !decodeParamsFast(body, p) {
		*p = graphql.RawParams{}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		return dec.Decode(p)
	}
	return nil
}

// decodeParamsFast is decodeParams' fast path; body is valid JSON. It reports false (p then
// partly filled) when the body is not of the common shape.
func decodeParamsFast(body []byte, p *graphql.RawParams) bool {
	i := skipWS(body, 0)
	if i >= len(body) || body[i] != '{' {
		return false
	}
	var seen [4]bool
	i = skipWS(body, i+1)
	if i < len(body) && body[i] == '}' {
		return true
	}
	for i < len(body) {
		end := stringEnd(body, i)
		key := string(body[i+1 : end-1])
		i = skipWS(body, end)
		i = skipWS(body, i+1) // ':'
		vEnd := valueEnd(body, i)
		v := body[i:vEnd]
		isNull := string(v) == "null"
		switch key {
		case "query", "operationName":
			n := 0
			if key == "operationName" {
				n = 1
			}
			if seen[n] {
				return false
			}
			seen[n] = true
			if isNull {
				break
			}
			if v[0] != '"' {
				return false
			}
			s, ok := jsonString(v)
			if !ok {
				return false
			}
			if n == 0 {
				p.Query = s
			} else {
				p.OperationName = s
			}
		case "variables", "extensions":
			n := 2
			if key == "extensions" {
				n = 3
			}
			if seen[n] {
				return false
			}
			seen[n] = true
			var m map[string]any
			if !isNull {
				if v[0] != '{' {
					return false
				}
				dec := json.NewDecoder(bytes.NewReader(v))
				dec.UseNumber()
				if dec.Decode(&m) != nil {
					return false
				}
			}
			if n == 2 {
				p.Variables = m
			} else {
				p.Extensions = m
			}
		default:
			return false
		}
		i = skipWS(body, vEnd)
		if body[i] == '}' {
			return true
		}
		i = skipWS(body, i+1) // ','
	}
	return false
}

// jsonString decodes a JSON string literal; without escapes and with valid UTF-8 it is the bytes
// between the quotes (encoding/json would replace invalid UTF-8, so that takes the slow path).
func jsonString(v []byte) (string, bool) {
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw), true
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return "", false
	}
	return s, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the string literal starting at b[i] (valid JSON).
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// valueEnd returns the index after the value starting at b[i] (valid JSON).
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = stringEnd(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
		j++
	}
	return j
}
