package telemetry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"unicode/utf8"
)

// MaxLogLine is the longest log record LogWriter emits; a longer line is split into several
// records so one runaway print cannot exceed what a subscriber can take.
const MaxLogLine = 256 << 10

// LogWriter returns a writer for the stdout/stderr of a runtime ("function") or extension
// ("extension") process: each line becomes one event of that type. format is the function's
// AWS_LAMBDA_LOG_FORMAT: "JSON" keeps lines that are JSON objects as they are and wraps the others;
// anything else is "Text" (the record is the line). Close emits a final unterminated line.
func (h *Hub) LogWriter(kind, format string) io.WriteCloser {
	w := &logWriter{h: h, kind: kind, json: format == "JSON"}
	if kind != "function" && kind != "extension" {
		w.err = fmt.Errorf("log writer: kind %q must be function or extension", kind)
	}
	return w
}

var errWriterClosed = errors.New("log writer: closed")

type logWriter struct {
	h    *Hub
	kind string
	json bool
	// emitTo replaces h.Emit in the fuzz test, which checks records before encoding.
	emitTo func(Event)

	mu     sync.Mutex
	buf    []byte // the current unterminated line
	closed bool
	err    error
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errWriterClosed
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			// Keep at most one record's worth waiting for its newline.
			for len(w.buf) > MaxLogLine {
				cut := splitPoint(w.buf)
				w.emit(w.buf[:cut])
				w.buf = append(w.buf[:0], w.buf[cut:]...)
			}
			break
		}
		if len(w.buf) == 0 {
			w.emitLine(p[:i])
		} else {
			w.buf = append(w.buf, p[:i]...)
			w.emitLine(w.buf)
			w.buf = w.buf[:0]
		}
		p = p[i+1:]
	}
	return n, nil
}

// Close emits the unterminated last line, if any. Idempotent.
func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		w.closed = true
		return nil
	}
	w.closed = true
	if len(w.buf) > 0 {
		w.emitLine(w.buf)
		w.buf = nil
	}
	return nil
}

// splitPoint is where to cut a line longer than MaxLogLine: at MaxLogLine, moved back to the start of
// a UTF-8 sequence so a character is not split between two records.
func splitPoint(line []byte) int {
	for cut := MaxLogLine; cut > MaxLogLine-utf8.UTFMax; cut-- {
		if utf8.RuneStart(line[cut]) {
			return cut
		}
	}
	return MaxLogLine
}

func (w *logWriter) emitLine(line []byte) {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	for len(line) > MaxLogLine {
		cut := splitPoint(line)
		w.emit(line[:cut])
		line = line[cut:]
	}
	w.emit(line)
}

// jsonLogRecord is how Lambda's JSON log format wraps a line that is not itself a JSON object.
type jsonLogRecord struct {
	Timestamp string `json:"timestamp"`
	Level     string `json:"level"`
	RequestID string `json:"requestId,omitempty"`
	Message   string `json:"message"`
}

func (w *logWriter) emit(line []byte) {
	now := w.h.clock.Now()
	var record any
	switch {
	case !w.json:
		record = string(line)
	case isJSONObject(line):
		record = json.RawMessage(bytes.Clone(line))
	default:
		rec := jsonLogRecord{
			Timestamp: now.UTC().Format(timeLayout),
			Level:     "INFO",
			Message:   string(line),
		}
		if w.h.cfg.CurrentRequestID != nil {
			rec.RequestID = w.h.cfg.CurrentRequestID()
		}
		record = rec
	}
	e := Event{Time: now, Type: w.kind, Record: record}
	if w.emitTo != nil {
		w.emitTo(e)
		return
	}
	w.h.Emit(e)
}

func isJSONObject(line []byte) bool {
	trimmed := bytes.TrimLeft(line, " \t")
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(line)
}
