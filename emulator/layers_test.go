package emulator

import (
	"archive/zip"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func zipBytes(t testing.TB, entries ...[3]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries { // name, content, kind ("", "dir", "link")
		h := &zip.FileHeader{Name: e[0], Method: zip.Store}
		switch e[2] {
		case "dir":
			h.SetMode(fs.ModeDir | 0o755)
		case "link":
			h.SetMode(fs.ModeSymlink | 0o777)
		default:
			h.SetMode(0o755)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e[1]))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func extractBytes(b []byte, dir string) error {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return err
	}
	var total int64
	return extractZip(zr, dir, &total)
}

func TestExtractRefusesEscapes(t *testing.T) {
	for name, b := range map[string][]byte{
		"dot-dot":      zipBytes(t, [3]string{"../evil", "x", ""}),
		"nested":       zipBytes(t, [3]string{"extensions/../../evil", "x", ""}),
		"absolute":     zipBytes(t, [3]string{"/evil", "x", ""}),
		"through link": zipBytes(t, [3]string{"out", "/tmp", "link"}, [3]string{"out/evil", "x", ""}),
		"backslash":    zipBytes(t, [3]string{`..\evil`, "x", ""}),
	} {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "opt")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			err := extractBytes(b, dir)
			if err == nil {
				t.Fatal("extracted, want an error")
			}
			if !strings.Contains(err.Error(), "entry") {
				t.Errorf("error %q does not name the entry", err)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
				t.Error("a file was written outside the layer directory")
			}
		})
	}
}

func TestLayerExtensionsDiscovery(t *testing.T) {
	dir := t.TempDir()
	b := zipBytes(t,
		[3]string{"extensions/", "", "dir"},
		[3]string{"extensions/b-ext", "#!/bin/sh\n", ""},
		[3]string{"extensions/a-ext", "#!/bin/sh\n", ""},
		[3]string{"extensions/sub/", "", "dir"},
		[3]string{"extensions/dangling", "nowhere", "link"},
		[3]string{"bin/tool", "#!/bin/sh\n", ""},
	)
	if err := extractBytes(b, dir); err != nil {
		t.Fatal(err)
	}
	names, err := layerExtensions(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "a-ext,b-ext" {
		t.Errorf("extensions %v, want a-ext,b-ext (files only, in name order)", names)
	}
	if info, err := os.Stat(filepath.Join(dir, "bin", "tool")); err != nil || info.Mode().Perm()&0o100 == 0 {
		t.Errorf("bin/tool lost its executable bit: %v %v", info, err)
	}
}

// Layer zips are outside bytes: extraction never panics and never writes outside its directory.
func FuzzExtractLayer(f *testing.F) {
	f.Add(zipBytes(f, [3]string{"extensions/x", "bin", ""}, [3]string{"lib/", "", "dir"}))
	f.Add(zipBytes(f, [3]string{"l", "../..", "link"}, [3]string{"l/x", "y", ""}))
	f.Add(zipBytes(f, [3]string{"a/../../b", "x", ""}))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "opt")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		_ = extractBytes(b, dir)
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("extraction wrote outside its directory: %v", entries)
		}
	})
}
