package graph

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"

	"behalf/apperr"
	"behalf/config"
)

// requirePreflightForMultipart refuses multipart requests without a non-simple header: browsers send a
// cross-site multipart POST without a CORS preflight, so without this an upload could be forged.
func requirePreflightForMultipart(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/") &&
			r.Header.Get("GraphQL-Require-Preflight") == "" && r.Header.Get("Apollo-Require-Preflight") == "" {
			writeError(w, http.StatusBadRequest, apperr.BadUserInput, "multipart requests need a GraphQL-Require-Preflight header")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// multipartMax is the largest multipart request: the upload limit plus room for the other parts.
func multipartMax(cfg config.Config) int64 { return cfg.UploadMaxBytes + 64<<10 }

// limitMultipart refuses multipart requests over max bytes with 413 and BAD_USER_INPUT, before the
// transport sees them (its own refusal carries no error code). A body of unknown length is buffered up
// to max+1 bytes to find out.
func limitMultipart(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "multipart/") {
			next.ServeHTTP(w, r)
			return
		}
		tooLarge := func() {
			writeError(w, http.StatusRequestEntityTooLarge, apperr.BadUserInput, fmt.Sprintf("multipart requests are limited to %d bytes", max))
		}
		if r.ContentLength > max {
			tooLarge()
			return
		}
		if r.ContentLength < 0 {
			body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil || int64(len(body)) > max {
				tooLarge()
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		next.ServeHTTP(w, r)
	})
}
