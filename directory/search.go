package directory

// Contact search. Every contact's searchable words (first name, last name, the words of the email)
// are folded in Go — lower case, diacritics removed, "ß" → "ss" — and stored one row per distinct
// word in contact_search_tokens, whose primary key (token, contact_id) is a B-tree in byte order
// (COLLATE "C" on PostgreSQL) that also holds the contact's words and organization. A search word w
// is then the key range [w, w+U+10FFFF), and a page is the first rows of that range in key order
// that pass checks on the row itself (the other search words, listing a contact once, the
// organization): results come sorted by the matching word, then by id, and the cursor is (token,
// contact id). No check probes another row or table, so the only plan that yields key order
// without reading the whole range is that walk, stopping at the LIMIT. See docs/search.md.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"behalf/apperr"
	"behalf/model"
	"behalf/store"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
)

// SearchToken is one row of the contact search index: one of a contact's distinct folded words,
// with all of that contact's words and its organization (so a search checks them on the row).
type SearchToken struct {
	Token     string `gorm:"primaryKey"`
	ContactID string `gorm:"primaryKey"`
	// Words are the contact's distinct folded words in byte order, joined by single spaces: the
	// same string on every row of one contact.
	Words          string
	OrganizationID *string
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
	out := make([]string, 0, 8)
	for _, f := range []string{c.FirstName, c.LastName, c.Email} {
		for _, w := range Fold(f) {
			if !slices.Contains(out, w) { // a contact has a handful of words: no map needed
				out = append(out, w)
			}
		}
	}
	return out
}

// SearchRows returns the search index rows of a contact (its id, names, email and organization
// set): one per distinct folded word, each carrying all the words (byte order, space-separated)
// and the organization. Everything that writes the index builds its rows here: IndexContacts and
// the importer's COPY.
func SearchRows(c *model.Contact) []SearchToken {
	words := ContactTokens(c)
	slices.Sort(words)
	all := strings.Join(words, " ")
	rows := make([]SearchToken, len(words))
	for i, w := range words {
		rows[i] = SearchToken{Token: w, ContactID: c.ID, Words: all, OrganizationID: c.OrganizationID}
	}
	return rows
}

