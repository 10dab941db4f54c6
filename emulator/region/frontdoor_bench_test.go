package region

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/emulator/emulatortest"
)

// benchFrontDoor measures the whole Invoke API round trip — HTTP to the front door, router, an
// environment's Runtime API, the function, and back — against the same handler called directly
// (emulatortest.DirectLatencies), in the same run.
func benchFrontDoor(b *testing.B, fn emulator.Function, network emulator.Network) {
	fn.Name = "bench"
	srv, url := serveBenchRegion(b, Config{Zones: []string{"use1-az1", "use1-az2", "use1-az3"}, Function: fn,
		Sandbox: emulator.SandboxConfig{Network: network}})
	client := srv.Client()

	ref := emulatortest.DirectLatencies(b, max(b.N, 1000))
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader(emulatortest.BenchPayload))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(t0))
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.StopTimer()
	emulatortest.ReportLatencies(b, lat, ref)
}

func BenchmarkFrontDoorInProcess(b *testing.B) {
	benchFrontDoor(b, emulator.Function{Runtime: &emulator.InProcessRuntime{Handler: emulatortest.EchoHandler}}, emulator.NetworkShared)
}

func BenchmarkFrontDoorProcess(b *testing.B) {
	benchFrontDoor(b, processFunction(b), emulator.NetworkShared)
}

// BenchmarkFrontDoorProcessIsolated: process mode with every environment in namespaces of its own
// (`azlens up`'s default where the host allows it).
func BenchmarkFrontDoorProcessIsolated(b *testing.B) {
	benchFrontDoor(b, processFunction(b), emulator.NetworkIsolated)
}

// processFunction is the real aws-lambda-go bootstrap, built for this benchmark.
func processFunction(b *testing.B) emulator.Function {
	path, err := emulatortest.BuildFunction(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return emulator.Function{Runtime: &emulator.ProcessRuntime{Path: path}}
}

// BenchmarkFrontDoorThroughput is invocations per second through the front door, 3 zones × 4
// environments, as many concurrent callers as environments: in-process, and real bootstrap
// processes in namespaces of their own.
func BenchmarkFrontDoorThroughput(b *testing.B) {
	b.Run("in-process", func(b *testing.B) {
		frontDoorThroughput(b, emulator.Function{Runtime: &emulator.InProcessRuntime{Handler: emulatortest.EchoHandler}}, emulator.NetworkShared)
	})
	b.Run("process-isolated", func(b *testing.B) {
		frontDoorThroughput(b, processFunction(b), emulator.NetworkIsolated)
	})
}

func frontDoorThroughput(b *testing.B, fn emulator.Function, network emulator.Network) {
	fn.Name = "bench"
	_, url := serveBenchRegion(b, Config{Zones: []string{"use1-az1", "use1-az2", "use1-az3"}, EnvsPerZone: 4,
		Function: fn, Sandbox: emulator.SandboxConfig{Network: network}})
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var next atomic.Int64
	var failed atomic.Int64
	n := int64(b.N)
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			for next.Add(1) <= n {
				resp, err := client.Post(url, "application/json", bytes.NewReader(emulatortest.BenchPayload))
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d invocations failed", f)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "invocations/s")
}

// serveBenchRegion starts a region of cfg (its function named "bench") behind a front door; it
// returns the server and the function's Invoke URL. Both stop when the benchmark ends.
func serveBenchRegion(b *testing.B, cfg Config) (*httptest.Server, string) {
	region, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := region.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { region.Shutdown(context.Background()) })
	srv := httptest.NewServer(NewFrontDoor(nil, region))
	b.Cleanup(srv.Close)
	return srv, srv.URL + "/2015-03-31/functions/bench/invocations"
}
