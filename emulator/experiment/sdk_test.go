package experiment_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/fis"
	"github.com/aws/aws-sdk-go-v2/service/fis/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/azlens/azlens/emulator/experiment"
)

// newFISClient serves the handler at the root of a server, as the front door does, and returns
// the AWS SDK's own FIS client pointed at it: only BaseEndpoint differs from a client of real FIS.
func (f *fixture) newFISClient(t *testing.T) *fis.Client {
	t.Helper()
	srv := httptest.NewServer(f.svc.Handler())
	t.Cleanup(srv.Close)
	return fis.New(fis.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(srv.URL),
		Credentials:      credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:       srv.Client(),
		RetryMaxAttempts: 1,
	})
}

const alarmARN = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:use1-az2"

// fisTemplate is a template as a FIS user writes it: a Lambda function target narrowed to one
// zone by an AvailabilityZoneId filter, FIS's own invocation-error action, and a CloudWatch alarm
// stop condition.
func fisTemplate() *fis.CreateExperimentTemplateInput {
	return &fis.CreateExperimentTemplateInput{
		Description: aws.String("errors in use1-az2"),
		RoleArn:     aws.String("arn:aws:iam::123456789012:role/fis"),
		Targets: map[string]types.CreateExperimentTemplateTargetInput{
			"fn": {
				ResourceType:  aws.String("aws:lambda:function"),
				ResourceArns:  []string{"arn:aws:lambda:us-east-1:123456789012:function:hello"},
				Filters:       []types.ExperimentTemplateTargetInputFilter{{Path: aws.String("AvailabilityZoneId"), Values: []string{"use1-az2"}}},
				SelectionMode: aws.String("ALL"),
			},
		},
		Actions: map[string]types.CreateExperimentTemplateActionInput{
			"errors": {
				ActionId:   aws.String("aws:lambda:invocation-error"),
				Parameters: map[string]string{"duration": "PT5M", "invocationPercentage": "100", "preventExecution": "true"},
				Targets:    map[string]string{"Functions": "fn"},
			},
		},
		StopConditions: []types.CreateExperimentTemplateStopConditionInput{{Source: aws.String("aws:cloudwatch:alarm"), Value: aws.String(alarmARN)}},
	}
}

