package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/azlens/azlens/emulator"
	"github.com/azlens/azlens/internal/freeport"
	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver"
)

// TestTLSAndTokenEndToEnd runs the real agent (in the emulator) against the real receiver as a
// user secures them: the receiver on TLS with a certificate from a private CA and the
// bearertokenauth extension; the agent with AZLENS_COLLECTOR_CA_FILE and AZLENS_COLLECTOR_TOKEN.
// Every invocation arrives over https with the right token; an agent with a wrong token is
// refused (401) — and neither token appears in the agent's or the receiver's logs.
func TestTLSAndTokenEndToEnd(t *testing.T) {
	const token = "tok-3f9a7c51e0b24d8e"
	const wrongToken = "tok-wrong-77d1c0aa92e5"
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestPKI(t, dir)

	endpoint := freeport.Addr(t)
	f := lambdatelemetryreceiver.NewFactory()
	cfg := f.CreateDefaultConfig().(*lambdatelemetryreceiver.Config)
	cfg.NetAddr.Endpoint = endpoint
	cfg.TLS = configoptional.Some(configtls.ServerConfig{Config: configtls.Config{CertFile: certFile, KeyFile: keyFile}})
	authID := component.MustNewID("bearertokenauth")
	cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: authID}})

	receiverLogs := &syncBuffer{}
	set := receivertest.NewNopSettings(f.Type())
	set.Logger = zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), zapcore.AddSync(receiverLogs), zapcore.DebugLevel))
	traces := new(consumertest.TracesSink)
	ctx := context.Background()
	rcv, err := f.CreateTraces(ctx, set, cfg, traces)
	if err != nil {
		t.Fatal(err)
	}
	af := bearertokenauthextension.NewFactory()
	acfg := af.CreateDefaultConfig().(*bearertokenauthextension.Config)
	acfg.BearerToken = configopaque.String(token)
	auth, err := af.Create(ctx, extensiontest.NewNopSettings(af.Type()), acfg)
	if err != nil {
		t.Fatal(err)
	}
	host := extensionsHost{ext: map[component.ID]component.Component{authID: auth}}
	if err := auth.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = auth.Shutdown(context.Background()) })
	if err := rcv.Start(ctx, host); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rcv.Shutdown(context.Background()) })

	run := func(tok string, n int) string {
		out := &logBuffer{}
		sb, err := emulator.NewSandbox(emulator.SandboxConfig{
			Function: emulator.Function{
				Name: "orders",
				Env: map[string]string{
					"AZLENS_COLLECTOR_ENDPOINT": "https://" + endpoint,
					"AZLENS_COLLECTOR_CA_FILE":  caFile,
					"AZLENS_COLLECTOR_TOKEN":    tok,
					"AZLENS_LOG_LEVEL":          "debug",
					"AZLENS_SPOOL_DIR":          t.TempDir(),
				},
				Runtime:    &emulator.ProcessRuntime{Path: functionPath},
				Extensions: []emulator.Extension{&emulator.ProcessExtension{Path: agentPath}},
			},
			LogOutput: out,
		})
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := sb.Start(sctx); err != nil {
			t.Fatal(err)
		}
		for range n {
			invoke(t, sb, `{"mode":"log","n":1}`)
		}
		shutdown(t, sb)
		out.mu.Lock()
		defer out.mu.Unlock()
		return out.b.String()
	}

	const n = 10
	good := run(token, n)
	if got := traces.SpanCount(); got < n {
		t.Fatalf("%d spans over TLS for %d invocations; agent output:\n%s", got, n, good)
	}
	if !strings.Contains(good, "dropped=0") {
		t.Fatalf("the agent dropped events over TLS; its output:\n%s", good)
	}
	before := traces.SpanCount()
	bad := run(wrongToken, 2)
	if traces.SpanCount() != before {
		t.Fatalf("a batch with the wrong token was accepted (%d → %d spans)", before, traces.SpanCount())
	}
	if !strings.Contains(bad, "401") {
		t.Fatalf("the agent with a wrong token does not say the collector refused it (401); its output:\n%s", bad)
	}
	for name, logs := range map[string]string{"agent (right token)": good, "agent (wrong token)": bad, "receiver": receiverLogs.String()} {
		for _, tok := range []string{token, wrongToken} {
			if strings.Contains(logs, tok) {
				t.Errorf("the %s log contains a token:\n%s", name, logs)
			}
		}
	}
}

// extensionsHost is a component.Host that offers the given extensions, as the collector's
// service does for the components that name an authenticator.
type extensionsHost struct {
	ext map[component.ID]component.Component
}

func (h extensionsHost) GetExtensions() map[component.ID]component.Component { return h.ext }

var _ component.Host = extensionsHost{}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// writeTestPKI writes a private CA and a server certificate for 127.0.0.1 signed by it, as PEM
// files, and returns their paths.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "azlens test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "azlens-collector"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server-key.pem", "EC PRIVATE KEY", keyDER)
}
