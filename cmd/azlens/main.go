// Command azlens runs the embedded Lambda execution runtime and the azlens loop on one machine.
//
//	azlens emulate --function PATH [--extension PATH]...   serve a function in several zones
//	azlens up                                               the whole loop with steady load
//	azlens invoke --function NAME [--payload JSON]          call the Invoke API
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/childproc"
)

func main() {
	emulator.MaybeRunHolder()
	childproc.RunIfJanitor()
	os.Exit(cli(os.Args[1:]))
}

// cli wires what only a real process has: signals, and for the commands that start processes a
// scratch folder (every temporary file of the run, sandboxes' /tmp included, goes there) watched
// by a janitor, so that neither a process nor a file outlives azlens, however it ends.
func cli(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Ctrl-C, kill, a closed terminal (SIGHUP) and a reader that went away (SIGPIPE: `| tee` ended
	// by the same Ctrl-C) all mean "shut down cleanly". A second Ctrl-C or kill means "now".
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	var scratch string
	if len(args) > 0 && (args[0] == "up" || args[0] == "emulate") {
		dir, err := os.MkdirTemp("", "azlens-"+args[0]+"-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "azlens %s: scratch folder: %v\n", args[0], err)
			return 1
		}
		j, err := childproc.Watch(dir)
		if err != nil {
			os.RemoveAll(dir)
			fmt.Fprintf(os.Stderr, "azlens %s: %v\n", args[0], err)
			return 1
		}
		scratch = dir
		os.Setenv("TMPDIR", dir)
		defer func() {
			os.RemoveAll(dir)
			_ = j.Close()
		}()
	}
	go func() {
		<-sigs
		cancel()
		for sig := range sigs {
			if sig == syscall.SIGPIPE {
				continue // every write to the broken output raises another
			}
			childproc.KillAll()
			if scratch != "" {
				os.RemoveAll(scratch)
			}
			os.Exit(130)
		}
	}()
	return run(ctx, args, os.Stdout, os.Stderr)
}
