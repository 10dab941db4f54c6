package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"
	"github.com/aws/aws-sdk-go-v2/service/arczonalshift/types"
)

const shiftUsage = `usage: azlens shift <start|list|renew|cancel|status> [flags]

  start  --resource ID --away-from ZONE [--expires-in 30m] [--comment C] [--type manual|practice]
  list   [--resource ID] [--status ACTIVE|EXPIRED|CANCELED]
  renew  --id ID --expires-in 30m
  cancel --id ID
  status --resource ID     the resource's zones, applied weights and active shifts

These are ARC's StartZonalShift, ListZonalShifts, UpdateZonalShift, CancelZonalShift and
GetManagedResource through the AWS SDK. Every verb takes --endpoint (default ` + defaultEndpoint + `,
the front door of azlens up; "" for real ARC) and --region. The AWS CLI works too:
  aws arc-zonal-shift list-zonal-shifts --endpoint-url ` + defaultEndpoint + `
`

func runShift(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, shiftUsage)
		return errUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("azlens shift "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var af awsFlags
	af.register(fs)
	resource := fs.String("resource", "", "resource identifier (the function name locally, an ARN on ARC)")
	awayFrom := fs.String("away-from", "", "zone ID to move traffic away from")
	expiresIn := fs.String("expires-in", "30m", "lease length: 1m–1440m or 1h–72h")
	comment := fs.String("comment", "shifted with azlens shift", "why")
	status := fs.String("status", "", "filter by status")
	id := fs.String("id", "", "zonal shift ID")
	typ := fs.String("type", "manual", "manual (StartZonalShift) or practice (StartPracticeRun, 30 minutes)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := checkShiftFlags(verb, fs); err != nil {
		return err
	}
	need := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("--%s is required", name)
		}
		return nil
	}
	// Flags first: a missing one is reported without loading any AWS configuration.
	var missing error
	switch verb {
	case "start":
		missing = errors.Join(need("resource", *resource), need("away-from", *awayFrom))
	case "renew", "cancel":
		missing = need("id", *id)
	case "status":
		missing = need("resource", *resource)
	case "list":
	default:
		fmt.Fprintf(stderr, "azlens shift: unknown verb %q\n\n%s", verb, shiftUsage)
		return errUsage
	}
	if missing != nil {
		return missing
	}
	cfg, err := af.config(ctx)
	if err != nil {
		return err
	}
	c := arc.NewFromConfig(cfg, func(o *arc.Options) { o.BaseEndpoint = af.baseEndpoint() })
	var out any
	switch verb {
	case "start":
		if *typ == "practice" {
			out, err = c.StartPracticeRun(ctx, &arc.StartPracticeRunInput{ResourceIdentifier: resource, AwayFrom: awayFrom, Comment: comment})
			break
		}
		out, err = c.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: resource, AwayFrom: awayFrom,
			ExpiresIn: expiresIn, Comment: comment})
	case "list":
		in := &arc.ListZonalShiftsInput{Status: types.ZonalShiftStatus(*status)}
		if *resource != "" {
			in.ResourceIdentifier = resource
		}
		var items []types.ZonalShiftSummary
		pages := arc.NewListZonalShiftsPaginator(c, in)
		for pages.HasMorePages() && err == nil {
			var p *arc.ListZonalShiftsOutput
			if p, err = pages.NextPage(ctx); err == nil {
				items = append(items, p.Items...)
			}
		}
		out = struct{ Items []types.ZonalShiftSummary }{items}
	case "renew":
		out, err = c.UpdateZonalShift(ctx, &arc.UpdateZonalShiftInput{ZonalShiftId: id, ExpiresIn: aws.String(*expiresIn)})
	case "cancel":
		out, err = c.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: id})
	case "status":
		out, err = c.GetManagedResource(ctx, &arc.GetManagedResourceInput{ResourceIdentifier: resource})
	}
	if err != nil {
		return apiError(err)
	}
	return printJSON(stdout, out)
}
