// Command thirdparty is an external extension that behaves like two widely used third-party
// Telemetry API extensions, as seen from the APIs (written for the emulator's tests from their
// observable behaviour, none of their code):
//
//   - -mode samples, like aws-samples' go-example-telemetry-api-extension: under AWS_SAM_LOCAL it
//     listens on ":4323" (a fixed port; a bind failure is only logged) and subscribes
//     "http://:4323/"; a refused subscription is a panic.
//   - -mode otel, like the OpenTelemetry Lambda collector: fixed OTLP ports 4317/4318 (bind
//     failure is fatal there), and two subscriptions under one extension identifier, both to
//     "http://:PORT/": a lifecycle listener (platform) that must see platform.runtimeDone of an
//     invocation before the extension calls /event/next again, and a receiver (platform,
//     function, extension) that takes everything. (The original lets its listeners pick free
//     ports; this one binds fixed ones, which only makes collisions likelier.)
//
// With THIRDPARTY_RECORD set (a directory), it writes one JSON line per INVOKE it got and per
// platform.report any of its listeners received to THIRDPARTY_RECORD/<pid>.jsonl, so a test can
// check that every report reached the environment that ran the invocation.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

var (
	mode     = flag.String("mode", "", "samples | otel (default: otel when the file name contains \"otel\", else samples)")
	port     = flag.Int("port", 0, "telemetry listener port (default: 4323 for samples, 4325 for the otel receiver)")
	lifePort = flag.Int("lifecycle-port", 53612, "lifecycle listener port (otel)")
	otlp     = flag.String("otlp", "4317,4318", "OTLP receiver ports bound (otel; comma-separated, may be empty)")
)

var (
	api    = os.Getenv("AWS_LAMBDA_RUNTIME_API")
	name   = filepath.Base(os.Args[0])
	recMu  sync.Mutex
	recOut *os.File
)

func record(kind, requestID, listener string) {
	recMu.Lock()
	defer recMu.Unlock()
	if recOut == nil {
		return
	}
	b, _ := json.Marshal(map[string]string{"kind": kind, "requestId": requestID, "listener": listener, "api": api, "exe": os.Args[0]})
	recOut.Write(append(b, '\n'))
}

func main() {
	flag.Parse()
	// Run as a layer's /opt/extensions/<name> there are no arguments: the name picks the mode.
	if *mode == "" {
		*mode = "samples"
		if strings.Contains(name, "otel") {
			*mode = "otel"
		}
	}
	if *port == 0 {
		*port = 4323
		if *mode == "otel" {
			*port = 4325
		}
	}
	if dir := os.Getenv("THIRDPARTY_RECORD"); dir != "" {
		f, err := os.Create(filepath.Join(dir, strconv.Itoa(os.Getpid())+".jsonl"))
		if err != nil {
			fmt.Fprintln(os.Stderr, "record:", err)
			os.Exit(1)
		}
		recOut = f
	}
	id := register()
	// Both extensions bind ":PORT" when AWS_SAM_LOCAL is true, sandbox.localdomain otherwise.
	host := "sandbox.localdomain"
	if os.Getenv("AWS_SAM_LOCAL") == "true" {
		host = ""
	}
	switch *mode {
	case "samples":
		runSamples(id, host)
	case "otel":
		runOTel(id, host)
	default:
		fmt.Fprintln(os.Stderr, "unknown -mode", *mode)
		os.Exit(2)
	}
}

func register() string {
	body := []byte(`{"events":["INVOKE","SHUTDOWN"]}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+api+"/2020-01-01/extension/register", bytes.NewReader(body))
	req.Header.Set("Lambda-Extension-Name", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		panic("register: " + resp.Status)
	}
	return resp.Header.Get("Lambda-Extension-Identifier")
}

// listener receives telemetry batches; onEvent sees each event.
type listener struct {
	name    string
	onEvent func(typ string, record json.RawMessage)
}

func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var events []struct {
		Type   string          `json:"type"`
		Record json.RawMessage `json:"record"`
	}
	if err := json.NewDecoder(r.Body).Decode(&events); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	for _, e := range events {
		if e.Type == "platform.report" {
			var rec struct {
				RequestID string `json:"requestId"`
			}
			_ = json.Unmarshal(e.Record, &rec)
			record("report", rec.RequestID, l.name)
		}
		if l.onEvent != nil {
			l.onEvent(e.Type, e.Record)
		}
	}
}

func subscribe(id, uri, types string) error {
	body := fmt.Sprintf(`{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":%q},"types":[%s],"buffering":{"maxItems":1000,"maxBytes":262144,"timeoutMs":25}}`, uri, types)
	req, _ := http.NewRequest(http.MethodPut, "http://"+api+"/2022-07-01/telemetry", bytes.NewReader([]byte(body)))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("subscribe %s: %s: %s", uri, resp.Status, b)
	}
	return nil
}

type event struct {
	EventType string `json:"eventType"`
	RequestID string `json:"requestId"`
}

func next(id string) event {
	req, _ := http.NewRequest(http.MethodGet, "http://"+api+"/2020-01-01/extension/event/next", nil)
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var e event
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		panic(err)
	}
	if e.EventType == "INVOKE" {
		record("invoke", e.RequestID, "")
	}
	return e
}

func runSamples(id, host string) {
	addr := net.JoinHostPort(host, strconv.Itoa(*port))
	srv := &http.Server{Addr: addr, Handler: &listener{name: "samples"}}
	go func() {
		// Like the original: a bind failure is logged, the extension carries on.
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(os.Stderr, "telemetry listener:", err)
		}
	}()
	if err := subscribe(id, "http://"+addr+"/", `"platform","function"`); err != nil {
		panic(err)
	}
	for {
		if e := next(id); e.EventType == "SHUTDOWN" {
			os.Exit(0)
		}
	}
}

func runOTel(id, host string) {
	// The collector's OTLP receivers: fixed ports, and a bind failure ends the collector.
	for _, p := range strings.Split(*otlp, ",") {
		if p == "" {
			continue
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err != nil {
			fmt.Fprintln(os.Stderr, "otlp receiver:", err)
			os.Exit(1)
		}
		defer ln.Close()
	}
	var mu sync.Mutex
	done := map[string]chan struct{}{}
	doneFor := func(requestID string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		ch := done[requestID]
		if ch == nil {
			ch = make(chan struct{})
			done[requestID] = ch
		}
		return ch
	}
	life := &listener{name: "lifecycle", onEvent: func(typ string, rec json.RawMessage) {
		if typ != "platform.runtimeDone" {
			return
		}
		var r struct {
			RequestID string `json:"requestId"`
		}
		if json.Unmarshal(rec, &r) == nil {
			close(doneFor(r.RequestID))
		}
	}}
	for _, l := range []struct {
		port  int
		h     http.Handler
		types string
	}{{*lifePort, life, `"platform"`}, {*port, &listener{name: "receiver"}, `"platform","function","extension"`}} {
		addr := net.JoinHostPort(host, strconv.Itoa(l.port))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "telemetry listener:", err)
			os.Exit(1)
		}
		go http.Serve(ln, l.h)
		if err := subscribe(id, "http://"+addr+"/", l.types); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for {
		e := next(id)
		if e.EventType == "SHUTDOWN" {
			os.Exit(0)
		}
		// The lifecycle listener holds the extension until the invocation's runtimeDone.
		<-doneFor(e.RequestID)
	}
}
