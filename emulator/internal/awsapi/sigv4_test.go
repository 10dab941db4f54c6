package awsapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/azlens/azlens/emulator/internal/awsapi"
)

const goodAuth = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240102/us-east-1/arc-zonal-shift/aws4_request, " +
	"SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"

func TestParseAuthorization(t *testing.T) {
	c, err := awsapi.ParseAuthorization(goodAuth)
	if err != nil || c.AccessKeyID != "AKIDEXAMPLE" || c.Region != "us-east-1" || c.Service != "arc-zonal-shift" || c.Date != "20240102" {
		t.Fatalf("good header: %+v, %v", c, err)
	}
	if _, err := awsapi.ParseAuthorization("AWS4-ECDSA-P256-SHA256 Credential=AKID/20240102/fis/aws4_request, SignedHeaders=host;x-amz-region-set, Signature=3045022100ab"); err != nil {
		t.Fatalf("SigV4a header: %v", err)
	}
	for bad, want := range map[string]string{
		"Bearer abc": `scheme "Bearer"`,
		"":           `scheme ""`,
		"AWS4-HMAC-SHA256 Credential=AKID/20240102/us-east-1/arc-zonal-shift/aws4_request":      "requires the SignedHeaders, Signature parameter",
		strings.Replace(goodAuth, "/aws4_request", "/aws5_request", 1):                          "Credential must be",
		strings.Replace(goodAuth, "20240102", "2024-01-02", 1):                                  "Credential date must be yyyymmdd",
		strings.Replace(goodAuth, "content-type;host;x-amz-date", "content-type;x-amz-date", 1): "must include host",
		strings.Replace(goodAuth, "content-type;host", "Content-Type;host", 1):                  "lower-case header names",
		strings.Replace(goodAuth, "Signature=5d", "Signature=zz", 1):                            "Signature must be hexadecimal",
		goodAuth + ", Signature=00": "Signature is given twice",
		"AWS4-HMAC-SHA256 Credential=AKID//us-east-1/s/aws4_request, SignedHeaders=host, Signature=" + strings.Repeat("a", 64): "Credential must be",
		"AWS4-HMAC-SHA256 garbage": `"garbage" is not a key=value pair`,
	} {
		if _, err := awsapi.ParseAuthorization(bad); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one containing %q", bad, err, want)
		}
	}
}

func TestRequireSigV4(t *testing.T) {
	h := awsapi.RequireSigV4("AccessDeniedException", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	for _, tc := range []struct {
		auth []string
		want int
	}{
		{nil, http.StatusTeapot},
		{[]string{goodAuth}, http.StatusTeapot},
		{[]string{"AWS4-HMAC-SHA256 Credential=x"}, http.StatusForbidden},
		{[]string{goodAuth, goodAuth}, http.StatusForbidden},
	} {
		r := httptest.NewRequest(http.MethodGet, "/zonalshifts", nil)
		for _, a := range tc.auth {
			r.Header.Add("Authorization", a)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%d auth headers: status %d, want %d", len(tc.auth), w.Code, tc.want)
		}
		if w.Code == http.StatusForbidden && (w.Header().Get("X-Amzn-ErrorType") != "AccessDeniedException" ||
			!strings.Contains(w.Body.String(), `"__type":"AccessDeniedException"`)) {
			t.Errorf("403 answer: %v %s", w.Header(), w.Body)
		}
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add(goodAuth)
	f.Add("AWS4-ECDSA-P256-SHA256 Credential=AKID/20240102/fis/aws4_request, SignedHeaders=host, Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=,,,=")
	f.Add("AWS4-HMAC-SHA256 \xff=\x00")
	f.Fuzz(func(t *testing.T, v string) {
		c, err := awsapi.ParseAuthorization(v)
		if err == nil && (c.AccessKeyID == "" || len(c.Date) != 8 || c.Service == "") {
			t.Fatalf("accepted %q with an incomplete credential %+v", v, c)
		}
	})
}

func TestPage(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	var got []int
	token := ""
	for pages := 0; ; pages++ {
		size, offset, err := awsapi.PageParams("2", token, 100)
		if err != nil {
			t.Fatal(err)
		}
		page, next := awsapi.Page(items, size, offset)
		got = append(got, page...)
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		token = next
	}
	if len(got) != 5 || got[4] != 5 {
		t.Errorf("paged %v", got)
	}
	for _, bad := range [][2]string{{"0", ""}, {"101", ""}, {"x", ""}, {"", "bogus"}, {"", "YXpsZW5zLXBhZ2U6LTE"}} {
		if _, _, err := awsapi.PageParams(bad[0], bad[1], 100); err == nil {
			t.Errorf("PageParams(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func FuzzPageParams(f *testing.F) {
	f.Add("10", "YXpsZW5zLXBhZ2U6Mg")
	f.Add("", "YXpsZW5zLXBhZ2U6OTk5OTk5OTk5OTk5OTk5OTk5OTk")
	f.Add("-1", "\x00")
	f.Fuzz(func(t *testing.T, maxResults, token string) {
		size, offset, err := awsapi.PageParams(maxResults, token, 100)
		if err != nil {
			return
		}
		if size < 1 || size > 100 || offset < 0 {
			t.Fatalf("accepted size %d offset %d", size, offset)
		}
		page, _ := awsapi.Page(make([]int, 7), size, offset)
		if len(page) > size {
			t.Fatalf("page of %d > size %d", len(page), size)
		}
	})
}
