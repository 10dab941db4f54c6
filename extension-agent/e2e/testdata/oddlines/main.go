// Command oddlines is a real aws-lambda-go function for the agent's B8 correctness test: each
// invocation writes the given lines (base64 in the payload, so they may hold any bytes: invalid
// UTF-8, NUL, escapes, broken JSON, lines longer than a Telemetry API record) to stdout, each
// followed by a newline, one write per line.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Lines [][]byte `json:"lines"`
}

func main() {
	lambda.Start(func(ctx context.Context, r request) (map[string]int, error) {
		for _, l := range r.Lines {
			if _, err := os.Stdout.Write(append(l, '\n')); err != nil {
				return nil, err
			}
		}
		return map[string]int{"lines": len(r.Lines)}, nil
	})
}
