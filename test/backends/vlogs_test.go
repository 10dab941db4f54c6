package backends

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/azlens/azlens/internal/freeport"
)

// victoriaLogs is a real VictoriaLogs, which takes the Loki push protocol at
// /insert/loki/api/v1/push and answers LogsQL at /select/logsql/query. Its data directory outlives
// a restart.
type victoriaLogs struct {
	*child
	base string // http://host:port
}

func startVictoriaLogs(t *testing.T) *victoriaLogs {
	t.Helper()
	addr := freeport.Addr(t)
	v := &victoriaLogs{base: "http://" + addr}
	v.child = startChild(t, "victoria-logs", vlogsPath, nil,
		"-httpListenAddr="+addr,
		"-storageDataPath="+filepath.Join(t.TempDir(), "vlogs"),
		"-retentionPeriod=100y", // keep whatever timestamps the run has
		"-loggerLevel=WARN",
	)
	v.waitHTTP(t, v.base+"/health")
	return v
}

// restart stops VictoriaLogs (SIGTERM: it flushes to disk) and starts it again on the same address
// and data directory.
func (v *victoriaLogs) restart(t *testing.T) {
	t.Helper()
	v.stop()
	v.start()
	v.waitHTTP(t, v.base+"/health")
}

// logEntry is one LogsQL result row: the line, its stream and every other field.
type logEntry map[string]string

// query runs a LogsQL query over all time and returns every matching entry.
func (v *victoriaLogs) query(q string) ([]logEntry, error) {
	resp, err := httpClient.PostForm(v.base+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("LogsQL %q: %d %.300s", q, resp.StatusCode, body.Bytes())
	}
	var out []logEntry
	sc := bufio.NewScanner(&body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var e logEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("LogsQL %q: row %q: %w", q, sc.Bytes(), err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}
