package lambdatelemetryreceiver

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/metadata"
)

// extensionsHost is a component.Host that offers the given extensions, as
// the collector's service does for `auth: {authenticator: …}`.
type extensionsHost map[component.ID]component.Component

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h }

// TestBearerTokenAuth runs the receiver behind the contrib bearertokenauth
// extension: the agent's `Authorization: Bearer <token>` is required.
func TestBearerTokenAuth(t *testing.T) {
	ctx := context.Background()
	authID := component.MustNewID("bearertokenauth")
	ef := bearertokenauthextension.NewFactory()
	ecfg := ef.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(map[string]any{"token": "s3cret"}).Unmarshal(ecfg); err != nil {
		t.Fatal(err)
	}
	ext, err := ef.Create(ctx, extensiontest.NewNopSettings(ef.Type()), ecfg)
	if err != nil {
		t.Fatal(err)
	}
	host := extensionsHost{authID: ext}
	if err := ext.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ext.Shutdown(context.Background()) })

	f := NewFactory()
	cfg := f.CreateDefaultConfig().(*Config)
	if err := confmap.NewFromStringMap(map[string]any{
		"endpoint": "127.0.0.1:0",
		"auth":     map[string]any{"authenticator": "bearertokenauth"},
	}).Unmarshal(cfg); err != nil {
		t.Fatal(err)
	}
	sink := new(consumertest.TracesSink)
	r, err := f.CreateTraces(ctx, receivertest.NewNopSettings(metadata.Type), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	url := "http://" + r.(*lambdaReceiver).listenAddr.String() + AgentBatchPath
	body := agentBody(t, 1, rawEvents(t, oneInvocation))

	for _, tc := range []struct {
		name, header string
		want         int
	}{
		{"missing token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"right token", "Bearer s3cret", http.StatusOK},
	} {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	if sink.SpanCount() != 2 {
		t.Fatalf("got %d spans, want only the authorised batch's 2", sink.SpanCount())
	}
}
