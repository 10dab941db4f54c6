package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/azlens/azlens/emulator/experiment"
)

const experimentUsage = `usage: azlens experiment <start|list|get|stop|templates> [flags]

  start      --scenario NAME [--zone ZONE] [--duration 2m] [--azs Z1,Z2,Z3]
             or --template FILE.json (an FIS-shaped experiment template)
             scenarios: none, az-errors, az-latency, az-crash, telemetry-loss, two-az-errors
  list       experiments and their states
  get        --id ID
  stop       --id ID
  templates  stored experiment templates

Every verb takes --endpoint (default http://127.0.0.1:9001/fis, the emulator's experiment API).
`

func runExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, experimentUsage)
		return errUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("azlens experiment "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "http://127.0.0.1:9001/fis", "experiment API base URL")
	scenario := fs.String("scenario", "", "built-in scenario to run")
	zone := fs.String("zone", "", "zone the scenario faults (default: the first of --azs)")
	azs := fs.String("azs", "use1-az1,use1-az2,use1-az3", "the region's zones")
	duration := fs.Duration("duration", 0, "how long the fault lasts (0: until stopped)")
	templateFile := fs.String("template", "", "experiment template JSON file")
	id := fs.String("id", "", "experiment ID")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := checkExperimentFlags(verb, fs); err != nil {
		return err
	}
	base := strings.TrimRight(*endpoint, "/")
	switch verb {
	case "start":
		var tmpl any
		switch {
		case *templateFile != "" && *scenario != "":
			return errors.New("give --scenario or --template, not both")
		case *templateFile != "":
			b, err := os.ReadFile(*templateFile)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := json.Unmarshal(b, &raw); err != nil {
				return fmt.Errorf("--template %s: %w", *templateFile, err)
			}
			tmpl = raw
		case *scenario != "":
			t, err := experiment.Scenario(*scenario, splitZones(*azs), *zone, *duration)
			if err != nil {
				return err
			}
			tmpl = t
		default:
			return errors.New("--scenario or --template is required")
		}
		var created struct {
			ExperimentTemplate struct {
				ID string `json:"id"`
			} `json:"experimentTemplate"`
		}
		if err := apiDecode(ctx, http.MethodPost, base+"/experimentTemplates", tmpl, &created); err != nil {
			return err
		}
		return apiCall(ctx, stdout, http.MethodPost, base+"/experiments",
			map[string]string{"experimentTemplateId": created.ExperimentTemplate.ID})
	case "list":
		return apiCall(ctx, stdout, http.MethodGet, base+"/experiments", nil)
	case "templates":
		return apiCall(ctx, stdout, http.MethodGet, base+"/experimentTemplates", nil)
	case "get", "stop":
		if *id == "" {
			return errors.New("--id is required")
		}
		method := http.MethodGet
		if verb == "stop" {
			method = http.MethodDelete
		}
		return apiCall(ctx, stdout, method, base+"/experiments/"+url.PathEscape(*id), nil)
	default:
		fmt.Fprintf(stderr, "azlens experiment: unknown verb %q\n\n%s", verb, experimentUsage)
		return errUsage
	}
}

// apiDecode is apiCall for a caller that needs the answer, not to print it.
func apiDecode(ctx context.Context, method, url string, body, into any) error {
	var sb strings.Builder
	if err := apiCall(ctx, &sb, method, url, body); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(sb.String()), into); err != nil {
		return fmt.Errorf("decode answer of %s: %w", url, err)
	}
	return nil
}
