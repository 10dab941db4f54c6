package mapping

import (
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// A checkpoint is an environment's cumulative metric state (the series' start time and every
// count, sum and bucket) as it stood at the end of one agent batch. The receiver stores it with
// the batch's seq in its storage, so a collector restarted after a SIGKILL continues the
// environment's series where the record left them: a batch the killed process applied and
// exported but never recorded is applied again onto the state before it, and the point it then
// emits is the one the killed process already emitted (same series, same start, same value)
// instead of a second increase. Without it the successor starts new series from zero, and every
// such batch is counted once in each.
//
// Version orders an environment's checkpoints, so an older one never replaces a newer one in the
// storage: the wall-clock time it was taken, in Unix nanoseconds, made strictly increasing per
// environment. A clock rather than a counter, so that an environment forgotten (idle, or evicted)
// and seen again, whose new series starts from zero, still writes over the old one's record.

// checkpointFormat is the first byte of an encoded checkpoint.
const checkpointFormat = 1

// Checkpoint is one environment's encoded cumulative metric state and its place in order.
type Checkpoint struct {
	Version uint64
	Data    []byte
}

// checkpoint encodes env's state and moves its version on to now, or past the last. m.mu held.
func (env *environment) checkpoint(now time.Time) Checkpoint {
	env.checkpoints = max(env.checkpoints+1, uint64(now.UnixNano()))
	return Checkpoint{Version: env.checkpoints, Data: env.encodeState()}
}

// encodeState encodes the checkpoint version, the series' start and the metric state.
func (env *environment) encodeState() []byte {
	mt := &env.metrics
	b := make([]byte, 0, 128+48*8)
	b = append(b, checkpointFormat)
	b = binary.BigEndian.AppendUint64(b, env.checkpoints)
	b = binary.BigEndian.AppendUint64(b, uint64(env.firstSeen.UnixNano()))
	for _, v := range mt.invocations {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	b = binary.BigEndian.AppendUint64(b, mt.coldstarts)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(mt.producedBytes))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(mt.droppedRecords))
	for _, h := range mt.histograms() {
		b = append(b, byte(len(h.counts)))
		b = binary.BigEndian.AppendUint64(b, h.count)
		for _, f := range [...]float64{h.sum, h.min, h.max} {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(f))
		}
		for _, c := range h.counts {
			b = binary.BigEndian.AppendUint64(b, c)
		}
	}
	return b
}

// histograms lists the state's histograms in their encoded order.
func (mt *envMetrics) histograms() [6]*histogram {
	return [...]*histogram{&mt.invokeDuration, &mt.initDuration, &mt.memUsage, &mt.billedDuration, &mt.responseLatency, &mt.extensionOverhead}
}

// DecodeCheckpoint reads an encoded checkpoint's version, checking the whole of it.
func DecodeCheckpoint(data []byte) (Checkpoint, error) {
	var env environment
	env.metrics.init()
	if err := env.restore(data); err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Version: env.checkpoints, Data: data}, nil
}

// restore sets env's metric state from an encoded checkpoint, or leaves it alone and says what is
// wrong. The histograms' bounds come from this build; a checkpoint with another number of buckets
// was written by a build with other bounds and cannot be continued.
func (env *environment) restore(data []byte) error {
	r := reader{b: data}
	if f := r.byte(); r.err == nil && f != checkpointFormat {
		return fmt.Errorf("checkpoint format %d: want %d", f, checkpointFormat)
	}
	var mt envMetrics
	mt.init()
	version := r.uint64()
	first := int64(r.uint64())
	for i := range mt.invocations {
		mt.invocations[i] = r.uint64()
	}
	mt.coldstarts = r.uint64()
	mt.producedBytes = r.float64()
	mt.droppedRecords = r.float64()
	for i, h := range mt.histograms() {
		if n := int(r.byte()); r.err == nil && n != len(h.counts) {
			return fmt.Errorf("checkpoint histogram %d: %d buckets, this build has %d", i, n, len(h.counts))
		}
		h.count = r.uint64()
		h.sum, h.min, h.max = r.float64(), r.float64(), r.float64()
		for j := range h.counts {
			h.counts[j] = r.uint64()
		}
	}
	if r.err != nil {
		return fmt.Errorf("checkpoint of %d bytes: %w", len(data), r.err)
	}
	if len(r.b) != 0 {
		return fmt.Errorf("checkpoint: %d bytes after its end", len(r.b))
	}
	env.checkpoints = version
	env.firstSeen = time.Unix(0, first)
	env.metrics = mt
	return nil
}

// Restore gives the environment key (see EnvKey) the metric state of a stored checkpoint, so its
// series go on from there. It is meant for a mapper that has not seen the environment yet (a
// collector starting); one that has keeps its own state, which is newer.
func (m *Mapper) Restore(key string, data []byte, now time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.envs[key] != nil {
		return nil
	}
	if m.set.MaxEnvironments > 0 && len(m.envs) >= m.set.MaxEnvironments {
		return fmt.Errorf("max_environments (%d) reached", m.set.MaxEnvironments)
	}
	env := &environment{key: key, resource: pcommon.NewMap(), lastSeen: now}
	env.metrics.init()
	if err := env.restore(data); err != nil {
		return err
	}
	m.envs[key] = env
	return nil
}

// reader takes big-endian fields off b; the first short read sets err and every later read
// returns zero.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("truncated: %d bytes left, field needs %d", len(r.b), n)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) byte() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) uint64() uint64 {
	if v := r.take(8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func (r *reader) float64() float64 { return math.Float64frombits(r.uint64()) }
