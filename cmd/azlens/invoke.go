package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/azlens/azlens/internal/contract"
)

func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("azlens invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "http://127.0.0.1:9001", "the emulator's Invoke API")
	function := fs.String("function", "", "function name; required")
	payload := fs.String("payload", "{}", "JSON payload")
	zone := fs.String("zone", "", "pin the invocation to this zone")
	timeout := fs.Duration("timeout", 30*time.Second, "request timeout")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *function == "" {
		return usagef("--function is required: the name of the function to invoke")
	}
	if err := errors.Join(endpointURL("endpoint", *endpoint), jsonText("payload", *payload), positive("timeout", *timeout)); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := *endpoint + "/2015-03-31/functions/" + *function + "/invocations"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(*payload))
	if err != nil {
		return err
	}
	if *zone != "" {
		req.Header.Set(contract.HeaderZone, *zone)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	fmt.Fprintf(stderr, "status %d, zone %s, environment %s, version %s%s\n", resp.StatusCode,
		resp.Header.Get(contract.HeaderZone), resp.Header.Get(contract.HeaderEnvironment),
		resp.Header.Get("X-Amz-Executed-Version"), functionErrorNote(resp.Header.Get("X-Amz-Function-Error")))
	fmt.Fprintf(stdout, "%s\n", bytes.TrimSpace(body))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("invoke answered %s (%s)", resp.Status, resp.Header.Get("X-Amzn-ErrorType"))
	}
	return nil
}

func functionErrorNote(fe string) string {
	if fe == "" {
		return ""
	}
	return ", function error " + fe
}
