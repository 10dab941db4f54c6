package lokiexporter // import "github.com/azlens/azlens/exporter/lokiexporter"

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// pushURL returns the URL pushes go to. endpoint is either the full push URL,
// whose path ends in "/push" (Loki's /loki/api/v1/push, a gateway's own), or
// the base URL the push API is mounted under, which gets /loki/api/v1/push
// appended: no path for Loki itself, a prefix such as /insert for VictoriaLogs
// (/insert/loki/api/v1/push) or a gateway's route.
func pushURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("endpoint: %w", err)
	}
	if strings.HasSuffix(u.Path, "/push") {
		return u.String(), nil
	}
	// JoinPath keeps the prefix's escaping and avoids a double slash after a
	// trailing one.
	return u.JoinPath(defaultPushPath).String(), nil
}

// wrongPath reports whether a refused push was refused for its URL path rather
// than its content: 404 and 405 (nothing takes pushes there), or a 400 whose
// reason names the path, as VictoriaLogs and VictoriaMetrics-style servers
// answer an unknown path ("unsupported path requested"). Loki's own 400s name
// entries, streams and labels, never the path.
func wrongPath(status int, body []byte) bool {
	switch status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	case http.StatusBadRequest:
		return bytes.Contains(bytes.ToLower(body), []byte("path"))
	}
	return false
}

// wrongPathHint tells the user how endpoint becomes a working push URL.
func wrongPathHint(pushURL string) string {
	return fmt.Sprintf("the push URL %s looks wrong: set endpoint to the base URL the push API is mounted under "+
		"(http://loki:3100, http://victorialogs:9428/insert) or to the full push URL ending in /push", pushURL)
}
