package apperr

// Codes of refused requests: an oversized or abusive document, a request past its deadline, and a
// transport-level refusal (wrong content type, a mutation over GET, a batch).
const (
	QueryTooLarge Code = "QUERY_TOO_LARGE"
	QueryTooDeep  Code = "QUERY_TOO_DEEP"
	QueryTooWide  Code = "QUERY_TOO_WIDE"
	Timeout       Code = "TIMEOUT"
	BadRequest    Code = "BAD_REQUEST"
)
