package experiment

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// lambdaAliases are the azlens:lambda action ids and the faults they name.
var lambdaAliases = map[string]string{
	ActionLambdaInjectErrors:  ActionInjectError,
	ActionLambdaInjectLatency: ActionAddLatency,
	ActionLambdaCrash:         ActionZoneCrash,
	ActionLambdaDropTelemetry: ActionTelemetryDrop,
}

// fisParams are the parameters each of FIS's Lambda actions takes.
var fisParams = map[string][]string{
	ActionFISInvocationError:    {"duration", "invocationPercentage", "preventExecution"},
	ActionFISInvocationAddDelay: {"duration", "invocationPercentage", "startupDelayMilliseconds"},
	ActionFISHTTPResponse:       {"contentTypeHeader", "duration", "invocationPercentage", "preventExecution", "statusCode"},
}

// defaultStartupDelay is FIS's startupDelayMilliseconds when the template gives none.
const defaultStartupDelay = "1000"

// translateAction maps an action id of the azlens:lambda namespace or one of FIS's Lambda actions
// onto the fault it names, with the parameters that fault takes. Other ids pass unchanged.
//
//	aws:lambda:invocation-error       → inject-error: invocationPercentage is the percentage;
//	                                    preventExecution must be true (the emulator fails the
//	                                    invocation before the function runs; running it and then
//	                                    replacing its answer is not modelled)
//	aws:lambda:invocation-add-delay   → add-latency: startupDelayMilliseconds (default 1000) is the
//	                                    latency added before the function starts
//	aws:lambda:invocation-http-integration-response
//	                                  → inject-error with error type HTTP.<statusCode>, for 5xx
//	                                    status codes only: a 5xx answer to the load balancer is
//	                                    a failed request of the zone; 2xx–4xx answers are not
//	                                    a zone fault the health model counts
func translateAction(field, id string, params map[string]string) (string, map[string]string, error) {
	if to, ok := lambdaAliases[id]; ok {
		return to, params, nil
	}
	accepted, ok := fisParams[id]
	if !ok {
		return id, params, nil
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !slices.Contains(accepted, k) {
			return "", nil, invalid(field+".parameters."+k, "unknown parameter for %s (known: %s)", id, strings.Join(accepted, ", "))
		}
	}
	out := map[string]string{}
	if v, ok := params["duration"]; ok {
		out["duration"] = v
	}
	if v, ok := params["invocationPercentage"]; ok {
		out["percentage"] = v
	}
	checkPrevent := func() error {
		switch v, ok := params["preventExecution"]; {
		case !ok:
			return invalid(field+".parameters.preventExecution", "is required (true)")
		case v == "true":
			return nil
		case v == "false":
			return invalid(field+".parameters.preventExecution",
				"false is not supported: the local region fails an invocation before the function runs, so only true matches")
		default:
			return invalid(field+".parameters.preventExecution", "%q is not true or false", v)
		}
	}
	switch id {
	case ActionFISInvocationError:
		if err := checkPrevent(); err != nil {
			return "", nil, err
		}
		return ActionInjectError, out, nil
	case ActionFISInvocationAddDelay:
		ms := params["startupDelayMilliseconds"]
		if ms == "" {
			ms = defaultStartupDelay
		}
		n, err := strconv.Atoi(ms)
		if err != nil || n < 0 || n > 900000 {
			return "", nil, invalid(field+".parameters.startupDelayMilliseconds", "%q is not a whole number of milliseconds from 0 to 900000", ms)
		}
		out["latency"] = fmt.Sprintf("%dms", n)
		return ActionAddLatency, out, nil
	default: // ActionFISHTTPResponse
		if err := checkPrevent(); err != nil {
			return "", nil, err
		}
		code, err := strconv.Atoi(params["statusCode"])
		if err != nil || code < 100 || code > 599 {
			return "", nil, invalid(field+".parameters.statusCode", "%q is not an HTTP status code (required)", params["statusCode"])
		}
		if code < 500 {
			return "", nil, invalid(field+".parameters.statusCode",
				"%d is not supported: only 5xx answers map to a fault (a failed invocation of the zone)", code)
		}
		out["errorType"] = "HTTP." + strconv.Itoa(code)
		return ActionInjectError, out, nil
	}
}

// lambdaARN is the form of a Lambda function ARN, optionally qualified.
var lambdaARN = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:[A-Za-z0-9_-]{1,64}(:[A-Za-z0-9$_-]{1,128})?$`)

// targetZones returns the zones a target names: its zones, its availabilityZoneIdentifier
// parameter and the values of its AvailabilityZoneId filters. A function target that names none
// covers every zone of the region.
func targetZones(field string, t Target, known []string) ([]string, error) {
	zones := slices.Clone(t.Zones)
	for _, k := range slices.Sorted(maps.Keys(t.Parameters)) {
		if k != "availabilityZoneIdentifier" {
			return nil, invalid(field+".parameters."+k, "unknown target parameter (known: availabilityZoneIdentifier)")
		}
		zones = append(zones, t.Parameters[k])
	}
	for i, f := range t.Filters {
		if f.Path != "AvailabilityZoneId" && f.Path != "AvailabilityZone" {
			return nil, invalid(fmt.Sprintf("%s.filters[%d].path", field, i), "%q is not supported (want AvailabilityZoneId)", f.Path)
		}
		if len(f.Values) == 0 {
			return nil, invalid(fmt.Sprintf("%s.filters[%d].values", field, i), "at least one zone ID is required")
		}
		zones = append(zones, f.Values...)
	}
	if len(t.ResourceTags) > 0 {
		return nil, invalid(field+".resourceTags", "is not supported: select by zone (filters on AvailabilityZoneId, or parameters.availabilityZoneIdentifier)")
	}
	if t.ResourceType == ResourceLambdaFunction {
		for i, a := range t.ResourceArns {
			if !lambdaARN.MatchString(a) {
				return nil, invalid(fmt.Sprintf("%s.resourceArns[%d]", field, i), "%q is not a Lambda function ARN", a)
			}
		}
		if len(zones) == 0 {
			zones = slices.Clone(known)
		}
	} else if len(t.ResourceArns) > 0 {
		return nil, invalid(field+".resourceArns", "only %s targets take ARNs", ResourceLambdaFunction)
	}
	return zones, nil
}

// alarmName returns the alarm a stop condition names: an azlens:alarm's value, or the name at the
// end of an aws:cloudwatch:alarm's ARN.
func alarmName(field string, sc StopCondition) (string, error) {
	if sc.Source == SourceAlarm {
		return sc.Value, nil
	}
	_, name, ok := strings.Cut(sc.Value, ":alarm:")
	if !ok || !strings.HasPrefix(sc.Value, "arn:") || name == "" {
		return "", invalid(field+".value", "%q is not a CloudWatch alarm ARN (arn:aws:cloudwatch:<region>:<account>:alarm:<name>)", sc.Value)
	}
	return name, nil
}
