// Package hostiletest sends the inputs an HTTP surface meets when someone means harm or a client
// goes wrong — oversized bodies, wrong methods and content types, compression bombs, deeply
// nested JSON, headers trickled byte by byte — and checks that each gets its documented 4xx
// within a bounded time while the server keeps serving others. Every surface of azlens that
// takes outside bytes (front door, Lambda APIs, receiver, agent listener and OTLP endpoint, zonal
// shift and FIS APIs) runs its own table through it.
package hostiletest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Case is one hostile request and the answer the surface documents for it.
type Case struct {
	Name    string
	Method  string
	Path    string
	Header  map[string]string
	Body    []byte
	Status  int    // the documented status
	Message string // a fragment the answer's body must contain (it names the problem)
	// Want are headers the answer must carry with these values, e.g. {"Allow": "POST"} on a 405.
	Want map[string]string
	// MaxAlloc, when set, bounds what the whole process allocates while the case is answered
	// (runtime.MemStats.TotalAlloc): a bomb or an oversized body must be refused without being
	// inflated or read past the surface's limit. Only meaningful when nothing else runs in the
	// process meanwhile (no parallel tests).
	MaxAlloc uint64
	// Abort sends the body's bytes and then closes the connection without finishing the request
	// (a Content-Length promising more): a client that dies mid-body. The server must give up on
	// it without an answer (there is no one to answer) and keep serving.
	Abort bool
}

// Deadline bounds every answer: a hostile request must be refused promptly, not after the
// server has read or inflated more than it should.
const Deadline = 10 * time.Second

// Run sends each case to base (http://host:port) and then ok, a request the surface must still
// serve (with ok.Status) after all of them; a zero ok means the caller checks that itself.
func Run(t *testing.T, base string, cases []Case, ok Case) {
	t.Helper()
	client := &http.Client{Timeout: Deadline}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			var before runtime.MemStats
			if c.MaxAlloc > 0 {
				runtime.ReadMemStats(&before)
			}
			start := time.Now()
			if c.Abort {
				abort(t, base, c)
				return
			}
			status, header, body := send(t, client, base, c)
			if status != c.Status || !strings.Contains(body, c.Message) {
				t.Fatalf("%s %s: got %d %q, want %d containing %q", c.Method, c.Path, status, clip(body), c.Status, c.Message)
			}
			for k, v := range c.Want {
				if got := header.Get(k); got != v {
					t.Errorf("%s %s: header %s is %q, want %q", c.Method, c.Path, k, got, v)
				}
			}
			if c.MaxAlloc > 0 {
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				if n := after.TotalAlloc - before.TotalAlloc; n > c.MaxAlloc {
					t.Errorf("%s %s: answering allocated %d bytes, more than %d: the body was read or inflated past the limit", c.Method, c.Path, n, c.MaxAlloc)
				}
			}
			t.Logf("answered %d in %v", status, time.Since(start).Round(time.Millisecond))
		})
	}
	if ok.Method == "" {
		return // the caller checks the surface still serves in its own way
	}
	if status, _, body := send(t, client, base, ok); status != ok.Status {
		t.Fatalf("after the hostile requests, %s %s: got %d %q, want %d", ok.Method, ok.Path, status, clip(body), ok.Status)
	}
}

// abort writes c's request with a Content-Length one byte more than c.Body and closes the
// connection. The server's answer, if any, is not checked: the point is what comes after.
func abort(t *testing.T, base string, c Case) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.DialTimeout("tcp", addr, Deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", c.Method, c.Path, addr, len(c.Body)+1)
	for k, v := range c.Header {
		fmt.Fprintf(&req, "%s: %s\r\n", k, v)
	}
	req.WriteString("\r\n")
	req.Write(c.Body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		t.Fatal(err)
	}
}

func send(t *testing.T, client *http.Client, base string, c Case) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), Deadline)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.Method, base+c.Path, bytes.NewReader(c.Body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.Method, c.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header, string(b)
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// GzipBomb is a small gzip stream that inflates to n bytes of filler inside a JSON string, so a
// server that decompresses without a bound would hold n bytes.
func GzipBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	writeFiller(zw, n)
	_ = zw.Close()
	return buf.Bytes()
}

// ZstdBomb is GzipBomb with zstd.
func ZstdBomb(n int) []byte {
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	writeFiller(zw, n)
	_ = zw.Close()
	return buf.Bytes()
}

func writeFiller(w io.Writer, n int) {
	_, _ = io.WriteString(w, `["`)
	chunk := bytes.Repeat([]byte("a"), 64<<10)
	for left := n; left > 0; left -= len(chunk) {
		_, _ = w.Write(chunk[:min(left, len(chunk))])
	}
	_, _ = io.WriteString(w, `"]`)
}

// DeepJSON is an array nested depth levels deep: valid JSON that a recursive decoder without a
// depth limit would follow to the bottom of its stack.
func DeepJSON(depth int) []byte {
	return append(bytes.Repeat([]byte("["), depth), bytes.Repeat([]byte("]"), depth)...)
}

// Slowloris opens a connection to addr and trickles a request's header one byte every interval.
// It reports whether the server closed the connection within hold — what a server whose header
// read timeout is shorter than hold does — and checks that ok, another client's request, is
// served meanwhile.
func Slowloris(t *testing.T, addr string, interval, hold time.Duration, ok func() error) (closed bool) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, Deadline)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	peerClosed := make(chan struct{})
	go func() {
		// Whatever the server says (a 408, or nothing), the read ends when it closes.
		_, _ = io.Copy(io.Discard, conn)
		close(peerClosed)
	}()
	served := make(chan error, 1)
	go func() { served <- ok() }()
	defer func() {
		if err := <-served; err != nil {
			t.Errorf("another client was not served while a header trickled in: %v", err)
		}
	}()
	header := []byte("POST / HTTP/1.1\r\nHost: " + addr + "\r\nX-Trickle: " + strings.Repeat("z", 1<<16))
	tick := time.NewTicker(interval)
	defer tick.Stop()
	limit := time.NewTimer(hold)
	defer limit.Stop()
	for i := 0; ; i++ {
		select {
		case <-peerClosed:
			return true
		case <-limit.C:
			return false
		case <-tick.C:
			_, _ = conn.Write(header[i%len(header) : i%len(header)+1])
		}
	}
}
