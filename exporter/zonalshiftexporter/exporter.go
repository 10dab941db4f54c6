package zonalshiftexporter // import "github.com/azlens/azlens/exporter/zonalshiftexporter"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/azlens/azlens/exporter/zonalshiftexporter/internal/metadata"
	"github.com/azlens/azlens/internal/clock"
)

// Self-telemetry.
const (
	actionsMetric = "otelcol_zonalshiftexporter_actions"
	skippedMetric = "otelcol_zonalshiftexporter_skipped_decisions"
	droppedMetric = "otelcol_zonalshiftexporter_dropped_data_points"
)

// Actions (the action attribute of the actions counter).
const (
	actionStart          = "start"
	actionRenew          = "renew"
	actionFailbackWeight = "failback_weight"
	actionCancel         = "cancel"
)

// Reasons a decision is not enacted (the reason attribute of the skipped decisions counter).
const (
	skipBlockedByManual = "blocked_by_manual"
	skipBlockedByOther  = "blocked_by_other_shift"
	skipConflict        = "conflicting_zones"
	skipStale           = "stale"
	skipRejected        = "rejected"
)

// ARC's shiftType of a shift started with StartZonalShift, and its status while it holds.
const (
	shiftTypeZonalShift = "ZONAL_SHIFT"
	statusActive        = "ACTIVE"
)

// evacuateMarker follows the comment tag in the comment of every shift an azlens exporter starts;
// it tells another collector's shifts from a person's.
const evacuateMarker = ": evacuate "

// heldShift is a shift this exporter holds, as it last renewed it. The failback weight is
// remembered here, not read back: ARC's answers have no such field.
type heldShift struct {
	id, zone string
	renewed  time.Time
	weight   float64
}

type shiftExporter struct {
	cfg       *Config
	settings  component.TelemetrySettings
	clock     clock.Clock
	expiresIn string

	actions metric.Int64Counter
	skipped metric.Int64Counter
	dropped metric.Int64Counter

	client *apiClient   // set by start
	hc     *http.Client // the SDK's transport, closed on shutdown

	// mu serialises pushes: a decision is read, compared and enacted as one step.
	mu     sync.Mutex
	held   map[string]heldShift // resource identifier → the shift held for it
	latest map[string]time.Time // resource identifier → newest decision enacted
	// clear holds resources known to have no shift of ours: a healthy decision for them needs
	// no API call, so steady state costs nothing however many functions there are.
	clear map[string]bool

	logMu  sync.Mutex
	logged map[string]bool // warnings already logged once (the counters carry the rate)
}

func newShiftExporter(cfg *Config, set component.TelemetrySettings, clk clock.Clock) (*shiftExporter, error) {
	exp, err := expiresIn(cfg.lease())
	if err != nil {
		return nil, err
	}
	e := &shiftExporter{
		cfg: cfg, settings: set, clock: clk, expiresIn: exp,
		held: map[string]heldShift{}, latest: map[string]time.Time{}, clear: map[string]bool{},
		logged: map[string]bool{},
	}
	tb, err := metadata.NewTelemetryBuilder(set)
	if err != nil {
		return nil, fmt.Errorf("create self-metrics: %w", err)
	}
	e.actions, e.skipped, e.dropped = tb.ZonalshiftexporterActions, tb.ZonalshiftexporterSkippedDecisions, tb.ZonalshiftexporterDroppedDataPoints
	return e, nil
}

func (e *shiftExporter) start(ctx context.Context, host component.Host) error {
	hc, err := e.cfg.ToClient(ctx, host.GetExtensions(), e.settings)
	if err != nil {
		return fmt.Errorf("create zonal shift api http client: %w", err)
	}
	client, err := newAPIClient(ctx, e.cfg, hc)
	if err != nil {
		return err
	}
	e.client, e.hc = client, hc
	endpoint := e.cfg.Endpoint
	if endpoint == "" {
		endpoint = "ARC"
	}
	e.settings.Logger.Info("enacting zone evacuations as zonal shifts",
		zap.String("endpoint", endpoint), zap.String("region", client.arc.Options().Region), zap.String("lease", e.expiresIn))
	return nil
}

