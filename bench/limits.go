package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"
)

// Physical-limit references (docs/benchmark-suite.md), measured by the driver in the same run as the
// suite, on the same machine state: what no implementation on this box can beat.

// Limits are the physical-limit figures of one measurement.
type Limits struct {
	MemcpyGBps    float64     `json:"memcpy_gb_per_s"`         // copy() of MemcpyBytes, median over reps, 1e9 B/s
	FastjsonMBps  float64     `json:"fastjson_parse_mb_per_s"` // fastjson.Parser.ParseBytes on a Telemetry batch, 1e6 B/s
	TCPMBps       float64     `json:"loopback_tcp_mb_per_s"`   // median of 3 TCPBytes transfers over 127.0.0.1 after a warm-up, 1e6 B/s
	HTTPReqps     float64     `json:"http_null_req_per_s"`     // null net/http handler, keep-alive, HTTPConns connections
	ExecMs        float64     `json:"exec_hello_ms"`           // fork+exec+wait of a static hello-world Go binary, median
	FastjsonBytes int         `json:"fastjson_corpus_bytes"`   // size of the parsed batch
	Errors        []string    `json:"errors,omitempty"`        // limits that could not be measured
	Config        LimitConfig `json:"config"`
}

// LimitConfig bounds the measurements.
type LimitConfig struct {
	MemcpyBytes int           `json:"memcpy_bytes"`
	MemcpyReps  int           `json:"memcpy_reps"`
	ParseFor    time.Duration `json:"parse_for_ns"`
	TCPBytes    int64         `json:"tcp_bytes"`
	HTTPFor     time.Duration `json:"http_for_ns"`
	HTTPConns   int           `json:"http_conns"`
	Execs       int           `json:"execs"`
}

// FullLimits is the configuration of docs/benchmark-suite.md.
var FullLimits = LimitConfig{MemcpyBytes: 64 << 20, MemcpyReps: 9, ParseFor: time.Second,
	TCPBytes: 256 << 20, HTTPFor: 2 * time.Second, HTTPConns: 4, Execs: 20}

// QuickLimits is a smoke run: the same measurements, much shorter.
var QuickLimits = LimitConfig{MemcpyBytes: 64 << 20, MemcpyReps: 3, ParseFor: 100 * time.Millisecond,
	TCPBytes: 32 << 20, HTTPFor: 200 * time.Millisecond, HTTPConns: 4, Execs: 5}

// MeasureLimits measures every limit; hello is the path of the static hello-world binary (from
// BuildHello). A limit that fails is recorded in Errors and left at zero.
func MeasureLimits(cfg LimitConfig, hello string) Limits {
	l := Limits{Config: cfg}
	fail := func(what string, err error) { l.Errors = append(l.Errors, what+": "+err.Error()) }
	l.MemcpyGBps = MemcpyGBps(cfg.MemcpyBytes, cfg.MemcpyReps)
	corpus := TelemetryCorpus(1000)
	l.FastjsonBytes = len(corpus)
	var err error
	if l.FastjsonMBps, err = FastjsonMBps(corpus, cfg.ParseFor); err != nil {
		fail("fastjson", err)
	}
	if l.TCPMBps, err = LoopbackTCPMBps(cfg.TCPBytes); err != nil {
		fail("tcp", err)
	}
	if l.HTTPReqps, err = HTTPReqps(cfg.HTTPConns, cfg.HTTPFor); err != nil {
		fail("http", err)
	}
	if hello == "" {
		fail("exec", errors.New("no hello-world binary"))
	} else if l.ExecMs, err = ExecMs(hello, cfg.Execs); err != nil {
		fail("exec", err)
	}
	return l
}

// MemcpyGBps is copy() between two size-byte buffers: the median over reps copies, in GB/s.
func MemcpyGBps(size, reps int) float64 {
	src, dst := make([]byte, size), make([]byte, size)
	for i := range src {
		src[i] = byte(i)
	}
	copy(dst, src) // fault the pages in
	ts := make([]float64, max(reps, 1))
	for i := range ts {
		start := time.Now()
		copy(dst, src)
		ts[i] = float64(size) / time.Since(start).Seconds() / 1e9
	}
	return median(ts)
}

