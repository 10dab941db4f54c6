// Command azlens runs the embedded Lambda execution runtime and the azlens loop on one machine.
//
//	azlens emulate --function PATH [--extension PATH]...   serve a function in several zones
//	azlens up                                               the whole loop with steady load
//	azlens invoke --function NAME [--payload JSON]          call the Invoke API
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
