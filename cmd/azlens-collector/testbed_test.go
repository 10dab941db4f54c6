package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azlens/azlens/internal/agentload"
	"github.com/azlens/azlens/internal/contract"
	"github.com/azlens/azlens/internal/e2etest"
	"github.com/azlens/azlens/internal/freeport"
	"github.com/azlens/azlens/internal/procstat"
)

// BenchmarkTestbed is the collector testbed (docs/benchmark-suite.md): the real azlens-collector
// binary as a process of its own, fed over loopback at stepped rates by a load generator speaking
// the agent wire format — batches of 20 complete invocations, each platform.start, four function
// log lines of 100 B–1 KB, runtimeDone and report — and, in the same run and the same process,
// the same invocations as OTLP to the collector's own otlp receiver (the anchor). Three paths:
//
//   - pipeline: lambdatelemetry → azhealth (metrics) → debug exporter (sampled: a no-op sink),
//     traces and logs → debug; what azlens ships;
//   - receiver: a second lambdatelemetry receiver straight to the debug exporter;
//   - otlp: the otlp receiver straight to the debug exporter, fed the spans and log records the
//     receiver makes of the same invocations (agentload.OTLP).
//
// CPU is utime+stime of the collector process only (/proc/PID/stat), so the load generator's own
// work is not counted; RSS is VmRSS at the end of each step. Per path and offered rate (Telemetry
// events/s; the OTLP path is offered the same invocations/s) it reports the achieved rate,
// events and invocations per CPU-second and the RSS. AZLENS_TESTBED_STEP sets a step's length
// (default 3s).
func BenchmarkTestbed(b *testing.B) {
	step := 3 * time.Second
	if v := os.Getenv("AZLENS_TESTBED_STEP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("AZLENS_TESTBED_STEP: %v", err)
		}
		step = d
	}
	bin := builtCollector
	if v := os.Getenv("AZLENS_COLLECTOR_BIN"); v != "" {
		bin = v
	}
	full, bare, otlp := freeport.Addr(b), freeport.Addr(b), freeport.Addr(b)
	c := e2etest.StartCollector(b, bin, fmt.Sprintf(testbedConfig, full, bare, otlp))
	pid := c.PID()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: time.Minute}
	const perBatch = 20
	traces, logs, err := agentload.OTLP(perBatch, "testbed-otlp", "use1-az1")
	if err != nil {
		b.Fatal(err)
	}
	for _, rate := range []int{25_000, 50_000, 100_000, 200_000} {
		batchesPerSec := float64(rate) / float64(perBatch*agentload.EventsPerInvocation)
		for _, path := range []string{"pipeline", "receiver", "otlp"} {
			b.Run(fmt.Sprintf("rate=%d/path=%s", rate, path), func(b *testing.B) {
				gen := agentload.New(perBatch, fmt.Sprintf("testbed-%s-%d", path, rate), "use1-az1")
				var send func(i int) error
				switch path {
				case "otlp":
					send = func(int) error {
						if err := post(client, "http://"+otlp+"/v1/traces", "application/x-protobuf", traces); err != nil {
							return err
						}
						return post(client, "http://"+otlp+"/v1/logs", "application/x-protobuf", logs)
					}
				default:
					addr := full
					if path == "receiver" {
						addr = bare
					}
					var mu sync.Mutex
					send = func(int) error {
						mu.Lock()
						body := gen.Next()
						mu.Unlock()
						return post(client, "http://"+addr+contract.AgentBatchPath, "application/json", body)
					}
				}
				var r stepResult
				for b.Loop() {
					r = runStep(b, pid, batchesPerSec, step, send)
				}
				events := float64(r.batches * perBatch * agentload.EventsPerInvocation)
				invocations := float64(r.batches * perBatch)
				b.ReportMetric(events/r.wall.Seconds(), "events/s")
				b.ReportMetric(events/r.cpu.Seconds(), "events/cpu-s")
				b.ReportMetric(invocations/r.cpu.Seconds(), "invocations/cpu-s")
				b.ReportMetric(r.cpu.Seconds()/r.wall.Seconds(), "cores")
				b.ReportMetric(float64(r.rss)/(1<<20), "rss-MiB")
			})
		}
	}
	// Memory at a steady rate: RSS at the start and the end of six steps of the pipeline at the
	// middle rate, after the stepped runs warmed the process up.
	b.Run("steady", func(b *testing.B) {
		gen := agentload.New(perBatch, "testbed-steady", "use1-az1")
		var mu sync.Mutex
		send := func(int) error {
			mu.Lock()
			body := gen.Next()
			mu.Unlock()
			return post(client, "http://"+full+contract.AgentBatchPath, "application/json", body)
		}
		var first, last stepResult
		for b.Loop() {
			for i := range 6 {
				r := runStep(b, pid, 50_000/float64(perBatch*agentload.EventsPerInvocation), step, send)
				if i == 0 {
					first = r
				}
				last = r
			}
		}
		b.ReportMetric(float64(first.rss)/(1<<20), "rss-first-MiB")
		b.ReportMetric(float64(last.rss)/(1<<20), "rss-last-MiB")
		b.ReportMetric(float64(last.rss-first.rss)/(1<<20), "rss-growth-MiB")
	})
	if exited, err := c.Exited(); exited {
		b.Fatalf("the collector exited during the testbed: %v", err)
	}
}