// TelemetryCorpus is one Telemetry API batch of about n events in the shape of
// emulator/internal/telemetry/testdata/telemetry-samples.json: per invocation platform.start, two function log lines (text and
// JSON), an extension line, platform.runtimeDone and platform.report; an init sequence first.
func TelemetryCorpus(n int) []byte {
	const trace = `"tracing":{"spanId":"54565fb41ac79632","type":"X-Amzn-Trace-Id","value":"Root=1-62e900b2-710d76f009d6e7785905449a;Parent=0efbd19962d95b05;Sampled=1"}`
	ev := []string{
		`{"time":"2022-08-02T12:01:23.521Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"nodejs-14.v3","runtimeVersionArn":"arn"}}`,
		`{"time":"2022-08-02T12:01:23.521Z","type":"platform.initRuntimeDone","record":{"initializationType":"on-demand","status":"success"}}`,
		`{"time":"2022-08-02T12:01:23.521Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"init","metrics":{"durationMs":123.0}}}`,
	}
	for i := 0; len(ev) < n; i++ {
		id := fmt.Sprintf("e6b761a9-c52d-415d-b040-%012d", i)
		ev = append(ev,
			`{"time":"2022-08-02T12:01:23.521Z","type":"platform.start","record":{"requestId":"`+id+`","version":"$LATEST",`+trace+`}}`,
			`{"time":"2022-08-02T12:01:23.522Z","type":"function","record":"2022-08-02T12:01:23.522Z\t`+id+`\tINFO\tprocessing order o-42 for customer c-7, 3 items, total 12.50 EUR\n"}`,
			`{"time":"2022-08-02T12:01:23.523Z","type":"function","record":{"timestamp":"2022-08-02T12:01:23.523Z","level":"INFO","requestId":"`+id+`","message":"charged card","amount":12.5}}`,
			`{"time":"2022-08-02T12:01:23.524Z","type":"extension","record":"flushed 3 records\n"}`,
			`{"time":"2022-08-02T12:01:23.544Z","type":"platform.runtimeDone","record":{"requestId":"`+id+`","status":"success",`+trace+`,"spans":[{"name":"responseLatency","start":"2022-08-02T12:01:23.521Z","durationMs":23.02},{"name":"responseDuration","start":"2022-08-02T12:01:23.544Z","durationMs":20}],"metrics":{"durationMs":200.0,"producedBytes":15}}}`,
			`{"time":"2022-08-02T12:01:23.546Z","type":"platform.report","record":{"requestId":"`+id+`","metrics":{"durationMs":220.0,"billedDurationMs":300,"memorySizeMB":128,"maxMemoryUsedMB":90},`+trace+`}}`,
		)
	}
	return []byte("[" + strings.Join(ev, ",") + "]")
}

// FastjsonMBps parses body with one reused fastjson.Parser for about d: the median over ten
// slices of d, in MB/s.
func FastjsonMBps(body []byte, d time.Duration) (float64, error) {
	var p fastjson.Parser
	if _, err := p.ParseBytes(body); err != nil {
		return 0, err
	}
	const slices = 10
	rates := make([]float64, 0, slices)
	for range slices {
		start := time.Now()
		n := 0
		for n == 0 || time.Since(start) < d/slices {
			if _, err := p.ParseBytes(body); err != nil {
				return 0, err
			}
			n++
		}
		rates = append(rates, float64(n*len(body))/time.Since(start).Seconds()/1e6)
	}
	return median(rates), nil
}

// LoopbackTCPMBps is the median of three transfers of total bytes, each over a new 127.0.0.1
// connection, after one unmeasured transfer. One transfer was the whole figure until 2026-12-06,
// and one varies by ±15 % from the next (2,278–3,070 MB/s, six in a row); that day two quiet full
// runs both read 62 % more at their end than at their start, and were flagged for it.
func LoopbackTCPMBps(total int64) (float64, error) {
	if _, err := loopbackTransfer(total); err != nil {
		return 0, err
	}
	rates := make([]float64, 0, 3)
	for range 3 {
		r, err := loopbackTransfer(total)
		if err != nil {
			return 0, err
		}
		rates = append(rates, r)
	}
	return median(rates), nil
}

