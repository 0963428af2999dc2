package graph

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"behalf/apperr"
	"behalf/config"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

func init() {
	// A refused document is a request error like a parse failure: 400 with graphql-response+json.
	for _, c := range []apperr.Code{apperr.QueryTooLarge, apperr.QueryTooDeep, apperr.QueryTooWide} {
		errcode.RegisterErrorType(string(c), errcode.KindProtocol)
	}
}

// QueryLimits bound the work a document may cause before validation runs (gqlparser's
// overlapping-fields rule is quadratic in the fields of a selection set).
type QueryLimits struct {
	MaxTokens     int // lexical tokens in the document
	MaxDepth      int // field nesting, through fragments
	MaxWidth      int // selections in one selection set
	MaxFields     int // fields of an operation with every fragment expanded
	MaxFragments  int // fragment definitions
	MaxDirectives int // directives in the document
}

// LimitsFrom reads the limits from the configuration.
func LimitsFrom(cfg config.Config) QueryLimits {
	return QueryLimits{
		MaxTokens: cfg.QueryMaxTokens, MaxDepth: cfg.QueryMaxDepth, MaxWidth: cfg.QueryMaxWidth,
		MaxFields: cfg.QueryMaxFields, MaxFragments: cfg.QueryMaxFragments, MaxDirectives: cfg.QueryMaxDirectives,
	}
}

func limitErr(code apperr.Code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": string(code)}}
}

// Check refuses a document that exceeds the limits: first a scan of the raw text (nesting and an
// upper bound of the token count, no allocation), then a parse under the token limit and a walk of
// the AST. It returns nil for an acceptable document (which may still be invalid GraphQL: the
// validator decides that).
func (l QueryLimits) Check(query string) *gqlerror.Error {
	if err := scan(l, query); err != nil {
		return err
	}
	doc, perr := parser.ParseQueryWithTokenLimit(&ast.Source{Input: query}, l.MaxTokens)
	if perr != nil {
		if strings.Contains(perr.Error(), "exceeded token limit") {
			return limitErr(apperr.QueryTooLarge, "the query has more than %d tokens", l.MaxTokens)
		}
		if strings.Contains(perr.Error(), "exceeded maximum nesting depth") {
			return limitErr(apperr.QueryTooDeep, "the query nests deeper than %d levels", l.MaxDepth)
		}
		return nil // a syntax error: gqlgen reports it with its own code
	}
	return l.CheckDocument(doc)
}

// scan walks the raw text once, allocating nothing: it refuses nesting of braces, brackets and
// parentheses beyond what a document within MaxDepth can need, more tokens than MaxTokens (counting
// every punctuator, name, number and string, ignoring comments), and selection sets with more than
// twice MaxWidth selection names (a name directly in a selection set that does not follow ':' or '@';
// "... on T" counts twice, so the bound only refuses what the exact check would).
func scan[T ~string | ~[]byte](l QueryLimits, q T) *gqlerror.Error {
	maxNest := l.MaxDepth + 16 // argument values (objects, lists) nest inside the selection depth
	var stack [64]byte         // open brackets, for the nesting levels that matter
	var width [64]int          // selection names per open brace
	depth, tokens := 0, 0
	var prev byte // previous significant token: a punctuator, or 'n' for a name or value
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '#':
			for i < len(q) && q[i] != '\n' && q[i] != '\r' {
				i++
			}
			continue
		case c == '"':
			tokens++
			prev = 'n'
			if hasPrefix(q, i, `"""`) {
				j := i + 3
				for ; j+2 < len(q); j++ {
					if q[j] == '"' && q[j+1] == '"' && q[j+2] == '"' && q[j-1] != '\\' {
						break
					}
				}
				if j+2 >= len(q) {
					return nil // unterminated: the parser reports it
				}
				i = j + 2
				break
			}
			for i++; i < len(q) && q[i] != '"' && q[i] != '\n'; i++ {
				if q[i] == '\\' {
					i++
				}
			}
		case c == '{' || c == '[' || c == '(':
			tokens++
			if depth >= maxNest {
				return limitErr(apperr.QueryTooDeep, "the query nests deeper than %d levels", l.MaxDepth)
			}
			if depth < len(stack) {
				stack[depth], width[depth] = c, 0
			}
			depth++
			prev = c
		case c == '}' || c == ']' || c == ')':
			tokens++
			if depth > 0 {
				depth--
			}
			prev = c
		case c == '.' && hasPrefix(q, i, "..."):
			tokens++
			i += 2
			prev = '.'
		case c == '!' || c == '$' || c == '&' || c == ':' || c == '=' || c == '@' || c == '|':
			tokens++
			prev = c
		case c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			tokens++
			for i+1 < len(q) && (q[i+1] == '_' || q[i+1] == '.' && c >= '0' && c <= '9' || q[i+1] >= '0' && q[i+1] <= '9' ||
				q[i+1] >= 'a' && q[i+1] <= 'z' || q[i+1] >= 'A' && q[i+1] <= 'Z' || q[i+1] == '+' || q[i+1] == '-') {
				i++
			}
			if depth > 0 && depth <= len(stack) && stack[depth-1] == '{' && prev != ':' && prev != '@' && prev != '$' {
				width[depth-1]++
				if width[depth-1] > 2*l.MaxWidth {
					return limitErr(apperr.QueryTooWide, "a selection set has more than %d fields", l.MaxWidth)
				}
			}
			prev = 'n'
		}
		if tokens > l.MaxTokens {
			return limitErr(apperr.QueryTooLarge, "the query has more than %d tokens", l.MaxTokens)
		}
	}
	return nil
}