func (e *shiftExporter) shutdown(context.Context) error {
	if e.hc != nil {
		e.hc.CloseIdleConnections()
	}
	return nil
}

// pushMetrics enacts the decisions in md. A retryable error makes exporterhelper push md again;
// that is safe because every push reads the API's state before writing.
func (e *shiftExporter) pushMetrics(ctx context.Context, md pmetric.Metrics) error {
	if e.client == nil {
		return consumererror.NewPermanent(errors.New("zonal shift exporter not started"))
	}
	ds, drops := decisionsFrom(md)
	for reason, n := range drops {
		e.dropped.Add(ctx, n, metric.WithAttributes(attribute.String("reason", reason)))
		e.warnOnce("drop/"+reason, "ignoring azlens.az data points", zap.String("reason", reason), zap.Int64("count", n))
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	var retryable, permanent []error
	for _, d := range ds {
		res := e.cfg.resourceIdentifier(d.function)
		if last, ok := e.latest[res]; ok && d.at.Before(last) {
			e.skip(ctx, res, skipStale, "ignoring a decision older than one already enacted")
			continue
		}
		if len(d.conflict) > 0 {
			e.skip(ctx, res, skipConflict, fmt.Sprintf("more than one zone to keep out (%s); changing nothing", strings.Join(d.conflict, ", ")))
			continue
		}
		err := e.reconcile(ctx, res, d)
		switch {
		case err == nil:
			e.latest[res] = d.at
		case consumererror.IsPermanent(err):
			e.skip(ctx, res, skipRejected, err.Error())
			permanent = append(permanent, err)
		default:
			retryable = append(retryable, err)
		}
	}
	if len(retryable) > 0 {
		// Only the retryable ones: a permanent error in the join would stop the retry.
		return errors.Join(retryable...)
	}
	if len(permanent) > 0 {
		return consumererror.NewPermanent(errors.Join(permanent...))
	}
	return nil
}

// reconcile brings resource's shifts in line with d.
func (e *shiftExporter) reconcile(ctx context.Context, res string, d decision) error {
	if d.zone == "" && e.clear[res] {
		return nil
	}
	delete(e.clear, res)
	items, err := e.client.listActive(ctx, res)
	if err != nil {
		return err
	}
	var manual, own, other *zonalShift
	tag := e.cfg.commentTag()
	for i := range items {
		z := &items[i]
		if z.Status != statusActive || z.ResourceIdentifier != res {
			continue
		}
		switch {
		case z.ShiftType != shiftTypeZonalShift && z.ShiftType != "":
			// An autoshift, practice run or FIS experiment: a zonal shift takes precedence over
			// those in ARC, so it neither blocks ours nor is ours to end.
		case strings.HasPrefix(z.Comment, tag) && own == nil:
			own = z
		case strings.Contains(z.Comment, evacuateMarker):
			other = z // another azlens exporter's (another comment_tag)
		default:
			manual = z
		}
	}

	if d.zone == "" {
		// Recovery. Ending our own shift never fights a manual one.
		delete(e.held, res)
		if own == nil {
			e.clear[res] = true
			return nil
		}
		if !e.cfg.cancelOnRecovery() {
			return nil // checked again next push, until the lease has lapsed
		}
		if err := e.client.cancel(ctx, own.ZonalShiftID); err != nil && !isAPIError(err, http.StatusNotFound) && !isAPIError(err, http.StatusConflict) {
			return err // 404/409: it ended by itself meanwhile, which is what was wanted
		}
		e.act(ctx, actionCancel)
		e.clear[res] = true
		e.settings.Logger.Info("zone recovered: zonal shift cancelled", zap.String("resource", res),
			zap.String("awayFrom", own.AwayFrom), zap.String("zonalShiftId", own.ZonalShiftID))
		return nil
	}

	if manual != nil {
		e.skip(ctx, res, skipBlockedByManual, fmt.Sprintf("manual zonal shift %s away from %s is active; leaving the resource alone",
			manual.ZonalShiftID, manual.AwayFrom))
		return nil
	}
	weight := 0.0
	if e.cfg.FailbackWeight {
		weight = d.weight
	}
	if own != nil && own.AwayFrom != d.zone {
		// The processor now wants another zone out (it allows one at a time): end ours first.
		if err := e.client.cancel(ctx, own.ZonalShiftID); err != nil && !isAPIError(err, http.StatusNotFound) && !isAPIError(err, http.StatusConflict) {
			return err
		}
		e.act(ctx, actionCancel)
		delete(e.held, res)
		own = nil
	}
	if own == nil {
		if other != nil {
			e.skip(ctx, res, skipBlockedByOther, fmt.Sprintf("another automatic zonal shift %s (comment %q) is active",
				other.ZonalShiftID, other.Comment))
			return nil
		}
		var w *float64
		if weight > 0 {
			w = &weight
		}
		id, err := e.client.start(ctx, res, d.zone, e.expiresIn, tag+evacuateMarker+d.zone, w)
		if err != nil {
			return err
		}
		e.act(ctx, actionStart)
		e.held[res] = heldShift{id: id, zone: d.zone, renewed: e.clock.Now(), weight: weight}
		e.settings.Logger.Info("zonal shift started", zap.String("resource", res), zap.String("awayFrom", d.zone),
			zap.String("zonalShiftId", id), zap.String("expiresIn", e.expiresIn))
		return nil
	}

	// Our shift holds the right zone: renew it when due (at once when adopted after a restart),
	// and move its failback weight to the processor's stage.
	now := e.clock.Now()
	h, known := e.held[res]
	adopted := !known || h.id != own.ZonalShiftID
	renew := adopted || now.Sub(h.renewed) >= e.cfg.renewInterval()
	// An adopted shift's weight is unknown (ARC does not echo it): set it with the renewal.
	reweigh := e.cfg.FailbackWeight && (adopted || h.weight != weight)
	if !renew && !reweigh {
		return nil
	}
	var w *float64
	if reweigh {
		w = &weight
	}
	// Every update renews too: ARC refuses an update that changes none of its own fields, and a
	// weight alone is not one of them.
	if err := e.client.update(ctx, own.ZonalShiftID, e.expiresIn, w); err != nil {
		return err
	}
	if reweigh {
		h.weight = weight
	}
	if renew {
		e.act(ctx, actionRenew)
	}
	h.id, h.zone, h.renewed = own.ZonalShiftID, d.zone, now
	e.held[res] = h
	if adopted {
		e.settings.Logger.Info("adopted zonal shift", zap.String("resource", res), zap.String("awayFrom", d.zone),
			zap.String("zonalShiftId", own.ZonalShiftID))
	}
	if reweigh && !adopted {
		e.act(ctx, actionFailbackWeight)
		e.settings.Logger.Info("fail-back stage", zap.String("resource", res), zap.String("zone", d.zone),
			zap.Float64("failbackWeight", weight))
	}
	return nil
}

func (e *shiftExporter) act(ctx context.Context, action string) {
	e.actions.Add(ctx, 1, metric.WithAttributes(attribute.String("action", action)))
}

func (e *shiftExporter) skip(ctx context.Context, res, reason, msg string) {
	e.skipped.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	e.warnOnce("skip/"+reason+"/"+res, "evacuation decision not enacted",
		zap.String("resource", res), zap.String("reason", reason), zap.String("detail", msg))
}

// warnOnce logs the first occurrence of key as a warning and later ones at debug level: the
// counters carry the rate, the log the first reason.
func (e *shiftExporter) warnOnce(key, msg string, fields ...zap.Field) {
	e.logMu.Lock()
	first := !e.logged[key]
	e.logged[key] = true
	e.logMu.Unlock()
	if first {
		e.settings.Logger.Warn(msg, fields...)
	} else {
		e.settings.Logger.Debug(msg, fields...)
	}
}
