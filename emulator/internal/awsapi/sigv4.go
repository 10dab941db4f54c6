package awsapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// SigV4 schemes an Authorization header may use: HMAC (SigV4) and ECDSA (SigV4a, multi-region).
const (
	schemeHMAC  = "AWS4-HMAC-SHA256"
	schemeECDSA = "AWS4-ECDSA-P256-SHA256"
)

// Credential is what a well-formed SigV4 Authorization header says about its signer.
type Credential struct {
	AccessKeyID string
	Date        string // yyyymmdd
	Region      string // empty for SigV4a, which signs for a region set instead
	Service     string
}

// ParseAuthorization checks that v is a well-formed SigV4 (or SigV4a) Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/arc-zonal-shift/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
//
// It does not verify the signature: the emulator has no secret keys and, like LocalStack, accepts
// any signer. What it refuses is a header no SDK would send, with an error naming the part that
// is wrong, so a hand-built or truncated header is caught rather than silently trusted.
func ParseAuthorization(v string) (Credential, error) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(v), " ")
	if scheme != schemeHMAC && scheme != schemeECDSA {
		return Credential{}, fmt.Errorf("Authorization header must use AWS Signature Version 4 (%s), got scheme %q", schemeHMAC, clip(scheme))
	}
	params := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || k == "" {
			return Credential{}, fmt.Errorf("Authorization header: %q is not a key=value pair", clip(strings.TrimSpace(part)))
		}
		if _, dup := params[k]; dup {
			return Credential{}, fmt.Errorf("Authorization header: %s is given twice", clip(k))
		}
		params[k] = val
	}
	var missing []string
	for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
		if params[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Credential{}, fmt.Errorf("Authorization header requires the %s parameter", strings.Join(missing, ", "))
	}
	c, err := parseCredential(params["Credential"], scheme == schemeHMAC)
	if err != nil {
		return Credential{}, err
	}
	if err := checkSignedHeaders(params["SignedHeaders"]); err != nil {
		return Credential{}, err
	}
	sig := params["Signature"]
	if !isHex(sig) || (scheme == schemeHMAC && len(sig) != 64) {
		return Credential{}, errors.New("Authorization header: Signature must be hexadecimal (64 digits for " + schemeHMAC + ")")
	}
	return c, nil
}

// parseCredential reads AKID/date/region/service/aws4_request (SigV4) or
// AKID/date/service/aws4_request (SigV4a).
func parseCredential(s string, withRegion bool) (Credential, error) {
	parts := strings.Split(s, "/")
	want := 4
	form := "<access key>/<yyyymmdd>/<service>/aws4_request"
	if withRegion {
		want = 5
		form = "<access key>/<yyyymmdd>/<region>/<service>/aws4_request"
	}
	if len(parts) != want || parts[want-1] != "aws4_request" {
		return Credential{}, fmt.Errorf("Authorization header: Credential must be %s, got %q", form, clip(s))
	}
	for _, p := range parts {
		if p == "" {
			return Credential{}, fmt.Errorf("Authorization header: Credential must be %s, got %q", form, clip(s))
		}
	}
	c := Credential{AccessKeyID: parts[0], Date: parts[1], Service: parts[want-2]}
	if withRegion {
		c.Region = parts[2]
	}
	if len(c.Date) != 8 || !isDigits(c.Date) {
		return Credential{}, fmt.Errorf("Authorization header: Credential date must be yyyymmdd, got %q", clip(c.Date))
	}
	return c, nil
}

func checkSignedHeaders(s string) error {
	host := false
	for h := range strings.SplitSeq(s, ";") {
		if h == "" || strings.ToLower(h) != h || strings.ContainsAny(h, " \t") {
			return fmt.Errorf("Authorization header: SignedHeaders must be lower-case header names separated by ';', got %q", clip(s))
		}
		host = host || h == "host"
	}
	if !host {
		return errors.New("Authorization header: SignedHeaders must include host")
	}
	return nil
}

func isHex(s string) bool {
	if s == "" || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// clip keeps an echoed piece of a bad header short and printable.
func clip(s string) string {
	const limit = 64
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// RequireSigV4 wraps h so that a request whose Authorization header is present but not a
// well-formed SigV4 header is refused with 403 and the given error type (each service has its
// own: ARC models AccessDeniedException, FIS does not and gets AWS's IncompleteSignatureException).
// Unsigned requests pass, so curl works; signed ones pass whatever the signature, since the
// emulator holds no secrets to check it against.
func RequireSigV4(errType string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, ok := r.Header["Authorization"]; ok {
			var err error
			if len(v) != 1 {
				err = errors.New("Authorization header must be given once")
			} else {
				_, err = ParseAuthorization(v[0])
			}
			if err != nil {
				WriteError(w, http.StatusForbidden, errType, &routeError{Type: errType, Message: err.Error()})
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
