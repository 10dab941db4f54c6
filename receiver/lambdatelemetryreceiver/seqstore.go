package lambdatelemetryreceiver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"

	"github.com/azlens/azlens/receiver/lambdatelemetryreceiver/internal/mapping"
)

// seqStore is the persisted copy of the mapper's seq windows: per execution environment, the
// (seq, body digest) of its latest agent batches that the pipeline accepted. The mapper's window
// dies with the process; after a SIGKILL between exporting a batch and answering the agent, the
// agent retries the batch to the restarted collector, and only this copy tells that collector
// the batch was applied already.
//
// It keeps what the in-memory window keeps (the newest mapping.SeqWindow batches) and forgets an
// environment as the mapper does: idle longer than environment_idle_timeout, or the least
// recently seen beyond max_environments. One storage key per environment, its whole window in
// the value, so a batch costs one write.
type seqStore struct {
	client  storage.Client
	idle    time.Duration // zero: never by time
	maxEnvs int

	// mu serialises writes as well: two batches of one environment written concurrently could
	// otherwise store the older window last.
	mu   sync.Mutex
	envs map[string]*storedWindow
}

type storedWindow struct {
	lastSeen time.Time
	seqs     []storedSeq // oldest first, at most mapping.SeqWindow
	// checkpoint is the environment's metric state after the newest batch recorded (none from a
	// format-1 record or a receiver that took none).
	checkpoint mapping.Checkpoint
}

type storedSeq struct {
	seq    int64
	digest uint64
}

// seqKeyPrefix starts every key this store writes; other keys found in the storage are left alone.
const seqKeyPrefix = "seq/"

// openSeqStore gets a client of the storage extension id from the host and loads what it holds.
func openSeqStore(ctx context.Context, host component.Host, id component.ID, self component.ID, cfg *Config, now time.Time) (*seqStore, []error, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, nil, fmt.Errorf("storage: extension %q not found (add it to extensions: and to service::extensions)", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, nil, fmt.Errorf("storage: extension %q is not a storage extension", id)
	}
	client, err := se.GetClient(ctx, component.KindReceiver, self, "")
	if err != nil {
		return nil, nil, fmt.Errorf("storage: get client of %q: %w", id, err)
	}
	s := &seqStore{client: client, idle: cfg.EnvironmentIdleTimeout, maxEnvs: cfg.MaxEnvironments, envs: map[string]*storedWindow{}}
	skipped, err := s.load(ctx, now)
	if err != nil {
		_ = client.Close(ctx)
		return nil, nil, fmt.Errorf("storage: load from %q: %w", id, err)
	}
	return s, skipped, nil
}

// load reads every stored window, deleting those expired or unreadable; it returns an error per
// unreadable one (they are dropped: a corrupt entry must not keep the collector from starting).
func (s *seqStore) load(ctx context.Context, now time.Time) ([]error, error) {
	w, ok := s.client.(storage.Walker)
	if !ok {
		return nil, errors.New("the storage extension cannot list its keys (storage.Walker): use file_storage")
	}
	var skipped []error
	err := w.Walk(ctx, func(key string, value []byte) ([]*storage.Operation, error) {
		env, ok := strings.CutPrefix(key, seqKeyPrefix)
		if !ok {
			return nil, nil
		}
		win, err := decodeWindow(value)
		if err != nil {
			skipped = append(skipped, fmt.Errorf("key %q: %w", key, err))
			return []*storage.Operation{storage.DeleteOperation(key)}, nil
		}
		if s.expired(win, now) {
			return []*storage.Operation{storage.DeleteOperation(key)}, nil
		}
		s.envs[env] = win
		return nil, nil
	})
	if err != nil {
		return skipped, err
	}
	// A smaller max_environments than the previous run's: keep the most recently seen.
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []*storage.Operation
	for s.maxEnvs > 0 && len(s.envs) > s.maxEnvs {
		ops = append(ops, s.evictOldest())
	}
	if len(ops) > 0 {
		return skipped, s.client.Batch(ctx, ops...)
	}
	return skipped, nil
}

func (s *seqStore) expired(w *storedWindow, now time.Time) bool {
	return s.idle > 0 && now.Sub(w.lastSeen) > s.idle
}

// evictOldest forgets the least recently seen environment and returns its deletion. mu held.
func (s *seqStore) evictOldest() *storage.Operation {
	var oldest string
	var at time.Time
	for k, w := range s.envs {
		if oldest == "" || w.lastSeen.Before(at) {
			oldest, at = k, w.lastSeen
		}
	}
	delete(s.envs, oldest)
	return storage.DeleteOperation(seqKeyPrefix + oldest)
}

// applied reports whether the batch (seq, digest) of environment env was recorded.
func (s *seqStore) applied(env string, seq int64, digest uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.envs[env]
	if w == nil {
		return false
	}
	for _, e := range w.seqs {
		if e == (storedSeq{seq, digest}) {
			return true
		}
	}
	return false
}