func hasPrefix[T ~string | ~[]byte](q T, i int, p string) bool {
	if len(q)-i < len(p) {
		return false
	}
	for k := 0; k < len(p); k++ {
		if q[i+k] != p[k] {
			return false
		}
	}
	return true
}

// CheckDocument walks a parsed document: selection-set width, directive and fragment counts, and, per
// operation, depth and the number of fields with fragments expanded (memoised per fragment, so a
// fragment bomb costs one visit per fragment, not 2^n).
func (l QueryLimits) CheckDocument(doc *ast.QueryDocument) *gqlerror.Error {
	if len(doc.Fragments) > l.MaxFragments {
		return limitErr(apperr.QueryTooWide, "the query defines more than %d fragments", l.MaxFragments)
	}
	w := &docWalk{l: l, frags: map[string]*fragCost{}}
	for _, f := range doc.Fragments {
		w.frags[f.Name] = &fragCost{def: f}
	}
	for _, f := range doc.Fragments {
		w.directives += len(f.Directives)
		if err := w.shape(f.SelectionSet); err != nil {
			return err
		}
	}
	for _, op := range doc.Operations {
		w.directives += len(op.Directives)
		if err := w.shape(op.SelectionSet); err != nil {
			return err
		}
		for _, v := range op.VariableDefinitions {
			w.directives += len(v.Directives)
		}
	}
	if w.directives > l.MaxDirectives {
		return limitErr(apperr.QueryTooWide, "the query has more than %d directives", l.MaxDirectives)
	}
	for _, op := range doc.Operations {
		depth, fields := w.cost(op.SelectionSet)
		if depth > l.MaxDepth {
			return limitErr(apperr.QueryTooDeep, "the query nests deeper than %d levels", l.MaxDepth)
		}
		if fields > l.MaxFields {
			return limitErr(apperr.QueryTooWide, "the query selects more than %d fields", l.MaxFields)
		}
	}
	return nil
}

type fragCost struct {
	def           *ast.FragmentDefinition
	state         int // 0 unvisited, 1 in progress, 2 done
	depth, fields int
}

type docWalk struct {
	l          QueryLimits
	frags      map[string]*fragCost
	directives int
}

