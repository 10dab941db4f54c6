package zonalshift_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	arc "github.com/aws/aws-sdk-go-v2/service/arczonalshift"

	"github.com/azlens/azlens/emulator/zonalshift"
)

// BenchmarkStartCancel measures one StartZonalShift + CancelZonalShift round trip over loopback
// HTTP: "raw" is a plain net/http client sending the JSON by hand (the reference), "sdk" the AWS
// SDK's ARC client with SigV4 signing, retries middleware and its deserializers. Compare the two
// in the same run (benchstat, or the ratio of ns/op); absolute times depend on the machine.
func BenchmarkStartCancel(b *testing.B) {
	s := zonalshift.New(zonalshift.Config{})
	defer s.Close()
	s.SetZones("fn", []string{"use1-az1", "use1-az2"})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	ctx := context.Background()

	b.Run("raw", func(b *testing.B) {
		hc := srv.Client()
		for b.Loop() {
			resp, err := hc.Post(srv.URL+"/zonalshifts", "application/json",
				strings.NewReader(`{"resourceIdentifier":"fn","awayFrom":"use1-az1","expiresIn":"1m","comment":"b"}`))
			if err != nil {
				b.Fatal(err)
			}
			var z struct{ ZonalShiftID string }
			err = json.NewDecoder(resp.Body).Decode(&z)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("start: %d %v", resp.StatusCode, err)
			}
			req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/zonalshifts/"+z.ZonalShiftID, nil)
			if resp, err = hc.Do(req); err != nil || resp.StatusCode != 200 {
				b.Fatalf("cancel: %v", err)
			}
			resp.Body.Close()
		}
	})
	b.Run("sdk", func(b *testing.B) {
		c := arc.New(arc.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client(),
			Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "")})
		for b.Loop() {
			z, err := c.StartZonalShift(ctx, &arc.StartZonalShiftInput{ResourceIdentifier: aws.String("fn"),
				AwayFrom: aws.String("use1-az1"), ExpiresIn: aws.String("1m"), Comment: aws.String("b")})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := c.CancelZonalShift(ctx, &arc.CancelZonalShiftInput{ZonalShiftId: z.ZonalShiftId}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
