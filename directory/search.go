package directory

// Contact search. Every contact's searchable words (first name, last name, the words of the email)
// are folded in Go — lower case, diacritics removed, "ß" → "ss" — and stored one row per distinct
// word in contact_search_tokens, whose primary key (token, contact_id) is a B-tree in byte order
// (COLLATE "C" on PostgreSQL). A search word w is then the key range [w, w+U+10FFFF), and a page is
// the first rows of that range in key order: results come sorted by the matching word, then by id,
// and the cursor is (token, contact id). The work per page is bounded by the page size, not by how
// many contacts match or by statistics: one letter, a common prefix and a prefix matching nothing
// all read a handful of index entries, so there is no plan to flip. With several words, the longest
// one (the last of equally long ones) drives the range, and each other word is an index probe on
// (contact_id, token) per candidate. See docs/search.md.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
)

// SearchToken is one row of the contact search index.
type SearchToken struct {
	Token     string `gorm:"primaryKey"`
	ContactID string `gorm:"primaryKey"`
}

// TableName is the search index table.
func (SearchToken) TableName() string { return "contact_search_tokens" }

// maxTokenLen bounds an indexed word (bytes); longer words are cut, and so are search words.
const maxTokenLen = 64

// maxSearchWords bounds the words of one search.
const maxSearchWords = 8

// rangeEnd is appended to a prefix to form the exclusive end of its key range: U+10FFFF sorts after
// every character in byte order.
const rangeEnd = "\U0010FFFF"

var folds = map[rune]string{'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'þ': "th", 'ð': "d", 'ı': "i"}

// Fold normalizes text into search words: lower case, diacritics removed (Müller → muller,
// Straße → strasse), split at everything that is not a letter or digit.
func Fold(text string) []string {
	for i := 0; i < len(text); i++ {
		if text[i] >= utf8.RuneSelf {
			return foldUnicode(text)
		}
	}
	return foldASCII(text)
}

// foldASCII is Fold for text without a non-ASCII byte (most names and e-mails; an import folds
// millions): NFD changes nothing there, no folds entry applies, and letters and digits are
// [A-Za-z0-9]. The words share one string.
func foldASCII(text string) []string {
	b := make([]byte, len(text))
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			b[i] = c
		case 'A' <= c && c <= 'Z':
			b[i] = c + 'a' - 'A'
		default:
			b[i] = ' '
		}
	}
	all := string(b)
	var words []string
	for i := 0; i < len(all); {
		if all[i] == ' ' {
			i++
			continue
		}
		j := i
		for j < len(all) && all[j] != ' ' {
			j++
		}
		w := all[i:j]
		if len(w) > maxTokenLen {
			w = w[:maxTokenLen]
		}
		words = append(words, w)
		i = j
	}
	return words
}

// foldUnicode is Fold for any text.
func foldUnicode(text string) []string {
	var b strings.Builder
	b.Grow(len(text))
	for _, r := range norm.NFD.String(text) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		r = unicode.ToLower(r)
		if f, ok := folds[r]; ok {
			b.WriteString(f)
			continue
		}
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		if len(w) > maxTokenLen {
			words[i] = strings.ToValidUTF8(w[:maxTokenLen], "") // drop a character cut in half
		}
	}
	return words
}

// ContactTokens returns the distinct search words of a contact.
func ContactTokens(c *model.Contact) []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range []string{c.FirstName, c.LastName, c.Email} {
		for _, w := range Fold(f) {
			if !seen[w] {
				seen[w] = true
				out = append(out, w)
			}
		}
	}
	return out
}