// IndexContacts writes the search rows of contacts that were just created (in db's transaction, if
// any). Everything that creates contacts calls it: createContact, demo data, tests (the importer
// writes the same rows with COPY).
func IndexContacts(ctx context.Context, db *gorm.DB, cs ...*model.Contact) error {
	var rows []SearchToken
	for _, c := range cs {
		rows = append(rows, SearchRows(c)...)
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
// created before the index existed). It costs two single-row reads when there is nothing to do. It
// runs in one transaction holding the demo-data advisory lock, so replicas starting together neither
// index the same contacts twice nor index contacts whose demo transaction writes their rows itself.
func (s *Service) EnsureSearchIndex(ctx context.Context) error {
	return store.RunInTx(ctx, s.db, func(ctx context.Context) error {
		if err := store.XactLock(ctx, s.db, store.LockDemoData); err != nil {
			return err
		}
		db := store.Conn(ctx, s.db)
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
			if err := IndexContacts(ctx, db, cs...); err != nil {
				return err
			}
			after = cs[len(cs)-1].ID
		}
	})
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

// SearchPosition is a place in a search's order: a matching word and a contact id.
type SearchPosition struct{ Token, ContactID string }

// SearchQuery is one page of a contact search.
type SearchQuery struct {
	Words          []string        // folded search words, at least one (more than maxSearchWords are ignored)
	OrganizationID *string         // only this organization's contacts, if set
	After          *SearchPosition // the page starts after this position; nil for the first page
	Limit          int             // rows to read: the page size plus one, to know whether more follow
}

// searchResultColumns are the contact columns a search page returns, after the matching word.
const searchResultColumns = "c.id, c.first_name, c.last_name, c.email, c.phone, c.organization_id, c.created_at"

// SearchWalkCap bounds the index entries one page of a search with several words, or within an
// organization, reads: a page whose walk reaches this many entries before it has found its rows ends
// there, with the rows it found (maybe none), hasNextPage and the cursor at the last entry read, so
// the next page goes on from there. Without it such a page, when its words rarely meet (a common
// word with a rare one, or one letter within a small organization), would read the driving word's
// whole key range, which a signed-in user can choose to be most of the table. 2,000 entries cost
// about 1 ms of database time. A one-word search needs no cap: every entry of its range is a match
// but for a contact's other words in the same range (at most a few per contact).
const SearchWalkCap = 2000

// SearchSQL returns the one statement that reads a search page on the dialect (store.Postgres or
// store.SQLite), with its arguments (placeholders $1, $2, … on PostgreSQL, ? on SQLite): rows of
// (word, matched, contact columns). Rows with matched true are the page's, at most Limit of them, in
// key order for one word; a page of several words or within an organization comes in no particular
// order (sort it by word and id), and may have one more row with matched false: the walk stopped at
// SearchWalkCap entries there, and its position is the page's end cursor (its contact is not a
// result). The benchmark's raw baseline runs the same statement.
//
// It walks the primary key of contact_search_tokens over the driving word's key range, in key
// order, and stops after Limit entries that pass the checks on the entry itself (searchChecks) —
// or, capped, after SearchWalkCap entries; only when the capped walk did not fill the page does a
// second branch walk the range again, without checks, to the cap's entry (a UNION ALL branch runs
// only if the first one leaves the LIMIT unfilled). The contacts of that already limited page are
// then read by primary key, one lookup per row. On PostgreSQL the lookup is a LATERAL subquery that
// cannot be pulled up (OFFSET 0), so it is a nested loop by construction; on SQLite CROSS JOIN
// fixes the loop order.
func SearchSQL(dialect string, q SearchQuery) (string, []any) {
	a := &sqlArgs{dialect: dialect}
	words, drive := searchWords(q.Words)
	yes, no := "true", "false"
	if dialect != store.Postgres {
		yes, no = "1", "0"
	}
	var page string
	// The placeholders are bound (SQLite) in the order of the text.
	if len(words) == 1 && q.OrganizationID == nil {
		where := searchRange(a, "t", words[0], q.After) + " AND " + searchChecks(a, "t", words, drive, nil)
		page = fmt.Sprintf("SELECT t.token, t.contact_id, %s AS ok FROM contact_search_tokens t WHERE %s ORDER BY t.token, t.contact_id LIMIT %d", yes, where, q.Limit)
	} else {
		walk := "SELECT t.token, t.contact_id, t.words, t.organization_id FROM contact_search_tokens t WHERE " +
			searchRange(a, "t", words[drive], q.After) + searchProbes(a, words, drive) +
			fmt.Sprintf(" ORDER BY t.token, t.contact_id LIMIT %d", SearchWalkCap)
		found := fmt.Sprintf("SELECT s.token, s.contact_id, %s AS ok FROM (%s) s WHERE %s LIMIT %d", yes, walk, searchChecks(a, "s", words, drive, q.OrganizationID), q.Limit)
		stop := fmt.Sprintf("SELECT m.token, m.contact_id, %s AS ok FROM contact_search_tokens m WHERE %s ORDER BY m.token, m.contact_id LIMIT 1 OFFSET %d",
			no, searchRange(a, "m", words[drive], q.After), SearchWalkCap-1)
		page = fmt.Sprintf("SELECT u.token, u.contact_id, u.ok FROM (SELECT * FROM (%s) f UNION ALL SELECT * FROM (%s) l) u LIMIT %d", found, stop, q.Limit)
	}
	order := ""
	if len(words) == 1 && q.OrganizationID == nil {
		order = " ORDER BY p.token, p.contact_id"
	}
	if dialect == store.Postgres {
		return "SELECT p.token, p.ok, " + searchResultColumns + " FROM (" + page + ") p CROSS JOIN LATERAL (SELECT " +
			searchResultColumns + " FROM contacts c WHERE c.id = p.contact_id OFFSET 0) c" + order, a.args
	}
	return "SELECT p.token, p.ok, " + searchResultColumns + " FROM (" + page + ") p CROSS JOIN contacts c WHERE c.id = p.contact_id" + order, a.args
}

// countSQL returns the statement that counts every match of a search (totalCount, only when asked).
func countSQL(dialect string, words []string, orgID *string) (string, []any) {
	a := &sqlArgs{dialect: dialect}
	words, drive := searchWords(words)
	where := searchRange(a, "t", words[drive], nil) + " AND " + searchChecks(a, "t", words, drive, orgID) + searchProbes(a, words, drive)
	return "SELECT count(*) FROM contact_search_tokens t WHERE " + where, a.args
}

// sqlArgs collects a statement's arguments and writes their placeholders in the dialect's style:
// $1, $2, … on PostgreSQL (so pgx runs the text as is), ? on SQLite.
type sqlArgs struct {
	dialect string
	args    []any
}

func (a *sqlArgs) add(v any) string {
	a.args = append(a.args, v)
	if a.dialect == store.Postgres {
		return "$" + strconv.Itoa(len(a.args))
	}
	return "?"
}

// searchWords caps the words at maxSearchWords and picks the one that drives the key range: the
// longest (the last of equally long ones).
func searchWords(words []string) ([]string, int) {
	if len(words) > maxSearchWords {
		words = words[:maxSearchWords]
	}
	drive := 0
	for i, w := range words {
		if len(w) >= len(words[drive]) {
			drive = i
		}
	}
	return words, drive
}

// searchRange is the condition on contact_search_tokens (alias t) that bounds the walk: the
// driving word d's key range, after the cursor's position.
func searchRange(a *sqlArgs, t, d string, after *SearchPosition) string {
	// The walk starts after a position: the cursor, or (d, "") — every contact id sorts after "",
	// so that is the range's start. One form for every page; and the planner, which estimates the
	// row comparison and the end bound separately, always expects many rows in the range, which
	// only makes the walk with a LIMIT look cheaper. A cursor before the range (from another
	// search) starts at the range.
	from := SearchPosition{Token: d}
	if after != nil && after.Token >= d {
		from = *after
	}
	return fmt.Sprintf("(%[1]s.token, %[1]s.contact_id) > (%[2]s, %[3]s) AND %[1]s.token < %[4]s", t, a.add(from.Token), a.add(from.ContactID), a.add(d+rangeEnd))
}

// searchChecks is the test, on the walked entry's own columns (alias t), that it is a result: the
// de-duplication, the other words, the optional organization. Every check is on the entry (no
// subquery, no join), so the only plan that yields rows in key order without reading the whole
// range is the range scan of the primary key. The checks are expressions without statistics, which
// the planner expects most rows to pass (x <> 0: 99.5 %; a >= b: a third), so with the LIMIT that
// walk is always its cheapest plan.
func searchChecks(a *sqlArgs, t string, words []string, drive int, orgID *string) string {
	pos := "strpos" // position of a substring, 1-based, 0 when absent
	if a.dialect != store.Postgres {
		pos = "instr"
	}
	var b strings.Builder
	// A contact with several words in the range is listed once, at the smallest: t.words is sorted,
	// so its first word starting with d must be t.token itself.
	fmt.Fprintf(&b, "%[1]s(' ' || %[3]s.words || ' ', %[2]s) >= %[1]s(' ' || %[3]s.words || ' ', ' ' || %[3]s.token || ' ')", pos, a.add(" "+words[drive]), t)
	for i, o := range words {
		if i != drive { // some word of the contact starts with o (folded words hold no space)
			fmt.Fprintf(&b, " AND %s(' ' || %s.words, %s) <> 0", pos, t, a.add(" "+o))
		}
	}
	if orgID != nil {
		// t.organization_id = ?, spelled as a substring test that the planner cannot estimate from
		// the column's statistics (ids hold no space), for the count: as an equality, a small
		// organization's share would make the planner prefer reading and sorting the whole range.
		fmt.Fprintf(&b, " AND %s(' ' || %s.organization_id || ' ', %s) <> 0", pos, t, a.add(" "+*orgID+" "))
	}
	return b.String()
}

// searchProbes checks once, before the walk (uncorrelated subqueries), that every other word
// matches some entry at all: when one matches nothing (a typo), the walk of the driving range is
// skipped and the page is empty, with no next page. The first index entry at or after o must start
// with o. Written as ORDER BY … LIMIT 1, whose only cheap plan is one index descent (an EXISTS could
// become a sequential scan, hoping to meet a match early).
func searchProbes(a *sqlArgs, words []string, drive int) string {
	var b strings.Builder
	for i, o := range words {
		if i != drive {
			b.WriteString(" AND (SELECT x.token FROM contact_search_tokens x WHERE x.token >= " + a.add(o) +
				" ORDER BY x.token LIMIT 1) < " + a.add(o+rangeEnd))
		}
	}
	return b.String()
}

// searchContacts answers a contact search (words already folded, at least one), optionally within
// one organization, with one statement per page (and one more for totalCount, only when asked).
func (s *Service) searchContacts(ctx context.Context, words []string, orgID *string, page store.PageArgs) (*model.ContactConnection, error) {
	limit, err := page.Limit()
	if err != nil {
		return nil, err
	}
	q := SearchQuery{Words: words, OrganizationID: orgID, Limit: limit + 1}
	if page.After != nil && *page.After != "" {
		tok, id, err := decodeSearchCursor(*page.After)
		if err != nil {
			return nil, apperr.Input("after", "invalid cursor")
		}
		q.After = &SearchPosition{Token: tok, ContactID: id}
	}
	conn := &model.ContactConnection{PageInfo: &model.PageInfo{}}
	if limit > 0 {
		var stop *string
		if conn.Edges, stop, err = s.searchPage(ctx, q); err != nil {
			return nil, err
		}
		if len(conn.Edges) > limit {
			conn.Edges, conn.PageInfo.HasNextPage = conn.Edges[:limit], true
		}
		if n := len(conn.Edges); n > 0 {
			conn.PageInfo.EndCursor = &conn.Edges[n-1].Cursor
		}
		if stop != nil { // the walk stopped at its cap: the next page goes on after the last entry read
			conn.PageInfo.HasNextPage, conn.PageInfo.EndCursor = true, stop
		}
	}
	dialect := store.Dialect(s.db)
	conn.Count = func(ctx context.Context) (int, error) {
		stmt, args := countSQL(dialect, words, orgID)
		begin := time.Now()
		var n int
		err := s.db.Statement.ConnPool.QueryRowContext(ctx, stmt, args...).Scan(&n)
		s.db.Logger.Trace(ctx, begin, func() (string, int64) { return stmt, 1 }, err)
		if err != nil {
			return 0, fmt.Errorf("count contacts found: %w", err)
		}
		return n, nil
	}
	return conn, nil
}

// searchPage runs a page's statement on the pool GORM uses (with its acquire timeout) and scans the
// rows straight into contacts, without GORM's statement building and reflection; failed and slow
// statements are logged by GORM's logger as any other. On PostgreSQL the statement runs with its
// cached generic plan (store.QueryGenericPlan): its shape is one bounded key-range walk for every
// term (TestSearchPlanIsBoundedWalk), so planning it again per call only costs.
func (s *Service) searchPage(ctx context.Context, q SearchQuery) (edges []*model.ContactEdge, stop *string, err error) {
	dialect := store.Dialect(s.db)
	stmt, args := SearchSQL(dialect, q)
	begin := time.Now()
	defer func() {
		s.db.Logger.Trace(ctx, begin, func() (string, int64) { return stmt, int64(len(edges)) }, err)
		if err != nil {
			err = fmt.Errorf("search contacts: %w", err)
		}
	}()
	// One allocation for the page's contacts and one for its edges.
	p := searchPageRows{
		cs:    make([]model.Contact, 0, q.Limit),
		es:    make([]model.ContactEdge, 0, q.Limit),
		edges: make([]*model.ContactEdge, 0, q.Limit),
		words: make([]string, 0, q.Limit),
	}
	if dialect == store.Postgres {
		err = store.QueryGenericPlan(ctx, s.db, stmt, args, func(rows pgx.Rows) error { return p.scan(rows) })
		return p.edges, p.stop, err
	}
	rows, err := s.db.Statement.ConnPool.QueryContext(ctx, stmt, args...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	if err := p.scan(rows); err != nil {
		return nil, nil, err
	}
	return p.edges, p.stop, rows.Err()
}

// searchPageRows collects a page's rows into contacts and edges, and where the walk stopped at its
// cap (SearchSQL's row that is not a match).
type searchPageRows struct {
	cs    []model.Contact
	es    []model.ContactEdge
	edges []*model.ContactEdge
	words []string // each edge's matching word, to put the edges in key order
	stop  *string
}

// sort puts the edges in key order (word, then contact id): the statement of a search with several
// words or within an organization answers in no particular order.
func (p *searchPageRows) sort() {
	less := func(i, j int) bool {
		if p.words[i] != p.words[j] {
			return p.words[i] < p.words[j]
		}
		return p.edges[i].Node.ID < p.edges[j].Node.ID
	}
	for i := 1; i < len(p.edges); i++ { // insertion sort: at most 101 rows, nearly always in order
		for j := i; j > 0 && less(j, j-1); j-- {
			p.edges[j], p.edges[j-1] = p.edges[j-1], p.edges[j]
			p.words[j], p.words[j-1] = p.words[j-1], p.words[j]
		}
	}
}

// scan reads rows (pgx's or database/sql's: both have Next and Scan) up to the page's capacity.
func (p *searchPageRows) scan(rows interface {
	Next() bool
	Scan(...any) error
}) error {
	var token string
	var match bool
	for len(p.cs) < cap(p.cs) && rows.Next() {
		p.cs = append(p.cs, model.Contact{})
		c := &p.cs[len(p.cs)-1]
		if err := rows.Scan(&token, &match, &c.ID, &c.FirstName, &c.LastName, &c.Email, &c.Phone, &c.OrganizationID, &c.CreatedAt); err != nil {
			return err
		}
		if !match {
			stop := searchCursor(token, c.ID)
			p.stop, p.cs = &stop, p.cs[:len(p.cs)-1]
			continue
		}
		p.es = append(p.es, model.ContactEdge{Cursor: searchCursor(token, c.ID), Node: c})
		p.edges = append(p.edges, &p.es[len(p.es)-1])
		p.words = append(p.words, token)
	}
	p.sort()
	return nil
}
