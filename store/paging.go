package store

import (
	"context"
	"encoding/base64"
	"strings"
	"unicode"
	"unicode/utf8"

	"behalf/apperr"
	"behalf/model"

	"gorm.io/gorm"
)

// DefaultPageSize and MaxPageSize bound Relay's `first`.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// PageArgs are Relay's forward pagination arguments.
type PageArgs struct {
	First *int
	After *string
}

// EncodeCursor makes an opaque cursor from a row id.
func EncodeCursor(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("c1:" + id))
}

// DecodeCursor reverses EncodeCursor; a malformed cursor is BAD_USER_INPUT.
func DecodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	// A cursor is base64, so it can carry any bytes: PostgreSQL refuses a NUL or invalid UTF-8 in a
	// text parameter with an error (a 500), so such a cursor is refused here.
	if err != nil || !strings.HasPrefix(string(b), "c1:") || len(b) > 200 || !utf8.Valid(b) || strings.IndexByte(string(b), 0) >= 0 {
		return "", apperr.Input("after", "invalid cursor")
	}
	return strings.TrimPrefix(string(b), "c1:"), nil
}

// Limit validates `first`: default 20, capped at 100, negative refused.
func (a PageArgs) Limit() (int, error) {
	if a.First == nil {
		return DefaultPageSize, nil
	}
	n := *a.First
	if n < 0 {
		return 0, apperr.Input("first", "first must not be negative")
	}
	if n > MaxPageSize {
		n = MaxPageSize
	}
	return n, nil
}

// Page runs q as a keyset-paginated query over the time-ordered id column (ascending, or newest
// first with desc) and returns a Relay connection whose total is counted only on demand.
func Page[T any](ctx context.Context, q *gorm.DB, args PageArgs, desc bool, id func(*T) string) (*model.Connection[T], error) {
	limit, err := args.Limit()
	if err != nil {
		return nil, err
	}
	countQ := q.Session(&gorm.Session{})
	pageQ := q.Session(&gorm.Session{})
	if args.After != nil && *args.After != "" {
		after, err := DecodeCursor(*args.After)
		if err != nil {
			return nil, err
		}
		if desc {
			pageQ = pageQ.Where("id < ?", after)
		} else {
			pageQ = pageQ.Where("id > ?", after)
		}
	}
	order := "id"
	if desc {
		order = "id DESC"
	}
	var rows []*T
	if limit > 0 {
		if err := pageQ.Order(order).Limit(limit + 1).Find(&rows).Error; err != nil {
			return nil, err
		}
	}
	conn := &model.Connection[T]{PageInfo: &model.PageInfo{}}
	if len(rows) > limit {
		rows = rows[:limit]
		conn.PageInfo.HasNextPage = true
	}
	for _, r := range rows {
		conn.Edges = append(conn.Edges, &model.Edge[T]{Cursor: EncodeCursor(id(r)), Node: r})
	}
	if n := len(conn.Edges); n > 0 {
		c := conn.Edges[n-1].Cursor
		conn.PageInfo.EndCursor = &c
	}
	conn.Count = func(ctx context.Context) (int, error) {
		var n int64
		err := countQ.WithContext(ctx).Model(new(T)).Count(&n).Error
		return int(n), err
	}
	return conn, nil
}

// Words splits text into lower-case words of letters and digits: the unit that search matches.
func Words(text string) []string {
	return strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// SearchText builds the normalized search column from the searchable fields: space-separated words,
// with a leading and trailing space so that SQLite can match word prefixes with LIKE '% w%'. It is
// the words of Words joined, built in one pass (bulk imports call it once per row).
func SearchText(fields ...string) string {
	n := 2
	for _, f := range fields {
		n += len(f) + 1
	}
	b := make([]byte, 1, n)
	b[0] = ' '
	for _, f := range fields {
		for i := 0; i < len(f); {
			if c := f[i]; c < utf8.RuneSelf {
				i++
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' {
					b = append(b, c)
				} else if b[len(b)-1] != ' ' {
					b = append(b, ' ')
				}
				continue
			}
			r, w := utf8.DecodeRuneInString(f[i:])
			i += w
			if r = unicode.ToLower(r); unicode.IsLetter(r) || unicode.IsDigit(r) {
				b = utf8.AppendRune(b, r)
			} else if b[len(b)-1] != ' ' {
				b = append(b, ' ')
			}
		}
		if b[len(b)-1] != ' ' {
			b = append(b, ' ')
		}
	}
	if len(b) == 1 {
		return "  " // no word: as " " + "" + " "
	}
	return string(b)
}

// MatchWords filters q to rows whose search text has a word starting with each word of search,
// case-insensitively. On PostgreSQL it uses the GIN-indexed tsvector with prefix queries; on SQLite a
// plain LIKE scan. A nil or blank search leaves q unfiltered; a search without any word matches nothing.
func MatchWords(q *gorm.DB, table string, search *string) *gorm.DB {
	if search == nil || strings.TrimSpace(*search) == "" {
		return q
	}
	words := Words(*search)
	if len(words) == 0 {
		return q.Where("1 = 0")
	}
	if len(words) > 8 {
		words = words[:8]
	}
	if Dialect(q) == Postgres {
		terms := make([]string, len(words))
		for i, w := range words {
			terms[i] = w + ":*"
		}
		return q.Where(table+".search_vector @@ to_tsquery('simple', ?)", strings.Join(terms, " & "))
	}
	for _, w := range words {
		q = q.Where(table+".search_text LIKE ?", "% "+w+"%")
	}
	return q
}

// ByIDs loads rows by id and returns them in the order of ids, nil where a row is missing: the shape
// dataloaders need.
func ByIDs[T any](ctx context.Context, db *gorm.DB, ids []string, id func(*T) string) ([]*T, error) {
	var rows []*T
	if err := db.WithContext(ctx).Where("id IN ?", ids).Find(&rows).Error; err != nil {
		return nil, err
	}
	by := make(map[string]*T, len(rows))
	for _, r := range rows {
		by[id(r)] = r
	}
	out := make([]*T, len(ids))
	for i, k := range ids {
		out[i] = by[k]
	}
	return out, nil
}
