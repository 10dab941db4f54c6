package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

const usage = `usage: azlens <command> [flags]

commands:
  emulate   run a function (bootstrap executable) and extensions in a local multi-zone region
  up        run the whole loop: region, agent, collector, load, canaries, detector, zonal shift
  invoke    invoke a function through the Invoke API of a running emulator
  shift     start, list, renew and cancel zonal shifts (ARC zonal shift, through the AWS SDK)
  experiment  run fault experiments (FIS, through the AWS SDK)

Run 'azlens <command> -h' for the flags of a command.
`

// run is the whole CLI; main only wires signals and the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "emulate":
		err = runEmulate(ctx, args[1:], stdout, stderr)
	case "up":
		err = runUp(ctx, args[1:], stdout, stderr)
	case "invoke":
		err = runInvoke(ctx, args[1:], stdout, stderr)
	case "shift":
		err = runShift(ctx, args[1:], stdout, stderr)
	case "experiment":
		err = runExperiment(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "azlens: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	case errors.As(err, new(*usageError)):
		fmt.Fprintf(stderr, "azlens %s: %v\nRun 'azlens %s -h' for its flags.\n", args[0], err, args[0])
		return 2
	default:
		fmt.Fprintf(stderr, "azlens %s: %v\n", args[0], err)
		return 1
	}
}

// errUsage marks an error already explained by the flag package.
var errUsage = errors.New("usage")

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// envFlag collects repeatable KEY=VALUE flags.
type envFlag map[string]string

func (e envFlag) String() string { return "" }
func (e envFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want KEY=VALUE, got %q", v)
	}
	e[k] = val
	return nil
}

// parseFlags parses args, mapping flag errors to errUsage (the flag package has printed them).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return errUsage
	}
	return nil
}

func splitZones(s string) []string {
	var out []string
	for _, z := range strings.Split(s, ",") {
		if z = strings.TrimSpace(z); z != "" {
			out = append(out, z)
		}
	}
	return out
}
