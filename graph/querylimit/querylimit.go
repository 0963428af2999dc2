// Package querylimit bounds the work a GraphQL document may cause before the validator runs: a scan
// of the raw text (nesting, tokens, selection-set width) that allocates nothing, then a parse under a
// token limit and a walk of the AST (depth and field count through fragments, fragments, directives).
// It also finds the query in a JSON request body without decoding the rest. Pure functions, so the
// fuzz targets exercise them directly.
package querylimit

import (
	"fmt"
	"strings"

	"behalf/apperr"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
)

// Limits bound the work a document may cause before validation runs (gqlparser's
// overlapping-fields rule is quadratic in the fields of a selection set).
type Limits struct {
	MaxTokens     int // lexical tokens in the document
	MaxDepth      int // field nesting, through fragments
	MaxWidth      int // selections in one selection set
	MaxFields     int // fields of an operation with every fragment expanded
	MaxFragments  int // fragment definitions
	MaxDirectives int // directives in the document
}

func limitErr(code apperr.Code, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": string(code)}}
}

// Check refuses a document that exceeds the limits: first a scan of the raw text (nesting and an
// upper bound of the token count, no allocation), then a parse under the token limit and a walk of
// the AST. It returns nil for an acceptable document (which may still be invalid GraphQL: the
// validator decides that).
func (l Limits) Check(query string) *gqlerror.Error {
	if err := Scan(l, query); err != nil {
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

// Scan walks the raw text once, allocating nothing: it refuses nesting of braces, brackets and
// parentheses beyond what a document within MaxDepth can need, more tokens than MaxTokens (counting
// every punctuator, name, number and string, ignoring comments), and selection sets with more than
// twice MaxWidth selection names (a name directly in a selection set that does not follow ':' or '@';
// "... on T" counts twice, so the bound only refuses what the exact check would).
func Scan[T ~string | ~[]byte](l Limits, q T) *gqlerror.Error {
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
func (l Limits) CheckDocument(doc *ast.QueryDocument) *gqlerror.Error {
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
	l          Limits
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
