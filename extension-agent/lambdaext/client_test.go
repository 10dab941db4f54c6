package lambdaext

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// The happy path runs against the real emulator in extension-agent/e2e. These tests use an
// httptest stand-in only to produce answers the emulator never gives (malformed or failing).

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func standIn(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRegisterSendsNameAndFeatureAndKeepsIdentifier(t *testing.T) {
	var got *http.Request
	var body string
	api := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/2020-01-01/extension/register":
			got = r.Clone(context.Background())
			b, _ := io.ReadAll(r.Body)
			body = string(b)
			w.Header().Set("Lambda-Extension-Identifier", "id-1")
			_, _ = io.WriteString(w, `{"functionName":"f","functionVersion":"$LATEST","handler":"h","accountId":"123"}`)
		case "/2020-01-01/extension/event/next":
			if r.Header.Get("Lambda-Extension-Identifier") != "id-1" {
				w.WriteHeader(http.StatusForbidden)
				return
			}
			_, _ = io.WriteString(w, `{"eventType":"BOGUS"}`)
		}
	})
	c := New(api, "azlens-agent")
	defer c.CloseIdle()
	reg, err := c.Register(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if reg.AccountID != "123" || got.Header.Get("Lambda-Extension-Name") != "azlens-agent" ||
		got.Header.Get("Lambda-Extension-Accept-Feature") != "accountId" || body != `{"events":["INVOKE","SHUTDOWN"]}` {
		t.Fatalf("register: %+v headers %v body %s", reg, got.Header, body)
	}
	if _, err := c.Next(context.Background()); err == nil || !strings.Contains(err.Error(), `unknown eventType "BOGUS"`) {
		t.Fatalf("next with an unknown event: %v", err)
	}
}

func TestErrorsCarryStatusAndBody(t *testing.T) {
	api := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = io.WriteString(w, `{"errorType":"Extension.RegistrationClosed"}`)
	})
	c := New(api, "x")
	defer c.CloseIdle()
	_, err := c.Register(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 403 || !strings.Contains(ae.Body, "RegistrationClosed") {
		t.Fatalf("register error %v", err)
	}
}

func TestRegisterWithoutIdentifierFails(t *testing.T) {
	api := standIn(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{}`) })
	c := New(api, "x")
	defer c.CloseIdle()
	if _, err := c.Register(context.Background()); err == nil || !strings.Contains(err.Error(), "Lambda-Extension-Identifier") {
		t.Fatalf("register: %v", err)
	}
}

func TestAvailabilityZoneID(t *testing.T) {
	api := standIn(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("Authorization") {
		case "Bearer good":
			_, _ = io.WriteString(w, `{"AvailabilityZoneID":"use1-az4","Other":1}`)
		case "Bearer empty":
			_, _ = io.WriteString(w, `{}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	})
	if az, err := AvailabilityZoneID(context.Background(), api, "good"); err != nil || az != "use1-az4" {
		t.Fatalf("az %q %v", az, err)
	}
	for token, want := range map[string]string{"bad": "status 401", "empty": "lacks AvailabilityZoneID"} {
		if _, err := AvailabilityZoneID(context.Background(), api, token); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("token %s: %v", token, err)
		}
	}
	if _, err := AvailabilityZoneID(context.Background(), "", "x"); err == nil || !strings.Contains(err.Error(), "AWS_LAMBDA_METADATA_API") {
		t.Fatalf("no api: %v", err)
	}
}
