// Command extension is an external Lambda extension for the emulator's tests, written from the
// Extensions and Telemetry API docs. It records what it sees (environment, registration, events,
// telemetry batches) as JSON lines in the file named by -record.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

var (
	record      = flag.String("record", "", "append JSON lines here")
	events      = flag.String("events", "INVOKE,SHUTDOWN", "events to register for (comma-separated, may be empty)")
	subscribe   = flag.String("subscribe", "", "telemetry types to subscribe to (comma-separated)")
	name        = flag.String("name", "", "register under this name instead of the file name")
	mode        = flag.String("mode", "", "init-error | crash-on-invoke | exit-when-idle | ignore-shutdown | exit-error | no-register")
	invokeDelay = flag.Duration("invoke-delay", 0, "time spent on each INVOKE before the next /event/next")
	account     = flag.Bool("account", false, "ask for the accountId feature")
)

var (
	mu  sync.Mutex
	out *os.File
)

func write(kind string, v map[string]any) {
	if out == nil {
		return
	}
	v["kind"] = kind
	v["time"] = time.Now().UnixMilli()
	b, _ := json.Marshal(v)
	mu.Lock()
	defer mu.Unlock()
	_, _ = out.Write(append(b, '\n'))
}

func main() {
	flag.Parse()
	if *record != "" {
		f, err := os.OpenFile(*record, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "open record:", err)
			os.Exit(2)
		}
		out = f
	}
	extName := filepath.Base(os.Args[0])
	if *name != "" {
		extName = *name
	}
	write("env", map[string]any{"env": os.Environ(), "name": extName, "pid": os.Getpid()})
	fmt.Println("extension", extName, "starting")
	if *mode == "no-register" {
		time.Sleep(time.Hour)
	}
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")

	var evs []string
	if *events != "" {
		evs = strings.Split(*events, ",")
	}
	body, _ := json.Marshal(map[string]any{"events": evs})
	req, _ := http.NewRequest(http.MethodPost, api+"/2020-01-01/extension/register", bytes.NewReader(body))
	req.Header.Set("Lambda-Extension-Name", extName)
	if *account {
		req.Header.Set("Lambda-Extension-Accept-Feature", "accountId")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "register:", err)
		os.Exit(1)
	}
	rb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Extension-Identifier")
	write("register", map[string]any{"status": resp.StatusCode, "body": json.RawMessage(orNull(rb)), "identifier": id})
	if resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}

	if *mode == "init-error" {
		post(api+"/2020-01-01/extension/init/error", id, "Extension.TestInitFailed")
		os.Exit(1)
	}
	if *subscribe != "" {
		subscribeTelemetry(api, id, strings.Split(*subscribe, ","))
	}

	for {
		req, _ := http.NewRequest(http.MethodGet, api+"/2020-01-01/extension/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Fprintln(os.Stderr, "event/next:", err)
			os.Exit(1)
		}
		eb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var ev struct {
			EventType string `json:"eventType"`
		}
		_ = json.Unmarshal(eb, &ev)
		write("event", map[string]any{
			"status":          resp.StatusCode,
			"body":            json.RawMessage(orNull(eb)),
			"eventIdentifier": resp.Header.Get("Lambda-Extension-Event-Identifier"),
		})
		if resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
		switch ev.EventType {
		case "INVOKE":
			fmt.Println("extension", extName, "got INVOKE")
			switch *mode {
			case "crash-on-invoke":
				os.Exit(7)
			case "exit-error":
				post(api+"/2020-01-01/extension/exit/error", id, "Extension.TestExit")
				os.Exit(1)
			case "exit-when-idle":
				// Die after going back to /event/next, i.e. between invocations.
				go func() {
					time.Sleep(50 * time.Millisecond)
					os.Exit(9)
				}()
			}
			time.Sleep(*invokeDelay)
		case "SHUTDOWN":
			if *mode == "ignore-shutdown" {
				write("ignoring-shutdown", map[string]any{})
				time.Sleep(time.Hour)
			}
			write("exit", map[string]any{})
			os.Exit(0)
		}
	}
}

func orNull(b []byte) []byte {
	if !json.Valid(b) {
		q, _ := json.Marshal(string(b))
		return q
	}
	return b
}

func post(url, id, errType string) {
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"test","errorType":"`+errType+`"}`))
	req.Header.Set("Lambda-Extension-Identifier", id)
	req.Header.Set("Lambda-Extension-Function-Error-Type", errType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		write("post", map[string]any{"url": url, "error": err.Error()})
		return
	}
	resp.Body.Close()
	write("post", map[string]any{"url": url, "status": resp.StatusCode})
}

// subscribeTelemetry listens where a real extension would (sandbox.localdomain, or loopback under
// AWS_SAM_LOCAL) and subscribes that listener.
func subscribeTelemetry(api, id string, types []string) {
	host := "sandbox.localdomain"
	if os.Getenv("AWS_SAM_LOCAL") == "true" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		write("listen", map[string]any{"error": err.Error()})
		return
	}
	port := ln.Addr().(*net.TCPAddr).Port
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			write("telemetry", map[string]any{"body": json.RawMessage(orNull(b))})
		}))
	}()
	sub, _ := json.Marshal(map[string]any{
		"schemaVersion": "2022-12-13",
		"destination":   map[string]any{"protocol": "HTTP", "URI": fmt.Sprintf("http://sandbox.localdomain:%d/telemetry", port)},
		"types":         types,
		"buffering":     map[string]any{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
	})
	req, _ := http.NewRequest(http.MethodPut, api+"/2022-07-01/telemetry", bytes.NewReader(sub))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		write("subscribe", map[string]any{"error": err.Error()})
		return
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	write("subscribe", map[string]any{"status": resp.StatusCode, "body": string(b)})
}
