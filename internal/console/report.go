package console

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// WriteReport writes the rehearsal report: the console's page with its script, style, uPlot and
// the whole run's data inlined, so the one file opens anywhere with no network and no server.
func (c *Console) WriteReport(w io.Writer) error {
	page, err := reportPage(c.state(0))
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, page)
	return err
}

// WriteReportFile writes the report to path through a temporary file in the same directory, so
// a reader never sees half a report (the run may be ending on Ctrl-C).
func (c *Console) WriteReportFile(path string) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".azlens-report-*.html")
	if err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := c.WriteReport(f); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("report %s: %w", path, err)
	}
	return nil
}

func reportPage(s State) (string, error) {
	read := func(name string) (string, error) {
		b, err := fs.ReadFile(assets, "assets/"+name)
		return string(b), err
	}
	page, err := read("index.html")
	if err != nil {
		return "", err
	}
	data, err := json.Marshal(s) // escapes <, > and &, so the data cannot close its script element
	if err != nil {
		return "", err
	}
	// Each external reference of the page is replaced by its content; a reference the page no
	// longer has is an error, never a report that would need the network.
	inline := []struct{ tag, file, open, close string }{
		{`<link rel="stylesheet" href="static/vendor/uplot/uPlot.min.css">`, "vendor/uplot/uPlot.min.css", "<style>", "</style>"},
		{`<link rel="stylesheet" href="static/app.css">`, "app.css", "<style>", "</style>"},
		{`<script src="static/vendor/uplot/uPlot.iife.min.js"></script>`, "vendor/uplot/uPlot.iife.min.js", "<script>", "</script>"},
		{`<script src="static/app.js"></script>`, "app.js", "<script>window.AZLENS_REPORT = " + string(data) + ";</script>\n<script>", "</script>"},
	}
	for _, in := range inline {
		if !strings.Contains(page, in.tag) {
			return "", fmt.Errorf("report: the page no longer references %s", in.file)
		}
		body, err := read(in.file)
		if err != nil {
			return "", err
		}
		if strings.Contains(strings.ToLower(body), "</script") || strings.Contains(strings.ToLower(body), "</style") {
			return "", fmt.Errorf("report: %s cannot be inlined: it contains a closing tag", in.file)
		}
		if in.file == "vendor/uplot/uPlot.iife.min.js" {
			// uPlot's licence notice travels with its code.
			lic, err := read("vendor/uplot/LICENSE")
			if err != nil {
				return "", err
			}
			body = "/*! uPlot — " + strings.ReplaceAll(lic, "*/", "* /") + "*/\n" + body
		}
		page = strings.Replace(page, in.tag, in.open+body+in.close, 1)
	}
	return page, nil
}
