// Command bigline is a real aws-lambda-go function for the agent's end-to-end tests: each
// invocation prints {"lines":n,"size":s} log lines of s bytes, each written in one write.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-lambda-go/lambda"
)

type request struct {
	Lines int `json:"lines"`
	Size  int `json:"size"`
}

func main() {
	lambda.Start(func(ctx context.Context, r request) (map[string]int, error) {
		for i := range r.Lines {
			head := fmt.Sprintf("big %d ", i)
			line := head + strings.Repeat("y", max(r.Size-len(head), 0)) + "\n"
			if _, err := os.Stdout.WriteString(line); err != nil {
				return nil, err
			}
		}
		return map[string]int{"lines": r.Lines}, nil
	})
}
