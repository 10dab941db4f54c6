package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/fis"
	"github.com/aws/aws-sdk-go-v2/service/fis/types"

	"github.com/azlens/azlens/emulator/experiment"
)

const experimentUsage = `usage: azlens experiment <start|list|get|stop|templates> [flags]

  start      --scenario NAME [--zone ZONE] [--duration 2m] [--azs Z1,Z2,Z3]
             or --template FILE.json (an FIS experiment template)
             scenarios: none, az-errors, az-latency, az-crash, telemetry-loss, two-az-errors
  list       experiments and their states
  get        --id ID
  stop       --id ID
  templates  stored experiment templates

These are FIS's CreateExperimentTemplate + StartExperiment, ListExperiments, GetExperiment,
StopExperiment and ListExperimentTemplates through the AWS SDK. Every verb takes --endpoint
(default ` + defaultEndpoint + `, the front door of azlens up) and --region. The AWS CLI works too:
  aws fis list-experiments --endpoint-url ` + defaultEndpoint + `
`

// localRoleArn stands in for FIS's execution role, which the local region neither needs nor
// checks.
const localRoleArn = "arn:aws:iam::123456789012:role/azlens-local"

func runExperiment(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, experimentUsage)
		return errUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("azlens experiment "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af awsFlags
	af.register(fs)
	scenario := fs.String("scenario", "", "built-in scenario to run")
	zone := fs.String("zone", "", "zone the scenario faults (default: the first of --azs)")
	azs := fs.String("azs", "use1-az1,use1-az2,use1-az3", "the region's zones")
	duration := fs.Duration("duration", 0, "how long the fault lasts (0: until stopped)")
	templateFile := fs.String("template", "", "experiment template JSON file")
	roleArn := fs.String("role-arn", "", "FIS execution role (required by real FIS; a placeholder locally)")
	id := fs.String("id", "", "experiment ID")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := checkExperimentFlags(verb, fs); err != nil {
		return err
	}
	var tmpl experiment.Template
	switch verb {
	case "start":
		var err error
		if tmpl, err = templateToStart(*templateFile, *scenario, *zone, *azs, *duration); err != nil {
			return err
		}
	case "get", "stop":
		if *id == "" {
			return errors.New("--id is required")
		}
	case "list", "templates":
	default:
		fmt.Fprintf(stderr, "azlens experiment: unknown verb %q\n\n%s", verb, experimentUsage)
		return errUsage
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return err
	}
	c := fis.NewFromConfig(cfg, func(o *fis.Options) { o.BaseEndpoint = af.baseEndpoint() })
	var out any
	switch verb {
	case "start":
		in := createInput(tmpl)
		switch {
		case *roleArn != "":
			in.RoleArn = roleArn
		case af.endpoint != "":
			in.RoleArn = aws.String(localRoleArn)
		default:
			return errors.New("--role-arn is required by FIS")
		}
		created, err := c.CreateExperimentTemplate(ctx, in)
		if err != nil {
			return apiError(err)
		}
		out, err = c.StartExperiment(ctx, &fis.StartExperimentInput{ExperimentTemplateId: created.ExperimentTemplate.Id})
		if err != nil {
			return apiError(err)
		}
	case "list":
		out, err = c.ListExperiments(ctx, &fis.ListExperimentsInput{})
	case "templates":
		out, err = c.ListExperimentTemplates(ctx, &fis.ListExperimentTemplatesInput{})
	case "get":
		out, err = c.GetExperiment(ctx, &fis.GetExperimentInput{Id: id})
	case "stop":
		out, err = c.StopExperiment(ctx, &fis.StopExperimentInput{Id: id})
	}
	if err != nil {
		return apiError(err)
	}
	return printJSON(stdout, out)
}

// templateToStart reads --template (FIS's JSON, with azlens's "zones" shorthand allowed) or
// builds --scenario's template.
func templateToStart(file, scenario, zone, azs string, d time.Duration) (experiment.Template, error) {
	switch {
	case file != "" && scenario != "":
		return experiment.Template{}, errors.New("give --scenario or --template, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return experiment.Template{}, err
		}
		// FIS's request fields the local region ignores (roleArn, logConfiguration, …) may be in
		// a template written for real FIS; the rest must be known, so a typo is an error.
		var t struct {
			experiment.Template
			ClientToken, RoleArn                                               string
			LogConfiguration, ExperimentOptions, ExperimentReportConfiguration json.RawMessage
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&t); err != nil {
			return experiment.Template{}, fmt.Errorf("--template %s: %w", file, err)
		}
		return t.Template, nil
	case scenario != "":
		return experiment.Scenario(scenario, splitZones(azs), zone, d)
	}
	return experiment.Template{}, errors.New("--scenario or --template is required")
}

// createInput is FIS's CreateExperimentTemplate for t. azlens's "zones" shorthand, which FIS's
// clients cannot send, becomes FIS's AvailabilityZoneId filter.
func createInput(t experiment.Template) *fis.CreateExperimentTemplateInput {
	in := &fis.CreateExperimentTemplateInput{
		Description: aws.String(t.Description),
		Targets:     map[string]types.CreateExperimentTemplateTargetInput{},
		Actions:     map[string]types.CreateExperimentTemplateActionInput{},
		Tags:        t.Tags,
	}
	if *in.Description == "" {
		in.Description = aws.String("azlens experiment")
	}
	for name, tg := range t.Targets {
		ti := types.CreateExperimentTemplateTargetInput{
			ResourceType: aws.String(tg.ResourceType), SelectionMode: aws.String(tg.SelectionMode),
			ResourceArns: tg.ResourceArns, ResourceTags: tg.ResourceTags, Parameters: tg.Parameters,
		}
		for _, f := range tg.Filters {
			ti.Filters = append(ti.Filters, types.ExperimentTemplateTargetInputFilter{Path: aws.String(f.Path), Values: f.Values})
		}
		if len(tg.Zones) > 0 {
			ti.Filters = append(ti.Filters, types.ExperimentTemplateTargetInputFilter{Path: aws.String("AvailabilityZoneId"), Values: tg.Zones})
		}
		in.Targets[name] = ti
	}
	for name, a := range t.Actions {
		ai := types.CreateExperimentTemplateActionInput{ActionId: aws.String(a.ActionID), Parameters: a.Parameters,
			Targets: a.Targets, StartAfter: a.StartAfter}
		if a.Description != "" {
			ai.Description = aws.String(a.Description)
		}
		in.Actions[name] = ai
	}
	for _, sc := range t.StopConditions {
		si := types.CreateExperimentTemplateStopConditionInput{Source: aws.String(sc.Source)}
		if sc.Value != "" {
			si.Value = aws.String(sc.Value)
		}
		in.StopConditions = append(in.StopConditions, si)
	}
	if len(in.StopConditions) == 0 {
		in.StopConditions = []types.CreateExperimentTemplateStopConditionInput{{Source: aws.String(experiment.SourceNone)}}
	}
	return in
}
