package forward

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Spool keeps encoded batches in files under a directory, bounded in bytes, oldest dropped first.
// It lives under /tmp, which Lambda keeps across an environment reset, so a new agent replays
// what the previous one could not send. Files are named <unix-nanos>-<counter>-<events>.json[.gz]:
// the name orders them in time and carries the event count, so drops of a previous agent's batches
// are counted exactly without reading them.
type Spool struct {
	dir   string
	limit int64
	lock  *os.File

	mu      sync.Mutex
	files   []spoolFile // oldest first
	total   int64
	counter uint64
}

type spoolFile struct {
	name   string
	size   int64
	events int
	gz     bool
	busy   bool // being replayed: never evicted under the sender's feet
}

// OpenSpool opens (creating it) a spool in dir bounded to limit bytes, and indexes the batches a
// previous agent left there.
//
// Several live agents may share a /tmp (execution environments of the local emulator on one
// host). The spool is locked; an agent that finds it locked by a live agent spools into a private
// sub-directory instead. The agent that holds the main directory adopts the batches of
// sub-directories whose owner has died, so nothing is stranded and no batch is sent by two agents.
func OpenSpool(dir string, limit int64) (*Spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	lock, ok := lockDir(dir)
	if ok {
		adoptOrphans(dir)
	} else {
		sub, err := os.MkdirTemp(dir, "agent-")
		if err != nil {
			return nil, fmt.Errorf("open spool: %w", err)
		}
		if lock, ok = lockDir(sub); !ok {
			return nil, fmt.Errorf("open spool: cannot lock %s", sub)
		}
		dir = sub
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{dir: dir, limit: limit, lock: lock}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			// A write cut short by a kill: incomplete, never acknowledged to anyone.
			_ = os.Remove(filepath.Join(dir, name))
			continue
		}
		f, ok := parseSpoolName(name)
		if !ok {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		f.size = info.Size()
		s.files = append(s.files, f)
		s.total += f.size
	}
	slices.SortFunc(s.files, func(a, b spoolFile) int { return strings.Compare(a.name, b.name) })
	return s, nil
}

// adoptOrphans moves the batches of dead agents' private sub-directories into dir.
func adoptOrphans(dir string) {
	subs, _ := filepath.Glob(filepath.Join(dir, "agent-*"))
	for _, sub := range subs {
		lock, ok := lockDir(sub)
		if !ok {
			continue // its agent is alive
		}
		entries, _ := os.ReadDir(sub)
		for _, e := range entries {
			if _, ok := parseSpoolName(e.Name()); ok {
				_ = os.Rename(filepath.Join(sub, e.Name()), filepath.Join(dir, e.Name()))
			}
		}
		if lock != nil {
			lock.Close()
		}
		_ = os.RemoveAll(sub)
	}
}

// Close releases the spool's lock (the files stay for the next agent).
func (s *Spool) Close() {
	if s.lock != nil {
		s.lock.Close()
		s.lock = nil
	}
}

func parseSpoolName(name string) (spoolFile, bool) {
	base, gz := strings.CutSuffix(name, ".json.gz")
	if !gz {
		var ok bool
		if base, ok = strings.CutSuffix(name, ".json"); !ok {
			return spoolFile{}, false
		}
	}
	parts := strings.Split(base, "-")
	if len(parts) != 3 || len(parts[0]) != 16 {
		return spoolFile{}, false
	}
	n, err := strconv.Atoi(parts[2])
	if err != nil || n < 0 {
		return spoolFile{}, false
	}
	return spoolFile{name: name, events: n, gz: gz}, true
}

var errSpoolTooSmall = errors.New("batch larger than the spool limit")

// Put writes one encoded batch. To stay within the limit it evicts the oldest batches first and
// returns how many events they held; a batch larger than the whole limit is not written.
func (s *Spool) Put(body []byte, events int, gz bool) (evicted int, err error) {
	size := int64(len(body))
	if size > s.limit {
		return 0, errSpoolTooSmall
	}
	s.mu.Lock()
	s.counter++
	ext := ".json"
	if gz {
		ext = ".json.gz"
	}
	name := fmt.Sprintf("%016x-%08x-%d%s", time.Now().UnixNano(), s.counter, events, ext)
	var victims []string
	for s.total+size > s.limit {
		i := slices.IndexFunc(s.files, func(f spoolFile) bool { return !f.busy })
		if i < 0 {
			break
		}
		victims = append(victims, s.files[i].name)
		evicted += s.files[i].events
		s.total -= s.files[i].size
		s.files = slices.Delete(s.files, i, i+1)
	}
	if s.total+size > s.limit {
		s.mu.Unlock()
		s.removeAll(victims)
		return evicted, errSpoolTooSmall
	}
	// Reserve the room now so concurrent writers cannot overshoot the limit.
	s.total += size
	s.mu.Unlock()
	s.removeAll(victims)

	path := filepath.Join(s.dir, name)
	if err := writeFile(path, body); err != nil {
		s.mu.Lock()
		s.total -= size
		s.mu.Unlock()
		return evicted, fmt.Errorf("spool batch: %w", err)
	}
	s.mu.Lock()
	s.files = append(s.files, spoolFile{name: name, size: size, events: events, gz: gz})
	slices.SortFunc(s.files, func(a, b spoolFile) int { return strings.Compare(a.name, b.name) })
	s.mu.Unlock()
	return evicted, nil
}

func writeFile(path string, body []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

func (s *Spool) removeAll(names []string) {
	for _, n := range names {
		_ = os.Remove(filepath.Join(s.dir, n))
	}
}

// take marks the oldest batch busy and returns it with its body. A file that cannot be read is
// dropped and reported through lost.
func (s *Spool) take() (f spoolFile, body []byte, lost int, ok bool) {
	for {
		s.mu.Lock()
		i := slices.IndexFunc(s.files, func(f spoolFile) bool { return !f.busy })
		if i < 0 {
			s.mu.Unlock()
			return spoolFile{}, nil, lost, false
		}
		s.files[i].busy = true
		f = s.files[i]
		s.mu.Unlock()
		body, err := os.ReadFile(filepath.Join(s.dir, f.name))
		if err == nil {
			return f, body, lost, true
		}
		lost += f.events
		s.done(f.name)
	}
}

// done removes a batch (sent, or dropped for good).
func (s *Spool) done(name string) {
	s.mu.Lock()
	if i := slices.IndexFunc(s.files, func(f spoolFile) bool { return f.name == name }); i >= 0 {
		s.total -= s.files[i].size
		s.files = slices.Delete(s.files, i, i+1)
	}
	s.mu.Unlock()
	_ = os.Remove(filepath.Join(s.dir, name))
}

// release puts a batch back for a later attempt.
func (s *Spool) release(name string) {
	s.mu.Lock()
	if i := slices.IndexFunc(s.files, func(f spoolFile) bool { return f.name == name }); i >= 0 {
		s.files[i].busy = false
	}
	s.mu.Unlock()
}

// Len is the number of spooled batches.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.files)
}

// Bytes is the spool's size.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}
