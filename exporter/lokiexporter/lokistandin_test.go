package lokiexporter

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/grafana/loki/pkg/push"
)

// standInLoki is an httptest server in place of Loki's distributor. Grafana
// Loki cannot be installed here: Debian's package named "loki" is an unrelated
// genetics tool (MCMC linkage analysis), and nothing else packages Loki. So
// this server decodes a push the way Loki's push handler does — snappy block
// format, then logproto.PushRequest unmarshalled by the very package Loki's
// distributor uses (github.com/grafana/loki/pkg/push) — and refuses what Loki
// would refuse: a wrong method or content type, a body that is not snappy
// protobuf, a labels string its parser rejects, a stream without labels.
type standInLoki struct {
	t   *testing.T
	srv *httptest.Server

	// arrived gets one value per push request, after it is recorded.
	arrived chan struct{}

	mu        sync.Mutex
	pushes    []receivedPush
	responses []scriptedResponse // popped one per request; empty means 204
}

type receivedPush struct {
	at      time.Time
	path    string
	tenant  string
	header  http.Header
	req     push.PushRequest
	decoded error // why Loki would have answered 400, nil if it would not
}

type scriptedResponse struct {
	status     int
	retryAfter string
	body       string
}

func newStandInLoki(t *testing.T, responses ...scriptedResponse) *standInLoki {
	t.Helper()
	l := &standInLoki{t: t, arrived: make(chan struct{}, 1000), responses: responses}
	l.srv = httptest.NewServer(http.HandlerFunc(l.handle))
	t.Cleanup(l.srv.Close)
	return l
}

func (l *standInLoki) handle(w http.ResponseWriter, r *http.Request) {
	p := receivedPush{at: time.Now(), path: r.URL.Path, tenant: r.Header.Get("X-Scope-OrgID"), header: r.Header.Clone()}
	p.decoded = decodePush(r, &p.req)

	l.mu.Lock()
	l.pushes = append(l.pushes, p)
	var resp scriptedResponse
	if len(l.responses) > 0 {
		resp = l.responses[0]
		l.responses = l.responses[1:]
	}
	l.mu.Unlock()

	switch {
	case p.decoded != nil:
		http.Error(w, p.decoded.Error(), http.StatusBadRequest)
	case resp.status != 0:
		if resp.retryAfter != "" {
			w.Header().Set("Retry-After", resp.retryAfter)
		}
		http.Error(w, resp.body, resp.status)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
	l.arrived <- struct{}{}
}

func decodePush(r *http.Request, into *push.PushRequest) error {
	if r.Method != http.MethodPost {
		return fmt.Errorf("method %s, want POST", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		return fmt.Errorf("content type %q, want application/x-protobuf", ct)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" {
		return fmt.Errorf("content encoding %q: Loki's protobuf push is snappy inside the body, never HTTP-compressed", ce)
	}
	compressed, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	raw, err := snappy.Decode(nil, compressed)
	if err != nil {
		return fmt.Errorf("snappy: %w", err)
	}
	if err := into.Unmarshal(raw); err != nil {
		return fmt.Errorf("protobuf: %w", err)
	}
	for _, s := range into.Streams {
		ls, err := parseLabels(s.Labels)
		if err != nil {
			return fmt.Errorf("stream %q: %w", s.Labels, err)
		}
		if len(ls) == 0 {
			return fmt.Errorf("stream %q: at least one label pair is required per stream", s.Labels)
		}
	}
	return nil
}

// parseLabels parses Loki's labels string, {name="value", ...}, with Go
// string escapes as the PromQL lexer accepts them.
func parseLabels(s string) (map[string]string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, errors.New("labels must be enclosed in {}")
	}
	out := map[string]string{}
	rest := strings.TrimSpace(s[1 : len(s)-1])
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("no '=' after a label name in %q", rest)
		}
		name := strings.TrimSpace(rest[:eq])
		if !validLabelName(name) {
			return nil, fmt.Errorf("invalid label name %q", name)
		}
		rest = strings.TrimSpace(rest[eq+1:])
		if rest == "" || rest[0] != '"' {
			return nil, fmt.Errorf("label %s: value must be quoted", name)
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if rest[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(rest) {
			return nil, fmt.Errorf("label %s: unterminated value", name)
		}
		value, err := strconv.Unquote(rest[:end+1])
		if err != nil {
			return nil, fmt.Errorf("label %s: %w", name, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate label name %q", name)
		}
		out[name] = value
		rest = strings.TrimSpace(rest[end+1:])
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("want ',' between labels, got %q", rest)
			}
			rest = strings.TrimSpace(rest[1:])
		}
	}
	return out, nil
}

// waitPushes blocks until n push requests have arrived.
func (l *standInLoki) waitPushes(n int) []receivedPush {
	l.t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-l.arrived:
		case <-time.After(30 * time.Second):
			l.t.Fatalf("waited 30s for push %d of %d", i+1, n)
		}
	}
	return l.received()
}

func (l *standInLoki) received() []receivedPush {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]receivedPush(nil), l.pushes...)
}
