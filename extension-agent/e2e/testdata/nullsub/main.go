// Command nullsub is B8's reference extension: it subscribes to the Telemetry API exactly as
// azlens-agent does by default (platform, function and extension events; maxItems 1000, maxBytes
// 262144, timeoutMs 25) with a null listener that reads each POST and answers 200, and does
// nothing else — the fastest consumer an extension can be.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
)

func main() {
	base := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API")
	req, _ := http.NewRequest(http.MethodPost, base+"/2020-01-01/extension/register", bytes.NewReader([]byte(`{"events":["INVOKE","SHUTDOWN"]}`)))
	req.Header.Set("Lambda-Extension-Name", filepath.Base(os.Args[0]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		os.Exit(1)
	}
	id := resp.Header.Get("Lambda-Extension-Identifier")
	resp.Body.Close()

	host := "sandbox.localdomain"
	if os.Getenv("AWS_SAM_LOCAL") == "true" {
		host = "127.0.0.1"
	}
	ln, err := net.Listen("tcp", host+":0")
	if err != nil {
		os.Exit(1)
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
		}))
	}()
	sub, _ := json.Marshal(map[string]any{
		"schemaVersion": "2022-12-13",
		"destination":   map[string]any{"protocol": "HTTP", "URI": fmt.Sprintf("http://sandbox.localdomain:%d/telemetry", ln.Addr().(*net.TCPAddr).Port)},
		"types":         []string{"platform", "function", "extension"},
		"buffering":     map[string]any{"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
	})
	req, _ = http.NewRequest(http.MethodPut, base+"/2022-07-01/telemetry", bytes.NewReader(sub))
	req.Header.Set("Lambda-Extension-Identifier", id)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		os.Exit(1)
	}
	resp.Body.Close()

	for {
		req, _ := http.NewRequest(http.MethodGet, base+"/2020-01-01/extension/event/next", nil)
		req.Header.Set("Lambda-Extension-Identifier", id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			os.Exit(1)
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		_ = json.Unmarshal(b, &ev)
		if ev.EventType == "SHUTDOWN" {
			return
		}
	}
}