// shape checks the width of every selection set and counts directives, without following spreads.
func (w *docWalk) shape(set ast.SelectionSet) *gqlerror.Error {
	if len(set) > w.l.MaxWidth {
		return limitErr(apperr.QueryTooWide, "a selection set has more than %d fields", w.l.MaxWidth)
	}
	for _, s := range set {
		switch s := s.(type) {
		case *ast.Field:
			w.directives += len(s.Directives)
			if err := w.shape(s.SelectionSet); err != nil {
				return err
			}
		case *ast.InlineFragment:
			w.directives += len(s.Directives)
			if err := w.shape(s.SelectionSet); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			w.directives += len(s.Directives)
		}
		if w.directives > w.l.MaxDirectives {
			return limitErr(apperr.QueryTooWide, "the query has more than %d directives", w.l.MaxDirectives)
		}
	}
	return nil
}

// cost returns the depth and the expanded field count of a selection set, both saturating just past
// their limits. Cyclic or unknown spreads count as empty: validation refuses them.
func (w *docWalk) cost(set ast.SelectionSet) (depth, fields int) {
	for _, s := range set {
		var d, f int
		switch s := s.(type) {
		case *ast.Field:
			d, f = w.cost(s.SelectionSet)
			d, f = d+1, f+1
		case *ast.InlineFragment:
			d, f = w.cost(s.SelectionSet)
		case *ast.FragmentSpread:
			fc := w.frags[s.Name]
			if fc == nil || fc.state == 1 {
				continue
			}
			if fc.state == 0 {
				fc.state = 1
				fc.depth, fc.fields = w.cost(fc.def.SelectionSet)
				fc.state = 2
			}
			d, f = fc.depth, fc.fields
		}
		depth = max(depth, d)
		fields = min(fields+f, w.l.MaxFields+1)
	}
	return min(depth, w.l.MaxDepth+1), fields
}

// queryLimitsExtension runs QueryLimits.Check on every document not already in the query cache (a
// cached document was checked and validated before), ahead of gqlgen's parse and validation.
type queryLimitsExtension struct {
	limits QueryLimits
	cache  graphql.Cache[*ast.QueryDocument]
}

var (
	_ graphql.HandlerExtension          = queryLimitsExtension{}
	_ graphql.OperationParameterMutator = queryLimitsExtension{}
)

func (queryLimitsExtension) ExtensionName() string                          { return "QueryLimits" }
func (queryLimitsExtension) Validate(schema graphql.ExecutableSchema) error { return nil }

func (e queryLimitsExtension) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if e.cache != nil {
		if _, ok := e.cache.Get(ctx, p.Query); ok {
			return nil
		}
	}
	return e.limits.Check(p.Query)
}

// limitBody refuses a request body over max bytes with 413 and QUERY_TOO_LARGE before anything reads
// it: at once when Content-Length says so, else while reading. A JSON body is buffered (at most max
// bytes) and its query scanned by QueryLimits before the transport decodes the JSON, so an abusive
// document costs microseconds. Multipart requests have their own, larger limit (limitMultipart).
func limitBody(max int64, limits QueryLimits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := strings.ToLower(r.Header.Get("Content-Type"))
		if r.Body == nil || r.Body == http.NoBody || strings.HasPrefix(ct, "multipart/") {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			w.Header().Set("Connection", "close")
			writeError(w, http.StatusRequestEntityTooLarge, apperr.QueryTooLarge, fmt.Sprintf("request bodies are limited to %d bytes", max))
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		var body []byte
		var err error
		if r.ContentLength >= 0 {
			body = make([]byte, r.ContentLength)
			_, err = io.ReadFull(r.Body, body)
		} else {
			body, err = io.ReadAll(io.LimitReader(r.Body, max+1))
		}
		if err != nil {
			writeError(w, http.StatusBadRequest, apperr.BadRequest, "could not read the request body")
			return
		}
		if int64(len(body)) > max {
			tooLarge()
			return
		}
		if r.Method == http.MethodPost && strings.HasPrefix(ct, "application/json") {
			if q, ok := jsonQuery(body); ok {
				if gerr := scan(limits, q); gerr != nil {
					writeError(w, http.StatusBadRequest, apperr.Code(gerr.Extensions["code"].(string)), gerr.Message)
					return
				}
			}
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