// loopbackTransfer sends total bytes over one 127.0.0.1 connection in 1 MiB writes, in MB/s from
// the first write to the last byte read.
func loopbackTransfer(total int64) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	type result struct {
		n   int64
		end time.Time
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		n, err := io.Copy(io.Discard, c)
		done <- result{n, time.Now(), err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	buf := bytes.Repeat([]byte("azlens-"), (1<<20)/7+1)[:1<<20]
	start := time.Now()
	var sent int64
	for sent < total {
		k, err := c.Write(buf[:min(int64(len(buf)), total-sent)])
		sent += int64(k)
		if err != nil {
			c.Close()
			<-done
			return 0, err
		}
	}
	if err := c.Close(); err != nil {
		<-done
		return 0, err
	}
	r := <-done
	if r.err != nil {
		return 0, r.err
	}
	if r.n != total {
		return 0, fmt.Errorf("received %d of %d bytes", r.n, total)
	}
	return float64(total) / r.end.Sub(start).Seconds() / 1e6, nil
}

// HTTPReqps is GET requests per second to a null net/http handler over 127.0.0.1, conns
// keep-alive connections each issuing requests back to back, for d.
func HTTPReqps(conns int, d time.Duration) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	url := "http://" + ln.Addr().String() + "/"
	var total atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range max(conns, 1) {
		wg.Go(func() {
			for time.Since(start) < d {
				resp, err := client.Get(url)
				if err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				total.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return 0, err
	}
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, err
	}
	return float64(total.Load()) / elapsed.Seconds(), nil
}

const helloSource = `package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
`

// BuildHello builds a static, stripped hello-world Go binary into dir and returns its path.
func BuildHello(ctx context.Context, dir string) (string, error) {
	src := filepath.Join(dir, "hello-src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.26\n"), 0o644); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(helloSource), 0o644); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "hello")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=", "GOTOOLCHAIN=local")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hello: %w: %s", err, out)
	}
	return bin, nil
}

// ExecMs runs bin n times (after one warm-up run) and returns the median wall time of
// fork + exec + exit + wait, in ms.
func ExecMs(bin string, n int) (float64, error) {
	run := func() (float64, error) {
		start := time.Now()
		out, err := exec.Command(bin).Output()
		d := time.Since(start)
		if err != nil {
			return 0, err
		}
		if string(out) != "hello\n" {
			return 0, fmt.Errorf("unexpected output %q", out)
		}
		return float64(d) / float64(time.Millisecond), nil
	}
	if _, err := run(); err != nil {
		return 0, err
	}
	ts := make([]float64, max(n, 1))
	for i := range ts {
		t, err := run()
		if err != nil {
			return 0, err
		}
		ts[i] = t
	}
	return median(ts), nil
}

// limitRef names one physical-limit figure for stamps and warnings.
type limitRef struct {
	key, name, unit string
	get             func(Limits) float64
}

var limitRefs = []limitRef{
	{"memcpy", "memcpy", "GB/s", func(l Limits) float64 { return l.MemcpyGBps }},
	{"fastjson", "fastjson parse", "MB/s", func(l Limits) float64 { return l.FastjsonMBps }},
	{"tcp", "loopback TCP", "MB/s", func(l Limits) float64 { return l.TCPMBps }},
	{"http", "null net/http", "req/s", func(l Limits) float64 { return l.HTTPReqps }},
	{"exec", "exec hello-world", "ms", func(l Limits) float64 { return l.ExecMs }},
}

func limitByKey(key string) (limitRef, bool) {
	for _, r := range limitRefs {
		if r.key == key {
			return r, true
		}
	}
	return limitRef{}, false
}

// MaxLimitDrift is how far (relative) a physical-limit reference may move between the start and
// the end of a run before the run's figures are flagged: the references measure the machine, so a
// larger move means the machine changed under the benchmarks (other load, frequency scaling), and
// an absolute figure — or a ratio whose two sides ran at different moments — cannot be trusted.
const MaxLimitDrift = 0.25

// TrustWarnings says why a report's figures cannot be trusted: a load average at start above half
// the cores (other processes compete for the CPU the benchmarks measure), or a physical-limit
// reference drifting by more than MaxLimitDrift between start and end. Empty: no reason found.
func TrustWarnings(rep *Report) []string {
	var out []string
	m := rep.Machine
	if half := float64(m.NProc) / 2; m.NProc > 0 && m.LoadStart[0] > half {
		out = append(out, fmt.Sprintf("load average at start %.2f > cores/2 (%d cores)", m.LoadStart[0], m.NProc))
	}
	for _, r := range limitRefs {
		a, b := r.get(rep.Limits.Start), r.get(rep.Limits.End)
		if a <= 0 || b <= 0 {
			continue // not measured
		}
		if d := b/a - 1; d > MaxLimitDrift || d < -MaxLimitDrift {
			out = append(out, fmt.Sprintf("physical limit %s drifted %+.0f %% between start and end (%s → %s %s; more than ±%.0f %%)",
				r.name, 100*d, fmtNum(a), fmtNum(b), r.unit, 100*MaxLimitDrift))
		}
	}
	return out
}