func TestSDKExperiment(t *testing.T) {
	f := newFixture(t)
	c := f.newFISClient(t)
	ctx := context.Background()

	created, err := c.CreateExperimentTemplate(ctx, fisTemplate())
	if err != nil {
		t.Fatalf("CreateExperimentTemplate: %v", err)
	}
	tmplID := created.ExperimentTemplate.Id
	if tg := created.ExperimentTemplate.Targets["fn"]; aws.ToString(tg.ResourceType) != "aws:lambda:function" || len(tg.Filters) != 1 ||
		!aws.ToTime(created.ExperimentTemplate.CreationTime).Equal(t0) {
		t.Errorf("created %+v", created.ExperimentTemplate)
	}
	got, err := c.GetExperimentTemplate(ctx, &fis.GetExperimentTemplateInput{Id: tmplID})
	if err != nil || aws.ToString(got.ExperimentTemplate.Actions["errors"].ActionId) != "aws:lambda:invocation-error" {
		t.Fatalf("GetExperimentTemplate = %+v, %v", got, err)
	}
	f.clock.Advance(time.Minute)
	updated, err := c.UpdateExperimentTemplate(ctx, &fis.UpdateExperimentTemplateInput{Id: tmplID, Description: aws.String("renamed")})
	if err != nil || aws.ToString(updated.ExperimentTemplate.Description) != "renamed" || !aws.ToTime(updated.ExperimentTemplate.LastUpdateTime).Equal(t0.Add(time.Minute)) {
		t.Fatalf("UpdateExperimentTemplate = %+v, %v", updated, err)
	}
	if _, err := c.CreateExperimentTemplate(ctx, fisTemplate()); err != nil {
		t.Fatal(err)
	}
	var listed []types.ExperimentTemplateSummary
	pages := fis.NewListExperimentTemplatesPaginator(c, &fis.ListExperimentTemplatesInput{MaxResults: aws.Int32(1)})
	for pages.HasMorePages() {
		p, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListExperimentTemplates: %v", err)
		}
		listed = append(listed, p.ExperimentTemplates...)
	}
	if len(listed) != 2 || aws.ToString(listed[0].Id) != aws.ToString(tmplID) {
		t.Fatalf("listed %+v", listed)
	}

	// The experiment fails every invocation in use1-az2 only, until the alarm its stop condition
	// names by ARN fires.
	started, err := c.StartExperiment(ctx, &fis.StartExperimentInput{ExperimentTemplateId: tmplID, ClientToken: aws.String("t")})
	if err != nil {
		t.Fatalf("StartExperiment: %v", err)
	}
	id := started.Experiment.Id
	f.clock.Advance(time.Second)
	e, err := c.GetExperiment(ctx, &fis.GetExperimentInput{Id: id})
	if err != nil || e.Experiment.State.Status != types.ExperimentStatusRunning || e.Experiment.Actions["errors"].State.Status != types.ExperimentActionStatusRunning {
		t.Fatalf("GetExperiment = %+v, %v", e, err)
	}
	hooks2, hooks1 := f.svc.HooksFor("use1-az2", 0), f.svc.HooksFor("use1-az1", 0)
	if _, err := hooks2.BeforeInvoke(ctx, nil); err == nil {
		t.Error("an invocation in use1-az2 was not failed")
	}
	if _, err := hooks1.BeforeInvoke(ctx, nil); err != nil {
		t.Errorf("an invocation in use1-az1 was failed: %v", err)
	}
	f.alarms.Set("use1-az2", true)
	f.clock.Advance(time.Second)
	e, err = c.GetExperiment(ctx, &fis.GetExperimentInput{Id: id})
	if err != nil || e.Experiment.State.Status != types.ExperimentStatusStopped || !strings.Contains(aws.ToString(e.Experiment.State.Reason), "use1-az2") {
		t.Fatalf("after the alarm: %+v, %v", e.Experiment.State, err)
	}
	list, err := c.ListExperiments(ctx, &fis.ListExperimentsInput{ExperimentTemplateId: tmplID})
	if err != nil || len(list.Experiments) != 1 || aws.ToString(list.Experiments[0].Id) != aws.ToString(id) {
		t.Fatalf("ListExperiments = %+v, %v", list, err)
	}

	// Stopping a running experiment; stopping it again is a conflict.
	f.alarms.Set("use1-az2", false)
	again, err := c.StartExperiment(ctx, &fis.StartExperimentInput{ExperimentTemplateId: tmplID, ClientToken: aws.String("u")})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	stopped, err := c.StopExperiment(ctx, &fis.StopExperimentInput{Id: again.Experiment.Id})
	if err != nil || stopped.Experiment.State.Status != types.ExperimentStatusStopping {
		t.Fatalf("StopExperiment = %+v, %v", stopped, err)
	}
	f.clock.Advance(time.Second)
	var ve *types.ValidationException
	if _, err := c.StopExperiment(ctx, &fis.StopExperimentInput{Id: again.Experiment.Id}); !errors.As(err, &ve) || !strings.HasPrefix(ve.ErrorMessage(), "id: ") {
		t.Errorf("stopping a stopped experiment: %v", err)
	}
	// A retried start (same clientToken) is the same experiment; the token on another template
	// is a conflict.
	retried, err := c.StartExperiment(ctx, &fis.StartExperimentInput{ExperimentTemplateId: tmplID, ClientToken: aws.String("u")})
	if err != nil || aws.ToString(retried.Experiment.Id) != aws.ToString(again.Experiment.Id) {
		t.Errorf("retried StartExperiment = %+v, %v", retried, err)
	}
	var ce *types.ConflictException
	if _, err := c.StartExperiment(ctx, &fis.StartExperimentInput{ExperimentTemplateId: listed[1].Id, ClientToken: aws.String("u")}); !errors.As(err, &ce) {
		t.Errorf("clientToken reused for another template: %v", err)
	}
	if _, err := c.DeleteExperimentTemplate(ctx, &fis.DeleteExperimentTemplateInput{Id: tmplID}); err != nil {
		t.Errorf("DeleteExperimentTemplate: %v", err)
	}
	actions, err := c.ListActions(ctx, &fis.ListActionsInput{})
	if err != nil || len(actions.Actions) < 10 {
		t.Errorf("ListActions = %d actions, %v", len(actions.Actions), err)
	}
}

