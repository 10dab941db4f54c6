// Command azlens-agent is the azlens Lambda extension: it forwards the Telemetry API events of its
// execution environment to the azlens collector. Install it as /opt/extensions/azlens-agent (a
// layer); configure it with AZLENS_* variables (extension-agent/README.md).
package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/azlens/azlens/extension-agent/agent"
)

func main() {
	// Info until the agent has read and validated AZLENS_LOG_LEVEL with the rest of its
	// configuration; Run then sets the level.
	level := new(slog.LevelVar)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("ext", "azlens-agent")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := agent.Run(ctx, agent.Options{Getenv: os.Getenv, Name: filepath.Base(os.Args[0]), Log: log, Level: level})
	if err != nil {
		log.Error("azlens-agent failed", "error", err)
		os.Exit(1)
	}
}
