package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/smithy-go"
)

// defaultEndpoint is the front door of `azlens up`, where ARC's and FIS's paths are served.
const defaultEndpoint = "http://127.0.0.1:9001"

// awsFlags are the flags every `azlens shift` and `azlens experiment` verb takes: they choose what
// the AWS SDK talks to. The commands are thin wrappers over the SDK's arczonalshift and fis
// clients, so the same verbs drive real ARC and FIS (--endpoint "" --region …).
type awsFlags struct {
	endpoint, region string
}

func (a *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.endpoint, "endpoint", defaultEndpoint, `API endpoint: a local region's front door, or "" for AWS itself`)
	fs.StringVar(&a.region, "region", "", "AWS region (default: AWS_REGION or the shared config; us-east-1 for a local endpoint)")
}

// config loads the SDK's configuration: region and credentials from the default chain. For a
// local endpoint the instance metadata service is not asked (it is not there on a laptop and
// would cost seconds of timeouts), and when no credentials are found at all the requests go
// unsigned, which the local region accepts.
func (a *awsFlags) config(ctx context.Context) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if a.region != "" {
		opts = append(opts, awsconfig.WithRegion(a.region))
	}
	if a.endpoint != "" {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if a.endpoint == "" {
		if cfg.Region == "" {
			return aws.Config{}, errors.New("--region (or AWS_REGION) is required to reach AWS")
		}
		return cfg, nil
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		cfg.Credentials = aws.AnonymousCredentials{}
	}
	return cfg, nil
}

// baseEndpoint is the SDK's BaseEndpoint option: nil for AWS's own endpoint.
func (a *awsFlags) baseEndpoint() *string {
	if a.endpoint == "" {
		return nil
	}
	return aws.String(strings.TrimRight(a.endpoint, "/"))
}

// printJSON prints an SDK output as indented JSON, without the SDK's result metadata.
func printJSON(stdout io.Writer, out any) error {
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) == nil {
		delete(m, "ResultMetadata")
		if b, err = json.Marshal(m); err != nil {
			return err
		}
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, b, "", "  "); err != nil {
		return err
	}
	pretty.WriteByte('\n')
	_, err = pretty.WriteTo(stdout)
	return err
}

// apiError shortens an SDK error to the API's type and message, which is what a user acts on.
func apiError(err error) error {
	var api smithy.APIError
	if errors.As(err, &api) {
		return fmt.Errorf("%s: %s", api.ErrorCode(), api.ErrorMessage())
	}
	return err
}