// IndexContacts writes the search words of contacts that were just created (in db's transaction, if
// any). Everything that creates contacts calls it: createContact, the importer, demo data, tests.
func IndexContacts(ctx context.Context, db *gorm.DB, cs ...*model.Contact) error {
	var rows []SearchToken
	for _, c := range cs {
		for _, t := range ContactTokens(c) {
			rows = append(rows, SearchToken{Token: t, ContactID: c.ID})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if err := db.WithContext(ctx).CreateInBatches(rows, 500).Error; err != nil {
		return fmt.Errorf("index %d contacts for search: %w", len(cs), err)
	}
	return nil
}

// EnsureSearchIndex fills the search index when contacts exist but the index is empty (a database
// created before the index existed). It costs two single-row reads when there is nothing to do.
func (s *Service) EnsureSearchIndex(ctx context.Context) error {
	db := s.db.WithContext(ctx)
	var has []string
	if err := db.Model(&SearchToken{}).Limit(1).Pluck("contact_id", &has).Error; err != nil || len(has) > 0 {
		return err
	}
	after := ""
	for {
		var cs []*model.Contact
		if err := db.Select(contactColumns).Where("id > ?", after).Order("id").Limit(1000).Find(&cs).Error; err != nil {
			return fmt.Errorf("reindex contacts: %w", err)
		}
		if len(cs) == 0 {
			return nil
		}
		if err := IndexContacts(ctx, s.db, cs...); err != nil {
			return err
		}
		after = cs[len(cs)-1].ID
	}
}

// contactColumns are the columns a contact is read with (never the write-only search text).
const contactColumns = "id, first_name, last_name, email, phone, organization_id, created_at, updated_at"

// searchCursor is the position after a search result: its matching word and its id.
func searchCursor(token, id string) string { return store.EncodeCursor("s" + token + "\x1f" + id) }

func decodeSearchCursor(c string) (token, id string, err error) {
	s, err := store.DecodeCursor(c)
	if err != nil {
		return "", "", err
	}
	token, id, ok := strings.Cut(strings.TrimPrefix(s, "s"), "\x1f")
	if !ok || !strings.HasPrefix(s, "s") {
		return "", "", errInvalidCursor
	}
	return token, id, nil
}

var errInvalidCursor = errors.New("invalid search cursor")

// searchContacts answers a contact search (words already folded, at least one), optionally within
// one organization.
func (s *Service) searchContacts(ctx context.Context, words []string, orgID *string, page store.PageArgs) (*model.ContactConnection, error) {
	limit, err := page.Limit()
	if err != nil {
		return nil, err
	}
	if len(words) > maxSearchWords {
		words = words[:maxSearchWords]
	}
	drive := 0 // the longest word (the last of equally long ones) drives the key range
	for i, w := range words {
		if len(w) >= len(words[drive]) {
			drive = i
		}
	}
	// filter is everything but the driving range's keyset position: the other words, the dedup of
	// contacts matching the driving word twice, the organization.
	db := s.db.WithContext(ctx)
	w := words[drive]
	filter := func(q *gorm.DB) *gorm.DB {
		q = q.Where("t.token >= ? AND t.token < ?", w, w+rangeEnd).
			// A contact matching the driving word through two words shows once, at the first.
			Where("NOT EXISTS (SELECT 1 FROM contact_search_tokens d WHERE d.contact_id = t.contact_id AND d.token >= ? AND d.token < t.token)", w)
		for i, o := range words {
			if i != drive {
				q = q.Where("EXISTS (SELECT 1 FROM contact_search_tokens o WHERE o.contact_id = t.contact_id AND o.token >= ? AND o.token < ?)", o, o+rangeEnd)
			}
		}
		if orgID != nil {
			q = q.Where("EXISTS (SELECT 1 FROM contacts c WHERE c.id = t.contact_id AND c.organization_id = ?)", *orgID)
		}
		return q
	}
	q := filter(db.Table("contact_search_tokens t"))
	if page.After != nil && *page.After != "" {
		tok, id, err := decodeSearchCursor(*page.After)
		if err != nil {
			return nil, apperr.Input("after", "invalid cursor")
		}
		q = q.Where("(t.token > ? OR (t.token = ? AND t.contact_id > ?))", tok, tok, id)
	}
	var hits []SearchToken
	if limit > 0 {
		if err := q.Select("t.token, t.contact_id").Order("t.token, t.contact_id").Limit(limit + 1).Find(&hits).Error; err != nil {
			return nil, fmt.Errorf("search contacts: %w", err)
		}
	}
	conn := &model.ContactConnection{PageInfo: &model.PageInfo{}}
	if len(hits) > limit {
		hits, conn.PageInfo.HasNextPage = hits[:limit], true
	}
	if len(hits) > 0 {
		ids := make([]string, len(hits))
		for i, h := range hits {
			ids[i] = h.ContactID
		}
		cs, err := store.ByIDs(ctx, db.Select(contactColumns), ids, func(c *model.Contact) string { return c.ID })
		if err != nil {
			return nil, fmt.Errorf("search contacts: %w", err)
		}
		for i, h := range hits {
			if cs[i] != nil {
				conn.Edges = append(conn.Edges, &model.ContactEdge{Cursor: searchCursor(h.Token, h.ContactID), Node: cs[i]})
			}
		}
		c := searchCursor(hits[len(hits)-1].Token, hits[len(hits)-1].ContactID)
		conn.PageInfo.EndCursor = &c
	}
	conn.Count = func(ctx context.Context) (int, error) {
		var n int64
		err := filter(s.db.WithContext(ctx).Table("contact_search_tokens t")).Count(&n).Error
		return int(n), err
	}
	return conn, nil
}
