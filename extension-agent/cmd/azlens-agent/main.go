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
	level := new(slog.LevelVar)
	_ = level.UnmarshalText([]byte(os.Getenv("AZLENS_LOG_LEVEL")))
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("ext", "azlens-agent")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := agent.Run(ctx, agent.Options{Getenv: os.Getenv, Name: filepath.Base(os.Args[0]), Log: log})
	if err != nil {
		log.Error("azlens-agent failed", "error", err)
		os.Exit(1)
	}
}
