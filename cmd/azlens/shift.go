package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

const shiftUsage = `usage: azlens shift <start|list|get|renew|cancel|status> [flags]

  start  --resource NAME --away-from ZONE [--expires-in 30m] [--comment C] [--type manual|practice]
  list   [--resource NAME] [--status ACTIVE|EXPIRED|CANCELED]
  get    --id ID
  renew  --id ID --expires-in 30m
  cancel --id ID
  status --resource NAME     which zone the resource is shifted away from, and the zone weights

Every verb takes --endpoint (default http://127.0.0.1:9001/zonalshift, the emulator's zonal shift API).
`

func runShift(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, shiftUsage)
		return errUsage
	}
	verb := args[0]
	fs := flag.NewFlagSet("azlens shift "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "http://127.0.0.1:9001/zonalshift", "zonal shift API base URL")
	resource := fs.String("resource", "", "resource identifier (the function name)")
	awayFrom := fs.String("away-from", "", "zone ID to move traffic away from")
	expiresIn := fs.String("expires-in", "30m", "lease length: 1m–1440m or 1h–72h")
	comment := fs.String("comment", "shifted with azlens shift", "why")
	typ := fs.String("type", "manual", "manual or practice")
	status := fs.String("status", "", "filter by status")
	id := fs.String("id", "", "zonal shift ID")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if err := checkShiftFlags(verb, fs); err != nil {
		return err
	}
	base := strings.TrimRight(*endpoint, "/")
	need := func(name, v string) error {
		if v == "" {
			return fmt.Errorf("--%s is required", name)
		}
		return nil
	}
	switch verb {
	case "start":
		if err := errors.Join(need("resource", *resource), need("away-from", *awayFrom)); err != nil {
			return err
		}
		return apiCall(ctx, stdout, http.MethodPost, base+"/zonalshifts", map[string]string{
			"resourceIdentifier": *resource, "awayFrom": *awayFrom, "expiresIn": *expiresIn,
			"comment": *comment, "type": *typ,
		})
	case "list":
		q := url.Values{}
		if *resource != "" {
			q.Set("resourceIdentifier", *resource)
		}
		if *status != "" {
			q.Set("status", *status)
		}
		u := base + "/zonalshifts"
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		return apiCall(ctx, stdout, http.MethodGet, u, nil)
	case "get":
		if err := need("id", *id); err != nil {
			return err
		}
		return apiCall(ctx, stdout, http.MethodGet, base+"/zonalshifts/"+url.PathEscape(*id), nil)
	case "renew":
		if err := need("id", *id); err != nil {
			return err
		}
		return apiCall(ctx, stdout, http.MethodPatch, base+"/zonalshifts/"+url.PathEscape(*id), map[string]string{"expiresIn": *expiresIn})
	case "cancel":
		if err := need("id", *id); err != nil {
			return err
		}
		return apiCall(ctx, stdout, http.MethodDelete, base+"/zonalshifts/"+url.PathEscape(*id), nil)
	case "status":
		if err := need("resource", *resource); err != nil {
			return err
		}
		return apiCall(ctx, stdout, http.MethodGet, base+"/managedresources/"+url.PathEscape(*resource), nil)
	default:
		fmt.Fprintf(stderr, "azlens shift: unknown verb %q\n\n%s", verb, shiftUsage)
		return errUsage
	}
}
