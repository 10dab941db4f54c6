package main

import (
	"encoding/json"
	"flag"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/azlens/azlens/emulator/experiment"
)

// The checks of `azlens shift` and `azlens experiment` work on the parsed FlagSet by flag name, so
// they hold whatever client carries the calls out.

// shiftVerbFlags are the flags each `azlens shift` verb takes; '!' marks the required ones.
var shiftVerbFlags = map[string][]string{
	"start":  {"endpoint", "region", "resource!", "away-from!", "expires-in", "comment", "type"},
	"list":   {"endpoint", "region", "resource", "status"},
	"renew":  {"endpoint", "region", "id!", "expires-in"},
	"cancel": {"endpoint", "region", "id!"},
	"status": {"endpoint", "region", "resource!"},
}

// expiresIn is ARC's lease format: minutes or hours, 1m–1440m or 1h–72h.
var expiresIn = regexp.MustCompile(`^([0-9]{1,4})([mh])$`)

func checkShiftFlags(verb string, fs *flag.FlagSet) error {
	if err := verbFlags("shift", verb, fs, shiftVerbFlags); err != nil {
		return err
	}
	if err := awsEndpoint(fs); err != nil {
		return err
	}
	set := setFlags(fs)
	if (set["expires-in"] || verb == "start") && flagValue(fs, "type") != "practice" {
		v := flagValue(fs, "expires-in")
		m := expiresIn.FindStringSubmatch(v)
		n := 0
		if m != nil {
			n, _ = strconv.Atoi(m[1])
		}
		if m == nil || n < 1 || (m[2] == "m" && n > 1440) || (m[2] == "h" && n > 72) {
			return usagef("--expires-in %q: want minutes 1m–1440m or hours 1h–72h, e.g. 30m", v)
		}
	}
	if set["type"] {
		if err := oneOf("type", flagValue(fs, "type"), []string{"manual", "practice"}); err != nil {
			return err
		}
	}
	if set["status"] {
		if err := oneOf("status", flagValue(fs, "status"), []string{"ACTIVE", "EXPIRED", "CANCELED"}); err != nil {
			return err
		}
	}
	return nil
}

// experimentVerbFlags are the flags each `azlens experiment` verb takes; '!' marks the required
// ones.
var experimentVerbFlags = map[string][]string{
	"start":     {"endpoint", "region", "role-arn", "scenario", "template", "zone", "azs", "duration"},
	"list":      {"endpoint", "region"},
	"templates": {"endpoint", "region"},
	"get":       {"endpoint", "region", "id!"},
	"stop":      {"endpoint", "region", "id!"},
}

func checkExperimentFlags(verb string, fs *flag.FlagSet) error {
	if err := verbFlags("experiment", verb, fs, experimentVerbFlags); err != nil {
		return err
	}
	if err := awsEndpoint(fs); err != nil {
		return err
	}
	if verb != "start" {
		return nil
	}
	set := setFlags(fs)
	switch {
	case set["scenario"] && set["template"]:
		return usagef("give --scenario or --template, not both")
	case set["template"]:
		for _, f := range []string{"zone", "azs", "duration"} {
			if set[f] {
				return usagef("--%s applies to --scenario; a --template names its own targets and durations", f)
			}
		}
		p, err := existingPath("template", flagValue(fs, "template"))
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return usagef("--template %s: %v", flagValue(fs, "template"), err)
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return usagef("--template %s: not a JSON object: %v", flagValue(fs, "template"), err)
		}
		return nil
	case set["scenario"]:
	default:
		return usagef("--scenario or --template is required for 'experiment start' (scenarios: %s)", scenarioList())
	}
	if err := oneOf("scenario", flagValue(fs, "scenario"), experiment.ScenarioNames()); err != nil {
		return err
	}
	zones, err := zoneList("azs", flagValue(fs, "azs"), 1)
	if err != nil {
		return err
	}
	if z := flagValue(fs, "zone"); z != "" {
		if err := oneOf("zone", z, zones); err != nil {
			return err
		}
	}
	d, err := time.ParseDuration(flagValue(fs, "duration"))
	if err != nil {
		return usagef("--duration: %v", err)
	}
	return nonNegative("duration", d)
}

// awsEndpoint checks --endpoint, which may be empty (AWS's own endpoint, with --region), and
// --region.
func awsEndpoint(fs *flag.FlagSet) error {
	if e := flagValue(fs, "endpoint"); e != "" {
		if err := endpointURL("endpoint", e); err != nil {
			return err
		}
	}
	if r := flagValue(fs, "region"); r != "" && !awsRegion.MatchString(r) {
		return usagef("--region %q: want an AWS region name such as us-east-1", r)
	}
	return nil
}

// awsRegion is the form of an AWS region name.
var awsRegion = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)

func scenarioList() string { return strings.Join(experiment.ScenarioNames(), ", ") }
