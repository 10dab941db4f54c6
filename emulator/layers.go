package emulator

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// Bounds on what one layer may unpack to: Lambda's own limit is 250 MB unzipped for the function
// and all its layers together.
const (
	maxLayerUnpackedBytes = 250 << 20
	maxLayerFiles         = 100000
)

// unpackLayers extracts each zip in order into dir, later layers overwriting earlier files, as
// Lambda builds /opt. Entries that would land outside dir are refused.
func unpackLayers(zips []string, dir string) error {
	var total int64
	for i, z := range zips {
		if err := unpackLayer(z, dir, &total); err != nil {
			return fmt.Errorf("function.layers[%d] %s: %w", i, z, err)
		}
	}
	return nil
}

func unpackLayer(zipPath, dir string, total *int64) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return err
	}
	defer zr.Close()
	return extractZip(&zr.Reader, dir, total)
}

// extractZip writes r's entries under dir. total accumulates unpacked bytes across layers.
func extractZip(r *zip.Reader, dir string, total *int64) error {
	if len(r.File) > maxLayerFiles {
		return fmt.Errorf("%d entries exceed the limit of %d", len(r.File), maxLayerFiles)
	}
	for _, f := range r.File {
		name, err := layerEntryName(f.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if err := noLinkedParent(dir, name); err != nil {
			return fmt.Errorf("entry %q: %w", f.Name, err)
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			target, err := readEntry(f, 4096, total)
			if err != nil {
				return fmt.Errorf("entry %q: %w", f.Name, err)
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			_ = os.Remove(dst)
			// Kept as is: a link is resolved inside the environment, where /opt is this directory.
			if err := os.Symlink(string(target), dst); err != nil {
				return err
			}
		case mode.IsRegular():
			if err := writeEntry(f, dst, mode.Perm()|0o400, total); err != nil {
				return fmt.Errorf("entry %q: %w", f.Name, err)
			}
		default:
			return fmt.Errorf("entry %q: unsupported file type %s", f.Name, mode.Type())
		}
	}
	return nil
}

// noLinkedParent refuses an entry whose parent directory is a symbolic link an earlier entry
// made: writing through it could land outside the layer directory.
func noLinkedParent(dir, name string) error {
	p := dir
	parts := strings.Split(name, "/")
	for _, part := range parts[:len(parts)-1] {
		p = filepath.Join(p, part)
		info, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return errors.New("path goes through a symbolic link")
		}
	}
	return nil
}

// layerEntryName cleans a zip entry name; "" means the root itself.
func layerEntryName(name string) (string, error) {
	if strings.ContainsRune(name, '\\') || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("entry %q: bad character in name", name)
	}
	clean := path.Clean("/" + name)
	if clean == "/" {
		return "", nil
	}
	if strings.HasPrefix(name, "/") || strings.Contains("/"+name+"/", "/../") {
		return "", fmt.Errorf("entry %q: path leaves the layer", name)
	}
	return clean[1:], nil
}

func readEntry(f *zip.File, limit int64, total *int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New("symbolic link target too long")
	}
	*total += int64(len(b))
	return b, nil
}

func writeEntry(f *zip.File, dst string, perm fs.FileMode, total *int64) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	rc, err := f.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	_ = os.Remove(dst) // a later layer replaces the file (or a link) an earlier one left
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	left := int64(maxLayerUnpackedBytes) - *total
	n, err := io.Copy(out, io.LimitReader(rc, left+1))
	*total += n
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if *total > maxLayerUnpackedBytes {
		return fmt.Errorf("layers unpack to more than %d MB", maxLayerUnpackedBytes>>20)
	}
	return nil
}

// layerExtensions lists what Lambda would run from optDir/extensions: every file (or link to
// one), named after the file, in name order.
func layerExtensions(optDir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(optDir, "extensions"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("layers: %w", err)
	}
	var names []string
	for _, e := range entries {
		info, err := os.Stat(filepath.Join(optDir, "extensions", e.Name()))
		if err != nil || info.IsDir() {
			continue // a dangling link or a directory is not an extension
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}
