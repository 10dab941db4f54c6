package lambdatelemetryreceiver

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// TestReadBody: a body with a Content-Length within the limit is read into a buffer of exactly
// that size (io.ReadAll's final copy is rounded up to the allocator's size class: 303,104 bytes of
// capacity for this body); short and long bodies, missing or oversized lengths behave as
// io.ReadAll does.
func TestReadBody(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789"), 30_001) // 300,010 bytes: no power of two
	req := func(b []byte, length int64) *http.Request {
		r := httptest.NewRequest(http.MethodPost, TelemetryPath, bytes.NewReader(b))
		r.ContentLength = length
		return r
	}
	got, err := readBody(req(body, int64(len(body))), 1<<20)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("exact length: %d bytes, %v", len(got), err)
	}
	if cap(got) != len(body) {
		t.Errorf("buffer cap %d for a %d-byte body: not sized from Content-Length", cap(got), len(body))
	}

	for _, c := range []struct {
		name   string
		length int64
		limit  int64
		body   []byte
		want   []byte
		err    error
	}{
		{"no length (chunked, decompressed)", -1, 1 << 20, body, body, nil},
		{"length above the limit: not trusted for sizing", 2 << 20, 1 << 20, body, body, nil},
		{"no limit configured: bounded by the default", int64(len(body)), 0, body, body, nil},
		{"body shorter than its length", int64(len(body)) + 5, 1 << 20, body, nil, io.ErrUnexpectedEOF},
		{"empty body with a length", 10, 1 << 20, nil, nil, io.ErrUnexpectedEOF},
		{"body longer than its length", 100, 1 << 20, body, body, nil},
		{"zero length", 0, 1 << 20, nil, []byte{}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := readBody(req(c.body, c.length), c.limit)
			if !errors.Is(err, c.err) {
				t.Fatalf("error %v, want %v", err, c.err)
			}
			if c.err == nil && !bytes.Equal(got, c.want) {
				t.Errorf("got %d bytes, want %d", len(got), len(c.want))
			}
		})
	}

	// The limit still holds on the bytes: http.MaxBytesReader's error comes through for the
	// handler to answer 413.
	rec := httptest.NewRecorder()
	r := req(body, -1)
	r.Body = http.MaxBytesReader(rec, r.Body, 1000)
	var tooLarge *http.MaxBytesError
	if _, err := readBody(r, 1000); !errors.As(err, &tooLarge) {
		t.Errorf("over the limit: %v, want *http.MaxBytesError", err)
	}
}

// writeAccepted answers exactly what writeJSON did with json.Marshal of acceptedResponse.
func TestWriteAcceptedMatchesJSON(t *testing.T) {
	for _, n := range []int{0, 7, 140, 1 << 40} {
		want, err := json.Marshal(acceptedResponse{Accepted: n})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeAccepted(rec, n)
		if rec.Code != http.StatusOK || rec.Body.String() != string(want) {
			t.Fatalf("n=%d: %d %q, want 200 %q", n, rec.Code, rec.Body.String(), want)
		}
		if ct, cl := rec.Header().Get("Content-Type"), rec.Header().Get("Content-Length"); ct != "application/json" || cl != strconv.Itoa(len(want)) {
			t.Fatalf("n=%d: Content-Type %q, Content-Length %q", n, ct, cl)
		}
	}
}
