package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Every command checks all its flags before it starts anything, so a typo costs a second, not a
// three-minute warm-up. A usageError is a mistake in the command line: the CLI prints it with a
// pointer to -h and exits 2.

// usageError names the flag at fault and, when there is a list, the valid values.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

// oneOf accepts got if it is one of valid; otherwise the error lists them and suggests the
// nearest.
func oneOf(name, got string, valid []string) error {
	if slices.Contains(valid, got) {
		return nil
	}
	msg := fmt.Sprintf("--%s %q is not one of: %s", name, got, strings.Join(valid, ", "))
	if near := nearest(got, valid); near != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", near)
	}
	return usagef("%s", msg)
}

// nearest is the valid value within two edits of got, if exactly one is closest.
func nearest(got string, valid []string) string {
	best, bestD, ties := "", 3, 0
	for _, v := range valid {
		d := editDistance(strings.ToLower(got), strings.ToLower(v))
		switch {
		case d < bestD:
			best, bestD, ties = v, d, 0
		case d == bestD:
			ties++
		}
	}
	if ties > 0 {
		return ""
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// executablePath resolves a path flag against the working directory and checks it names an
// executable file. The result is absolute: the emulator starts processes in their own directory,
// where a relative path would mean something else.
func executablePath(name, p string) (string, error) {
	abs, info, err := statPath(name, p)
	if err != nil {
		return "", err
	}
	if !info.Mode().IsRegular() {
		return "", usagef("--%s %s: not a regular file (%s)", name, p, abs)
	}
	if info.Mode().Perm()&0o111 == 0 {
		return "", usagef("--%s %s: not executable (mode %s; chmod +x it)", name, p, info.Mode().Perm())
	}
	return abs, nil
}

// existingPath resolves a path flag against the working directory and checks it exists (a file or a
// folder: a layer may be either).
func existingPath(name, p string) (string, error) {
	abs, _, err := statPath(name, p)
	return abs, err
}

func statPath(name, p string) (string, os.FileInfo, error) {
	if p == "" {
		return "", nil, usagef("--%s must not be empty", name)
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", nil, usagef("--%s %s: %v", name, p, err)
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", nil, usagef("--%s %s: no such file (looked for %s)", name, p, abs)
	case err != nil:
		return "", nil, usagef("--%s %s: %v", name, p, err)
	}
	return abs, info, nil
}

// outputPath resolves a file the command will write at the end, and checks now that its folder
// exists, so a long run does not end with nowhere to put its result.
func outputPath(name, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", usagef("--%s %s: %v", name, p, err)
	}
	dir := filepath.Dir(abs)
	info, err := os.Stat(dir)
	if err != nil || !info.IsDir() {
		return "", usagef("--%s %s: folder %s does not exist", name, p, dir)
	}
	if info, err := os.Stat(abs); err == nil && info.IsDir() {
		return "", usagef("--%s %s: is a folder", name, p)
	}
	return abs, nil
}

// listenAddr checks a host:port to listen on (port 0: any free port).
func listenAddr(name, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usagef("--%s %q: want HOST:PORT, e.g. 127.0.0.1:9001 (%v)", name, addr, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return usagef("--%s %q: port must be a number from 0 to 65535", name, addr)
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return usagef("--%s %q: host must be an IP address or localhost", name, addr)
	}
	return nil
}

// dialAddr checks a host:port to connect to (a name or an address, and a port from 1 to 65535).
func dialAddr(name, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return usagef("--%s %q: want HOST:PORT, e.g. localhost:4317", name, addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return usagef("--%s %q: port must be a number from 1 to 65535", name, addr)
	}
	return nil
}

// endpointURL checks a base URL of one of the emulator's APIs.
func endpointURL(name, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--%s %q: want an http:// or https:// URL, e.g. http://127.0.0.1:9001", name, s)
	}
	return nil
}

// zoneList checks a comma-separated list of zone IDs: at least least of them, none twice.
func zoneList(name, s string, least int) ([]string, error) {
	zones := splitZones(s)
	if len(zones) < least {
		return nil, usagef("--%s %q: name at least %d zone(s), comma-separated, e.g. use1-az1,use1-az2,use1-az3", name, s, least)
	}
	seen := map[string]bool{}
	for _, z := range zones {
		if seen[z] {
			return nil, usagef("--%s %q: zone %s appears twice", name, s, z)
		}
		seen[z] = true
	}
	return zones, nil
}

func nonNegative(name string, d time.Duration) error {
	if d < 0 {
		return usagef("--%s %s: must not be negative", name, d)
	}
	return nil
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return usagef("--%s %s: must be more than 0", name, d)
	}
	return nil
}

func positiveNumber(name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return usagef("--%s %g: must be a number more than 0", name, v)
	}
	return nil
}

func jsonText(name, s string) error {
	if !json.Valid([]byte(s)) {
		return usagef("--%s: not valid JSON: %.60q", name, s)
	}
	return nil
}

// setFlags is the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// flagValue is a flag's value as given, or its default.
func flagValue(fs *flag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// verbFlags checks that only flags of verb were given and that the required ones were; the other
// checks of a command's verbs build on it. allowed maps a verb to its flags, required ones marked
// with a trailing '!'.
func verbFlags(cmd, verb string, fs *flag.FlagSet, allowed map[string][]string) error {
	spec, ok := allowed[verb]
	if !ok {
		return nil // the command reports an unknown verb itself
	}
	set := setFlags(fs)
	var known []string
	for _, f := range spec {
		name, required := strings.CutSuffix(f, "!")
		known = append(known, name)
		if required && (!set[name] || flagValue(fs, name) == "") {
			return usagef("--%s is required for '%s %s'", name, cmd, verb)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(set)) {
		if !slices.Contains(known, name) {
			return usagef("--%s is not a flag of '%s %s' (its flags: --%s)", name, cmd, verb, strings.Join(known, ", --"))
		}
	}
	return nil
}