// testbedConfig: the full pipeline on the first address, the bare receiver on the second, OTLP
// on the third. The debug exporter logs one batch in a million: a sink that costs next to nothing.
const testbedConfig = `
receivers:
  lambdatelemetry:
    endpoint: %s
  lambdatelemetry/bare:
    endpoint: %s
  otlp:
    protocols:
      http:
        endpoint: %s
processors:
  azhealth: {}
exporters:
  debug:
    verbosity: basic
    sampling_initial: 1
    sampling_thereafter: 1000000
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces: {receivers: [lambdatelemetry], exporters: [debug]}
    logs: {receivers: [lambdatelemetry], exporters: [debug]}
    metrics: {receivers: [lambdatelemetry], processors: [azhealth], exporters: [debug]}
    traces/bare: {receivers: [lambdatelemetry/bare], exporters: [debug]}
    logs/bare: {receivers: [lambdatelemetry/bare], exporters: [debug]}
    metrics/bare: {receivers: [lambdatelemetry/bare], exporters: [debug]}
    traces/otlp: {receivers: [otlp], exporters: [debug]}
    logs/otlp: {receivers: [otlp], exporters: [debug]}
`

type stepResult struct {
	batches int
	wall    time.Duration
	cpu     time.Duration
	rss     int64
}

// runStep offers batches at perSec for d from 4 connections — each batch at its scheduled time,
// at once when the collector is behind — and returns what was sent, the wall time until the last
// answer, and the collector's CPU time and RSS.
func runStep(b *testing.B, pid int, perSec float64, d time.Duration, send func(int) error) stepResult {
	n := int(perSec * d.Seconds())
	interval := time.Duration(float64(time.Second) / perSec)
	cpu0 := procCPU(b, pid)
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTimer(0)
			defer t.Stop()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
					t.Reset(wait)
					<-t.C
				}
				if err := send(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return stepResult{batches: n, wall: wall, cpu: procCPU(b, pid) - cpu0, rss: procRSS(b, pid)}
}

func post(c *http.Client, url, contentType string, body []byte) error {
	resp, err := c.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST %s: %d %s", url, resp.StatusCode, msg)
	}
	return nil
}

// procCPU is the process's utime+stime.
func procCPU(b *testing.B, pid int) time.Duration {
	d, err := procstat.CPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// procRSS is the process's VmRSS in bytes.
func procRSS(b *testing.B, pid int) int64 {
	kb, err := procstat.StatusKB(pid, "VmRSS")
	if err != nil {
		b.Fatal(err)
	}
	return kb << 10
}