// record stores that the batch (seq, digest) of environment env was applied and accepted
// downstream, with the environment's metric state after it (ck, unless an older one than stored).
// It returns when the storage has it.
func (s *seqStore) record(ctx context.Context, env string, seq int64, digest uint64, ck mapping.Checkpoint, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.envs[env]
	ops := make([]*storage.Operation, 0, 2)
	if w == nil {
		if s.maxEnvs > 0 && len(s.envs) >= s.maxEnvs {
			ops = append(ops, s.evictOldest())
		}
		w = &storedWindow{}
		s.envs[env] = w
	}
	w.lastSeen = now
	if len(w.seqs) == mapping.SeqWindow {
		copy(w.seqs, w.seqs[1:])
		w.seqs = w.seqs[:len(w.seqs)-1]
	}
	w.seqs = append(w.seqs, storedSeq{seq, digest})
	if ck.Version > w.checkpoint.Version {
		w.checkpoint = ck
	}
	ops = append(ops, storage.SetOperation(seqKeyPrefix+env, encodeWindow(w)))
	return s.client.Batch(ctx, ops...)
}

// sweep forgets environments idle longer than environment_idle_timeout.
func (s *seqStore) sweep(ctx context.Context, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []*storage.Operation
	for k, w := range s.envs {
		if s.expired(w, now) {
			delete(s.envs, k)
			ops = append(ops, storage.DeleteOperation(seqKeyPrefix+k))
		}
	}
	if len(ops) == 0 {
		return nil
	}
	return s.client.Batch(ctx, ops...)
}

// saveCheckpoints stores newer metric checkpoints of environments that have a record (a sweep's
// or a shutdown's: counts of invocations emitted incomplete, which no batch's checkpoint holds).
func (s *seqStore) saveCheckpoints(ctx context.Context, cks map[string]mapping.Checkpoint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ops []*storage.Operation
	for env, ck := range cks {
		w := s.envs[env]
		if w == nil || ck.Version <= w.checkpoint.Version {
			continue
		}
		w.checkpoint = ck
		ops = append(ops, storage.SetOperation(seqKeyPrefix+env, encodeWindow(w)))
	}
	if len(ops) == 0 {
		return nil
	}
	return s.client.Batch(ctx, ops...)
}

// checkpoints returns the stored metric checkpoints by environment, for the mapper to continue.
func (s *seqStore) checkpoints() map[string][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(s.envs))
	for env, w := range s.envs {
		if w.checkpoint.Data != nil {
			out[env] = w.checkpoint.Data
		}
	}
	return out
}

func (s *seqStore) close(ctx context.Context) error { return s.client.Close(ctx) }

// The stored value, big-endian: a format byte, lastSeen (Unix nanoseconds), the number of (seq,
// digest) pairs, the pairs oldest first, then the environment's metric checkpoint (the rest of the
// value; empty when none was recorded). Format 1, still read, had neither the count nor the
// checkpoint.
const (
	windowFormatV1   = 1
	windowVersion    = 2
	windowHeaderSize = 1 + 8
	windowEntrySize  = 8 + 8
)

func encodeWindow(w *storedWindow) []byte {
	b := make([]byte, windowHeaderSize, windowHeaderSize+1+windowEntrySize*len(w.seqs)+len(w.checkpoint.Data))
	b[0] = windowVersion
	binary.BigEndian.PutUint64(b[1:], uint64(w.lastSeen.UnixNano()))
	b = append(b, byte(len(w.seqs)))
	for _, e := range w.seqs {
		b = binary.BigEndian.AppendUint64(b, uint64(e.seq))
		b = binary.BigEndian.AppendUint64(b, e.digest)
	}
	return append(b, w.checkpoint.Data...)
}

func decodeWindow(b []byte) (*storedWindow, error) {
	if len(b) < windowHeaderSize {
		return nil, fmt.Errorf("window of %d bytes: shorter than its %d-byte header", len(b), windowHeaderSize)
	}
	format := b[0]
	rest := b[windowHeaderSize:]
	var n int
	switch format {
	case windowFormatV1:
		if len(rest)%windowEntrySize != 0 {
			return nil, fmt.Errorf("window entries of %d bytes: not a multiple of %d", len(rest), windowEntrySize)
		}
		n = len(rest) / windowEntrySize
	case windowVersion:
		if len(rest) < 1 {
			return nil, errors.New("window without its entry count")
		}
		n, rest = int(rest[0]), rest[1:]
		if len(rest) < n*windowEntrySize {
			return nil, fmt.Errorf("window of %d entries in %d bytes", n, len(rest))
		}
	default:
		return nil, fmt.Errorf("window version %d: want %d or %d", format, windowFormatV1, windowVersion)
	}
	if n > mapping.SeqWindow {
		return nil, fmt.Errorf("window of %d entries: more than %d", n, mapping.SeqWindow)
	}
	w := &storedWindow{lastSeen: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:]))), seqs: make([]storedSeq, n)}
	for i := range n {
		e := rest[i*windowEntrySize:]
		w.seqs[i] = storedSeq{seq: int64(binary.BigEndian.Uint64(e)), digest: binary.BigEndian.Uint64(e[8:])}
	}
	if ck := rest[n*windowEntrySize:]; len(ck) > 0 {
		c, err := mapping.DecodeCheckpoint(ck)
		if err != nil {
			return nil, err
		}
		w.checkpoint = c
	}
	return w, nil
}
