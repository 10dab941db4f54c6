package main

import (
	"archive/zip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// epoch is the timestamp of every entry: the same binary gives the same zip.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func writeLayer(out, binary string) (err error) {
	src, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("open binary: %w", err)
	}
	defer src.Close()
	if info, err := src.Stat(); err != nil || !info.Mode().IsRegular() {
		return fmt.Errorf("binary %s: not a regular file", binary)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("create output directory: %w", err)
	}
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("create zip: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close zip: %w", cerr)
		}
	}()
	zw := zip.NewWriter(f)
	dir := &zip.FileHeader{Name: "extensions/", Method: zip.Store, Modified: epoch}
	dir.SetMode(fs.ModeDir | 0o755)
	if _, err := zw.CreateHeader(dir); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	h := &zip.FileHeader{Name: "extensions/" + filepath.Base(binary), Method: zip.Deflate, Modified: epoch}
	h.SetMode(0o755) // Lambda only starts executable files
	w, err := zw.CreateHeader(h)
	if err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	if _, err := io.Copy(w, src); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write zip: %w", err)
	}
	return nil
}
