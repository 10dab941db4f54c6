package lambdatelemetryreceiver

import (
	"errors"
	"io"
	"net/http"
)

// maxPresize bounds the buffer allocated up front from a Content-Length when no body limit is
// configured (confighttp's default max_request_body_size).
const maxPresize = 20 << 20

// readBody reads the whole body into one buffer. io.ReadAll does not know the size: it reads into
// a chain of chunks growing 1.5× from 256 bytes (15 of them for a 120 KB batch) and then copies
// them into a final slice, so every body is allocated twice and copied once more. A declared
// Content-Length gives the size, so the body is read once into a buffer of exactly that size. The
// header only sizes the buffer when it is within the body limit (a lying header cannot make the
// receiver allocate more than it would accept; http.MaxBytesReader still enforces the limit on
// the bytes); without one — chunked, or a decompressed body, whose length confighttp sets to -1 —
// it falls back to io.ReadAll. The buffer is not pooled: the mapper's output refers into it.
func readBody(req *http.Request, limit int64) ([]byte, error) {
	n := req.ContentLength
	if limit <= 0 {
		limit = maxPresize
	}
	if n <= 0 || n > limit {
		return io.ReadAll(req.Body)
	}
	// One byte of room past the declared length tells a body that ends there (the usual case:
	// net/http stops at Content-Length) from one that goes on.
	buf := make([]byte, n+1)
	k, err := io.ReadFull(req.Body, buf)
	switch {
	case err == nil: // more than declared: keep reading, as io.ReadAll would
		rest, err := io.ReadAll(req.Body)
		return append(buf, rest...), err
	case int64(k) == n && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return buf[:n:n], nil
	case errors.Is(err, io.EOF):
		return nil, io.ErrUnexpectedEOF // the body ended before its Content-Length
	default:
		return nil, err
	}
}