// TestSDKErrors asserts the error paths through the SDK's typed errors; validation messages name
// the field.
func TestSDKErrors(t *testing.T) {
	f := newFixture(t)
	c := f.newFISClient(t)
	ctx := context.Background()
	var nf *types.ResourceNotFoundException
	if _, err := c.GetExperimentTemplate(ctx, &fis.GetExperimentTemplateInput{Id: aws.String("EXTnope")}); !errors.As(err, &nf) {
		t.Errorf("unknown template: %v", err)
	}
	if _, err := c.StopExperiment(ctx, &fis.StopExperimentInput{Id: aws.String("EXPnope")}); !errors.As(err, &nf) {
		t.Errorf("unknown experiment: %v", err)
	}
	if _, err := c.StartExperiment(ctx, &fis.StartExperimentInput{ExperimentTemplateId: aws.String("EXTnope"), ClientToken: aws.String("t")}); !errors.As(err, &nf) {
		t.Errorf("start from unknown template: %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*fis.CreateExperimentTemplateInput)
		field string
	}{
		{"preventExecution false", func(in *fis.CreateExperimentTemplateInput) {
			in.Actions["errors"].Parameters["preventExecution"] = "false"
		}, "actions.errors.parameters.preventExecution"},
		{"unknown zone", func(in *fis.CreateExperimentTemplateInput) {
			in.Targets["fn"].Filters[0].Values[0] = "use1-az9"
		}, "targets.fn.zones[0]"},
		{"bad filter path", func(in *fis.CreateExperimentTemplateInput) {
			in.Targets["fn"].Filters[0].Path = aws.String("State.Name")
		}, "targets.fn.filters[0].path"},
		{"not a function ARN", func(in *fis.CreateExperimentTemplateInput) {
			in.Targets["fn"].ResourceArns[0] = "arn:aws:ec2:us-east-1:123456789012:instance/i-1"
		}, "targets.fn.resourceArns[0]"},
		{"bad alarm ARN", func(in *fis.CreateExperimentTemplateInput) {
			in.StopConditions[0].Value = aws.String("use1-az2")
		}, "stopConditions[0].value"},
		{"HTTP 404 response", func(in *fis.CreateExperimentTemplateInput) {
			in.Actions["errors"] = types.CreateExperimentTemplateActionInput{ActionId: aws.String("aws:lambda:invocation-http-integration-response"),
				Parameters: map[string]string{"statusCode": "404", "preventExecution": "true"}, Targets: map[string]string{"Functions": "fn"}}
		}, "actions.errors.parameters.statusCode"},
		{"unknown action", func(in *fis.CreateExperimentTemplateInput) {
			in.Actions["errors"] = types.CreateExperimentTemplateActionInput{ActionId: aws.String("aws:lambda:meteor"), Targets: map[string]string{"Functions": "fn"}}
		}, "actions.errors.actionId"},
	} {
		in := fisTemplate()
		tc.edit(in)
		_, err := c.CreateExperimentTemplate(ctx, in)
		var ve *types.ValidationException
		if !errors.As(err, &ve) || !strings.HasPrefix(ve.ErrorMessage(), tc.field+": ") {
			t.Errorf("%s: %v, want a ValidationException naming %s", tc.name, err, tc.field)
		}
	}

	// A malformed Authorization header is refused with AWS's IncompleteSignatureException.
	_, err := c.ListExperiments(ctx, &fis.ListExperimentsInput{}, func(o *fis.Options) {
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("breakSignature",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					if req, ok := in.Request.(*smithyhttp.Request); ok {
						req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE")
					}
					return next.HandleFinalize(ctx, in)
				}), middleware.After)
		})
	})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != experiment.IncompleteSignatureException {
		t.Errorf("malformed Authorization: %v", err)
	}
}
