package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLayerHoldsExecutableExtension(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "azlens-agent")
	content := []byte("\x7fELF not really")
	if err := os.WriteFile(bin, content, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dist", "layer.zip")
	if err := writeLayer(out, bin); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var found bool
	for _, f := range zr.File {
		if f.Name != "extensions/azlens-agent" {
			continue
		}
		found = true
		if f.Mode().Perm()&0o111 != 0o111 || !f.Mode().IsRegular() {
			t.Fatalf("mode %v: not executable", f.Mode())
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, content) {
			t.Fatal("content changed")
		}
	}
	if !found {
		t.Fatal("extensions/azlens-agent missing")
	}
	first, _ := os.ReadFile(out)
	if err := writeLayer(out, bin); err != nil {
		t.Fatal(err)
	}
	second, _ := os.ReadFile(out)
	if !bytes.Equal(first, second) {
		t.Fatal("the same binary gave a different zip")
	}
	if err := writeLayer(out, dir); err == nil {
		t.Fatal("a directory was accepted as the binary")
	}
}
