package telemetryevent

import (
	"errors"
	"fmt"
	"math"

	"github.com/valyala/fastjson"

	"github.com/azlens/azlens/internal/xray"
)

// The schema: resource, agent, events and every record type's fields, with errors that name the
// field.

func (st *state) resource(v *fastjson.Value) ([]Field, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("resource: must be an object")
	}
	fields := make([]Field, 0, o.Len())
	st.visit(o, func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		f := Field{Key: st.str(k)}
		switch kind(fv) {
		case fastjson.TypeString:
			f.Kind, f.Str = FieldString, st.strValue(fv)
		case fastjson.TypeNumber:
			f.Kind, f.Num = FieldNumber, fv.GetFloat64()
		case fastjson.TypeTrue, fastjson.TypeFalse:
			f.Kind, f.Bool = FieldBool, fv.GetBool()
		default:
			err = fmt.Errorf("resource.%q: must be a string, number or bool", f.Key)
			return
		}
		fields = append(fields, f)
	})
	return fields, err
}

func (st *state) agent(v *fastjson.Value) (*Agent, error) {
	o, err := v.Object()
	if err != nil {
		return nil, errors.New("agent: must be an object")
	}
	a := &Agent{}
	st.visit(o, func(k []byte, fv *fastjson.Value) {
		if err != nil {
			return
		}
		switch string(k) {
		case "name", "version":
			if kind(fv) != fastjson.TypeString {
				err = fmt.Errorf("agent.%s: must be a string", k)
				return
			}
			if string(k) == "name" {
				a.Name = st.strValue(fv)
			} else {
				a.Version = st.strValue(fv)
			}
		case "seq":
			n, e := fv.Int64()
			if e != nil {
				err = errors.New("agent.seq: must be an integer")
				return
			}
			a.Seq, a.HasSeq = n, true
		case "active":
			if kind(fv) != fastjson.TypeString {
				err = errors.New("agent.active: must be a string")
				return
			}
			a.Active, a.HasActive = st.strValue(fv), true
		default:
			if fv.Type() != fastjson.TypeNumber {
				// Non-numeric keys are reserved for later versions.
				return
			}
			f := fv.GetFloat64()
			if f < 0 || math.IsInf(f, 0) {
				err = fmt.Errorf("agent.%s: counter must be a non-negative number", k)
				return
			}
			a.Counters = append(a.Counters, Counter{Key: st.str(k), Value: f})
		}
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

func (st *state) events(arr []*fastjson.Value) ([]Event, error) {
	events := st.eventBuf[:0]
	if cap(events) < len(arr) {
		events = make([]Event, len(arr))
	} else {
		events = events[:len(arr)]
		clear(events)
	}
	for i, v := range arr {
		if err := st.event(&events[i], v); err != nil {
			if errors.Is(err, errEventNotObject) {
				return nil, fmt.Errorf("events[%d]: %w", i, err)
			}
			return nil, fmt.Errorf("events[%d].%w", i, err)
		}
	}
	return events, nil
}

func (st *state) event(e *Event, v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return errEventNotObject
	}
	// One pass over the keys (the first of each wins, as with Get), noting
	// where the keys are for fillRecords.
	var tv, timev, rec *fastjson.Value
	pos := evPos{firstKey: -1, recKey: -1}
	kvs := st.members(o)
	recIdx := -1
	for n := range kvs {
		kv := &kvs[n]
		switch kv.k {
		case "type":
			if tv == nil {
				tv = kv.v
			}
		case "time":
			if timev == nil {
				timev = kv.v
			}
		case "record":
			if rec == nil {
				rec, recIdx = kv.v, n
				pos.recKey = st.offset(s2b(kv.k))
			}
		}
	}
	if len(kvs) > 0 {
		pos.firstKey = st.offset(s2b(kvs[0].k))
	}
	pos.recLast = recIdx == len(kvs)-1
	st.positions = append(st.positions, pos)
	if tv == nil {
		return errors.New("type: missing")
	}
	tb, err := tv.StringBytes()
	if err != nil {
		return errors.New("type: must be a string")
	}
	e.Type = parseType(tb)
	if e.Type == TypeUnknown {
		e.TypeName = st.str(tb)
	} else {
		e.TypeName = e.Type.String()
	}
	if timev == nil {
		return errors.New("time: missing")
	}
	timeb, err := timev.StringBytes()
	if err != nil {
		return errors.New("time: must be a string")
	}
	if e.Time, err = st.dates.parse(timeb); err != nil {
		return fmt.Errorf("time: %q is not an rfc 3339 timestamp", truncate(timeb))
	}
	if rec == nil {
		return errors.New("record: missing")
	}
	switch {
	case e.Type.IsLog():
		return st.logRecord(e, rec)
	case e.Type == TypeUnknown:
		st.needRecords = true
		return nil
	}
	ro, err := rec.Object()
	if err != nil {
		return errors.New("record: must be an object")
	}
	if err := st.platformRecord(e, ro); err != nil {
		return fmt.Errorf("record.%w", err)
	}
	st.needRecords = true
	switch e.Type {
	case TypePlatformStart, TypePlatformRuntimeDone, TypePlatformReport:
		if e.RequestID == "" {
			return errors.New("record.requestId: missing")
		}
	}
	return nil
}

func (st *state) platformRecord(e *Event, o *fastjson.Object) error {
	var err error
	for _, kv := range st.members(o) {
		v := kv.v
		if kind(v) == fastjson.TypeNull {
			continue
		}
		key := kv.k
		switch key {
		case "requestId":
			e.RequestID, err = st.stringField(key, v)
		case "status":
			e.Status, err = st.stringField(key, v)
		case "errorType":
			e.ErrorType, err = st.stringField(key, v)
		case "initializationType":
			e.InitializationType, err = st.stringField(key, v)
		case "phase":
			e.Phase, err = st.stringField(key, v)
		case "version":
			e.Version, err = st.stringField(key, v)
		case "runtimeVersion":
			e.RuntimeVersion, err = st.stringField(key, v)
		case "runtimeVersionArn":
			e.RuntimeVersionARN, err = st.stringField(key, v)
		case "functionName":
			e.FunctionName, err = st.stringField(key, v)
		case "functionVersion":
			e.FunctionVersion, err = st.stringField(key, v)
		case "instanceId":
			e.InstanceID, err = st.stringField(key, v)
		case "name":
			e.Name, err = st.stringField(key, v)
		case "state":
			e.State, err = st.stringField(key, v)
		case "reason":
			e.Reason, err = st.stringField(key, v)
		case "instanceMaxMemory":
			var f float64
			if f, err = numberField(key, v); err == nil {
				e.InstanceMaxMemory = int64(f)
			}
		case "droppedBytes":
			e.DroppedBytes, err = numberField(key, v)
		case "droppedRecords":
			e.DroppedRecords, err = numberField(key, v)
		case "metrics":
			err = st.metrics(&e.Metrics, v)
		case "spans":
			e.Spans, err = st.spanList(v)
		case "tracing":
			err = st.tracing(&e.Tracing, v)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (st *state) stringField(key string, v *fastjson.Value) (string, error) {
	if kind(v) != fastjson.TypeString {
		return "", fmt.Errorf("%s: must be a string", key)
	}
	return st.strValue(v), nil
}

func numberField(key string, v *fastjson.Value) (float64, error) {
	f, err := v.Float64()
	if err != nil {
		return 0, fmt.Errorf("%s: must be a number", key)
	}
	if f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, fmt.Errorf("%s: must be a non-negative number", key)
	}
	return f, nil
}

func (st *state) metrics(m *Metrics, v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return errors.New("metrics: must be an object")
	}
	for _, kv := range st.members(o) {
		fv := kv.v
		if kind(fv) == fastjson.TypeNull {
			continue
		}
		var dst *float64
		var flag uint16
		switch kv.k {
		case "durationMs":
			dst, flag = &m.DurationMs, HasDurationMs
		case "billedDurationMs":
			dst, flag = &m.BilledDurationMs, HasBilledDurationMs
		case "memorySizeMB":
			dst, flag = &m.MemorySizeMB, HasMemorySizeMB
		case "maxMemoryUsedMB":
			dst, flag = &m.MaxMemoryUsedMB, HasMaxMemoryUsedMB
		case "initDurationMs":
			dst, flag = &m.InitDurationMs, HasInitDurationMs
		case "restoreDurationMs":
			dst, flag = &m.RestoreDurationMs, HasRestoreDurationMs
		case "billedRestoreDurationMs":
			dst, flag = &m.BilledRestoreDurationMs, HasBilledRestoreDurationMs
		case "producedBytes":
			dst, flag = &m.ProducedBytes, HasProducedBytes
		default:
			continue
		}
		f, err := numberField(kv.k, fv)
		if err != nil {
			return fmt.Errorf("metrics.%w", err)
		}
		*dst = f
		m.Has |= flag
	}
	return nil
}

func (st *state) spanList(v *fastjson.Value) ([]Span, error) {
	arr, err := v.Array()
	if err != nil {
		return nil, errors.New("spans: must be an array")
	}
	first := len(st.spans)
	for i, sv := range arr {
		so, err := sv.Object()
		if err != nil {
			return nil, fmt.Errorf("spans[%d]: must be an object", i)
		}
		var s Span
		// One pass over the keys; the first of each wins, as with Get.
		var nv, startv, dv *fastjson.Value
		st.visit(so, func(k []byte, v *fastjson.Value) {
			switch b2s(k) {
			case "name":
				if nv == nil {
					nv = v
				}
			case "start":
				if startv == nil {
					startv = v
				}
			case "durationMs":
				if dv == nil {
					dv = v
				}
			}
		})
		if nv != nil {
			if kind(nv) != fastjson.TypeString {
				return nil, fmt.Errorf("spans[%d].name: must be a string", i)
			}
			s.Name = st.strValue(nv)
		}
		if s.Name == "" {
			return nil, fmt.Errorf("spans[%d].name: missing", i)
		}
		if startv == nil {
			return nil, fmt.Errorf("spans[%d].start: missing", i)
		}
		b, err := startv.StringBytes()
		if err != nil {
			return nil, fmt.Errorf("spans[%d].start: must be a string", i)
		}
		if s.Start, err = st.dates.parse(b); err != nil {
			return nil, fmt.Errorf("spans[%d].start: %q is not an rfc 3339 timestamp", i, truncate(b))
		}
		if dv != nil {
			if s.DurationMs, err = numberField("durationMs", dv); err != nil {
				return nil, fmt.Errorf("spans[%d].%w", i, err)
			}
		}
		st.spans = append(st.spans, s)
	}
	// A full slice expression, so that later appends never write into it.
	return st.spans[first:len(st.spans):len(st.spans)], nil
}

func (st *state) tracing(t *Tracing, v *fastjson.Value) error {
	o, err := v.Object()
	if err != nil {
		return errors.New("tracing: must be an object")
	}
	t.Present = true
	for _, kv := range st.members(o) {
		fv := kv.v
		if kind(fv) == fastjson.TypeNull {
			continue
		}
		switch kv.k {
		case "type":
			t.Type, err = st.stringField("tracing.type", fv)
		case "value":
			t.Value, err = st.stringField("tracing.value", fv)
		case "spanId":
			t.SpanID, err = st.stringField("tracing.spanId", fv)
		}
		if err != nil {
			return err
		}
	}
	if t.Type == xray.HeaderName || (t.Type == "" && t.Value != "") {
		if t.Header, err = xray.Parse(t.Value); err != nil {
			return fmt.Errorf("tracing.value: %w", err)
		}
	}
	if t.SpanID != "" {
		if _, err := xray.ParseSpanID(t.SpanID); err != nil {
			return fmt.Errorf("tracing.spanId: %w", err)
		}
	}
	return nil
}

func (st *state) logRecord(e *Event, rec *fastjson.Value) error {
	switch kind(rec) {
	case fastjson.TypeString:
		e.Message = st.strValue(rec)
		return nil
	case fastjson.TypeObject:
	default:
		return errors.New("record: must be a string or an object")
	}
	e.JSONLog = true
	o, _ := rec.Object()
	first := len(st.fields)
	st.visit(o, func(k []byte, v *fastjson.Value) {
		switch b2s(k) {
		case "message":
			if kind(v) == fastjson.TypeString {
				e.Message = st.strValue(v)
			} else {
				e.Message = st.marshal(v)
			}
			return
		case "level":
			if kind(v) == fastjson.TypeString {
				e.Level = st.strValue(v)
				return
			}
		case "requestId":
			if kind(v) == fastjson.TypeString {
				e.RequestID = st.strValue(v)
				return
			}
		case "timestamp":
			if v.Type() == fastjson.TypeString {
				if ts, err := st.dates.parse(v.GetStringBytes()); err == nil {
					e.Timestamp = ts
					return
				}
			}
		}
		f := Field{Key: st.str(k)}
		switch kind(v) {
		case fastjson.TypeString:
			f.Kind, f.Str = FieldString, st.strValue(v)
		case fastjson.TypeNumber:
			f.Kind, f.Num = FieldNumber, v.GetFloat64()
		case fastjson.TypeTrue, fastjson.TypeFalse:
			f.Kind, f.Bool = FieldBool, v.GetBool()
		default:
			f.Kind, f.Str = FieldJSON, st.marshal(v)
		}
		st.fields = append(st.fields, f)
	})
	if len(st.fields) > first {
		e.Fields = st.fields[first:len(st.fields):len(st.fields)]
	}
	return nil
}
