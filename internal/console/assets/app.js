// The azlens console and rehearsal report. One script for both: live, it polls api/state and
// redraws; in a report (window.AZLENS_REPORT set by the report writer) it draws the whole run once.
// No framework and no build step: the DOM API and the vendored uPlot.
"use strict";
(function () {
  const report = window.AZLENS_REPORT || null;
  const STATE_NAMES = ["OK", "PENDING", "ALARM"];
  const STATE_SIGNS = { OK: "✓", PENDING: "◐", ALARM: "✕" };
  // Zones differ by colour and by line pattern, so a chart reads without colour too.
  const ZONE_COLOURS = ["#1f5fbf", "#d9730d", "#128a84", "#7b3fa0", "#5b5b5b", "#a0522d"];
  const ZONE_DASHES = [[], [8, 4], [2, 3], [12, 3, 2, 3], [4, 4], [1, 1]];
  const MARK = { alarm: "#b3261e", shift: "#6a1b9a", back: "#1b7f3b" };
  const LIVE_TABLE_ROWS = 60;
  const FAULT_SHADE = "rgba(255, 170, 0, 0.16)";

  const CHARTS = [
    { id: "rate", title: "Invocations/s", unit: "/s", get: (z) => z.rate },
    { id: "error", title: "Error %", unit: "%", get: (z) => z.error_pct },
    { id: "p50", title: "Latency p50 (ms)", unit: "ms", get: (z) => z.p50_ms },
    { id: "p99", title: "Latency p99 (ms)", unit: "ms", get: (z) => z.p99_ms },
    { id: "canary", title: "Canary success % (per period)", unit: "%", get: null },
    { id: "alarm", title: "Alarm state (0 OK, 1 PENDING, 2 ALARM)", unit: "", get: (z) => z.alarm },
    { id: "weight", title: "Traffic weight %", unit: "%", get: (z) => 100 * z.weight },
  ];

  const st = { run: null, seq: 0, frames: [], events: [], guards: [], summary: null, done: false, charts: {}, trace: null };
  // The browser tests read the charts' data through this.
  window.azlens = st;

  const $ = (sel) => document.querySelector(sel);
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k == null ? "" : String(k)));
    return e;
  }
  const fmt = (v, d = 1) => (v == null || Number.isNaN(v) ? "–" : Number(v).toFixed(d));
  const secs = (v) => (v == null ? "–" : fmt(v) + " s");

  // kind classifies a timeline entry for markers and row signs; unknown entries are listed only.
  function kind(e) {
    const s = e.event || "";
    if (/^fault start/i.test(s)) return "fault";
    if (/^fault end/i.test(s)) return "faultend";
    if (/fail-back|recovered|shift end|failback/i.test(s)) return "back";
    if (/renew/i.test(s)) return "renew";
    if (/traffic away|shift start|^zonal shift/i.test(s)) return "shift";
    if (/^ALARM/.test(s)) return "alarm";
    if (/PENDING/.test(s)) return "pending";
    if (/guard|blocked/i.test(s)) return "guard";
    return "other";
  }

  function zoneIndex(z) { return Math.max(0, st.run.zones.indexOf(z)); }

  function canarySeries(zone) {
    // Cumulative counts → success share of each period's canaries.
    const out = [];
    let prevOK = 0, prevTotal = 0;
    for (const f of st.frames) {
      const z = f.zones.find((x) => x.zone === zone);
      if (!z) { out.push(null); continue; }
      const dt = z.canary_total - prevTotal, dok = z.canary_ok - prevOK;
      out.push(dt > 0 ? (100 * dok) / dt : null);
      prevOK = z.canary_ok; prevTotal = z.canary_total;
    }
    return out;
  }

  function seriesData(chart) {
    const xs = st.frames.map((f) => f.t);
    const data = [xs];
    for (const zone of st.run.zones) {
      if (chart.get == null) { data.push(canarySeries(zone)); continue; }
      data.push(st.frames.map((f) => {
        const z = f.zones.find((x) => x.zone === zone);
        return z ? chart.get(z) : null;
      }));
    }
    return data;
  }

  function faultWindows() {
    const end = st.frames.length ? st.frames[st.frames.length - 1].t : 0;
    const wins = [];
    for (const e of st.events) {
      const k = kind(e);
      if (k === "fault") wins.push({ from: e.t_s, to: end, zone: e.zone });
      if (k === "faultend" && wins.length) wins[wins.length - 1].to = e.t_s;
    }
    return wins;
  }

  // The draw hooks shade the fault window under the series and mark events over them.
  function shade(u) {
    const { ctx } = u, { top, height } = u.bbox;
    ctx.save();
    ctx.fillStyle = FAULT_SHADE;
    for (const w of faultWindows()) {
      const x0 = u.valToPos(w.from, "x", true), x1 = u.valToPos(w.to, "x", true);
      if (x1 > x0) ctx.fillRect(x0, top, x1 - x0, height);
    }
    ctx.restore();
  }
  function marks(u) {
    const { ctx } = u, { top, height, left, width } = u.bbox;
    const dpr = window.devicePixelRatio || 1;
    ctx.save();
    ctx.font = `${10 * dpr}px sans-serif`;
    let labelRow = 0;
    for (const e of st.events) {
      const k = kind(e);
      if (!MARK[k]) continue;
      const x = u.valToPos(e.t_s, "x", true);
      if (x < left || x > left + width) continue;
      ctx.strokeStyle = MARK[k];
      ctx.lineWidth = 1.5 * dpr;
      ctx.setLineDash(k === "shift" ? [6 * dpr, 3 * dpr] : k === "back" ? [2 * dpr, 2 * dpr] : []);
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + height); ctx.stroke();
      ctx.fillStyle = MARK[k];
      const label = (k === "alarm" ? "ALARM " : k === "shift" ? "shift " : "back ") + (e.zone || "");
      ctx.fillText(label, x + 3 * dpr, top + (11 + 11 * (labelRow++ % 3)) * dpr);
    }
    ctx.restore();
  }

  function makeCharts() {
    const box = $("#charts");
    box.textContent = "";
    for (const c of CHARTS) {
      const plot = el("div", { class: "plot", role: "img", "aria-label": c.title + " per zone; the figures are in the table below" });
      const table = el("table", { class: "figures" });
      // The table is filled while it is open (a closed one is not read out either), so a live
      // page does not rebuild seven hidden tables at every poll.
      const details = el("details", { ontoggle: () => fillTable(st.charts[c.id]) }, el("summary", {}, "Figures as a table"), table);
      const fig = el("div", { class: "chart", id: "chart-" + c.id }, el("h3", {}, c.title), plot, details);
      box.append(fig);
      const width = Math.max(380, (fig.clientWidth || 440) - 12);
      const opts = {
        width, height: 170,
        scales: { x: { time: false }, y: c.id === "alarm" ? { range: [0, 2.2] } : c.id === "weight" || c.id === "canary" ? { range: [0, 105] } : { auto: true } },
        axes: [{ label: "s since start", size: 34, labelSize: 14 }, { size: 62 }],
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        series: [{ label: "t (s)" }].concat(st.run.zones.map((z, i) => ({
          label: z, stroke: ZONE_COLOURS[i % ZONE_COLOURS.length], dash: ZONE_DASHES[i % ZONE_DASHES.length], width: 1.6,
          spanGaps: c.id === "canary", points: { show: false },
          value: (u, v) => fmt(v, c.id === "alarm" ? 0 : 1),
        }))),
        hooks: { drawClear: [shade], draw: [marks] },
      };
      const u = new uPlot(opts, seriesData(c), plot);
      st.charts[c.id] = { u, table, details, def: c, data: null };
    }
  }

  function updateCharts() {
    for (const c of CHARTS) {
      const ch = st.charts[c.id];
      ch.data = seriesData(c);
      ch.u.setData(ch.data);
      if (ch.details.open) fillTable(ch);
    }
  }

  // fillTable writes a chart's figures as a table: every period in a report, the latest live.
  function fillTable(ch) {
    const c = ch.def, data = ch.data;
    if (!data) return;
    const rows = report ? data[0].length : Math.min(LIVE_TABLE_ROWS, data[0].length);
    const head = el("tr", {}, el("th", { scope: "col" }, "t (s)"), ...st.run.zones.map((z) => el("th", { scope: "col" }, z)));
    const body = [];
    for (let i = data[0].length - rows; i < data[0].length; i++) {
      body.push(el("tr", {}, el("td", {}, fmt(data[0][i])), ...st.run.zones.map((_, zi) => {
        const v = data[zi + 1][i];
        return el("td", {}, c.id === "alarm" && v != null ? STATE_NAMES[v] : fmt(v, 1));
      })));
    }
    ch.table.replaceChildren(el("thead", {}, head), el("tbody", {}, ...body));
  }

  function updateZones() {
    const last = st.frames.length ? st.frames[st.frames.length - 1] : null;
    const box = $("#zones");
    box.replaceChildren(...st.run.zones.map((zone, i) => {
      const z = last && last.zones.find((x) => x.zone === zone);
      const name = z ? STATE_NAMES[z.alarm] || "?" : "–";
      const shifted = z && z.weight === 0;
      const traffic = !z ? "–" : shifted ? "0 % — SHIFTED AWAY" : fmt(100 * z.weight, 0) + " %";
      const canary = z ? `${z.canary_ok}/${z.canary_total} ok${z.canary_last && z.canary_last !== "success" ? " (last: " + z.canary_last + ")" : ""}` : "–";
      return el("article", { class: `zone z-${name}${shifted ? " z-shifted" : ""}`, "data-zone": zone, "data-state": name, "aria-label": `zone ${zone}: ${name}, traffic ${traffic}` },
        el("h3", {}, zone, zone === st.run.faulted_zone && st.run.scenario !== "none" ? " (fault target)" : ""),
        el("dl", {},
          el("dt", {}, "alarm"), el("dd", {}, el("span", { class: "state state-" + name }, (STATE_SIGNS[name] || "") + " " + name)),
          el("dt", {}, "traffic"), el("dd", { class: shifted ? "traffic-shifted" : "" }, traffic),
          el("dt", {}, "invocations/s"), el("dd", {}, z ? fmt(z.rate) : "–"),
          el("dt", {}, "error %"), el("dd", {}, z ? fmt(z.error_pct, 2) : "–"),
          el("dt", {}, "p50 / p99 ms"), el("dd", {}, z ? fmt(z.p50_ms) + " / " + fmt(z.p99_ms) : "–"),
          el("dt", {}, "canaries"), el("dd", {}, canary)));
    }));
  }

  function updateSummary() {
    const s = st.summary || {};
    const items = [
      ["scenario", st.run.scenario + (st.run.scenario !== "none" ? " in " + st.run.faulted_zone : "")],
      ["time to alarm", secs(s.time_to_alarm_s)],
      ["alarm zone", s.alarm_zone || "none"],
      ["time to shift", secs(s.time_to_shift_s)],
      ["evacuated zone", s.evacuated_zone || "none"],
      ["failed before shift", s.failed_before_shift ?? "–"],
      ["failed after shift", s.failed_after_shift ?? "–"],
      ["false alarms", s.false_alarms ?? "–"],
      ["invocations", s.invocations ?? "–"],
    ];
    $("#summary").replaceChildren(...items.map(([k, v]) => el("div", { "data-figure": k }, el("dt", {}, k), el("dd", {}, v))));
  }

  function updateTimeline() {
    $("#timeline tbody").replaceChildren(...st.events.map((e) =>
      el("tr", { class: "ev-" + kind(e), "data-kind": kind(e) }, el("td", {}, fmt(e.t_s) + " s"), el("td", {}, e.event), el("td", {}, e.zone || ""), el("td", {}, e.detail || ""))));
    const g = st.guards.length ? st.guards.map((x) => el("tr", {}, el("td", {}, x.reason), el("td", {}, x.blocked), el("td", {}, secs(x.t_s))))
      : [el("tr", {}, el("td", { colspan: "3" }, "no shift decision was blocked"))];
    $("#guards tbody").replaceChildren(...g);
  }

  function updateStatus() {
    const last = st.frames.length ? st.frames[st.frames.length - 1].t : 0;
    const what = report ? "rehearsal report" : st.done ? "run finished" : "live";
    $("#status").textContent = `${what} — ${st.run.function}, ${st.run.zones.length} zones, scenario ${st.run.scenario}, t=${fmt(last, 0)} s` +
      (report ? `, started ${new Date(st.run.started).toISOString()}` : "");
  }

  function firstDraw() {
    $("#title").textContent = (report ? "azlens rehearsal report — " : "azlens console — ") + st.run.function;
    document.title = $("#title").textContent;
    $("#settings tbody").replaceChildren(...(st.run.settings || []).map((s) => el("tr", {}, el("th", { scope: "row" }, s.name), el("td", {}, s.value))));
    $("#collector-config").textContent = st.run.collector_config || "";
    for (const sel of ["#shift-zone", "#exp-zone", "#trace-zone"]) {
      for (const z of st.run.zones) $(sel).append(el("option", { value: z }, z));
    }
    $("#exp-zone").value = st.run.faulted_zone;
    for (const s of st.run.scenarios || []) if (s !== "none") $("#exp-scenario").append(el("option", { value: s }, s));
    makeCharts();
  }

  function apply(s) {
    const first = !st.run;
    st.run = s.run;
    st.frames = s.reset || first ? s.frames : st.frames.concat(s.frames);
    st.seq = s.seq; st.events = s.events; st.guards = s.guards; st.summary = s.summary; st.done = s.done;
    if (first) firstDraw();
    updateZones(); updateSummary(); updateTimeline(); updateCharts(); updateStatus();
    document.body.dataset.frames = String(st.frames.length);
  }

  async function getJSON(url, init) {
    const r = await fetch(url, init);
    const text = await r.text();
    if (!r.ok) throw new Error(`${r.status}: ${text.trim().slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }

  async function poll() {
    try {
      apply(await getJSON("api/state?since=" + st.seq));
      if (st.done) return;
    } catch (err) {
      $("#status").textContent = "console unreachable (" + err.message + "); retrying";
    }
    setTimeout(poll, Math.max(1000, (st.run && st.run.interval_ms) || 2000));
  }

  // Recent invocations and the waterfall.
  async function pollTraces() {
    try {
      const z = $("#trace-zone").value;
      const res = await getJSON("api/traces" + (z ? "?zone=" + encodeURIComponent(z) : ""));
      $("#traces tbody").replaceChildren(...res.traces.slice(0, 30).map((t) => {
        const show = () => showTrace(t.trace_id);
        return el("tr", { class: t.trace_id === st.trace ? "selected" : "", "data-trace": t.trace_id, onclick: show },
          el("td", {}, new Date(t.start_unix_nano / 1e6).toISOString().slice(11, 23)), el("td", {}, t.zone), el("td", {}, t.name),
          el("td", {}, fmt(t.duration_ms, 2) + " ms"), el("td", {}, t.error ? "✕ error" : "✓ ok"),
          el("td", {}, el("button", { type: "button", onclick: (ev) => { ev.stopPropagation(); show(); } }, "waterfall")));
      }));
    } catch (err) {
      $("#waterfall").dataset.error = err.message;
    }
    if (!st.done) setTimeout(pollTraces, Math.max(2000, 2 * ((st.run && st.run.interval_ms) || 2000)));
  }

  async function showTrace(id) {
    st.trace = id;
    const box = $("#waterfall");
    let t;
    try { t = await getJSON("api/traces/" + encodeURIComponent(id)); } catch (err) { box.textContent = err.message; return; }
    const t0 = Math.min(...t.spans.map((s) => s.start_unix_nano));
    const t1 = Math.max(...t.spans.map((s) => s.end_unix_nano));
    const span = Math.max(1, t1 - t0);
    // Depth-first from the roots, so children sit under their parent.
    const ids = new Set(t.spans.map((s) => s.span_id));
    const kids = {};
    for (const s of t.spans) {
      const p = s.parent_id && ids.has(s.parent_id) ? s.parent_id : "";
      (kids[p] = kids[p] || []).push(s);
    }
    const rows = [];
    const walk = (p, depth) => { for (const s of kids[p] || []) { rows.push([s, depth]); walk(s.span_id, depth + 1); } };
    walk("", 0);
    box.replaceChildren(el("h3", {}, `trace ${t.trace_id} — ${t.zone}, ${fmt(t.duration_ms, 2)} ms`),
      ...rows.map(([s, depth]) => {
        const left = (100 * (s.start_unix_nano - t0)) / span, width = (100 * (s.end_unix_nano - s.start_unix_nano)) / span;
        const ms = (s.end_unix_nano - s.start_unix_nano) / 1e6;
        return el("div", { class: "wf-row", "data-span": s.name },
          el("div", { style: `padding-left:${depth}rem` }, s.name + (s.error ? " ✕" : "")),
          el("div", { class: "wf-bar", role: "img", "aria-label": `${s.name}: starts at ${fmt((s.start_unix_nano - t0) / 1e6, 2)} ms, lasts ${fmt(ms, 2)} ms` },
            el("span", { class: s.error ? "err" : "", style: `left:${left}%;width:${width}%` })),
          el("div", {}, fmt(ms, 2) + " ms"));
      }));
  }

  // Actions call the same APIs as `azlens shift` and `azlens experiment`, on this front door.
  function say(msg) { $("#action-result").textContent = msg; }
  async function refreshActions() {
    try {
      const fn = encodeURIComponent(st.run.resource || st.run.function);
      const shifts = await getJSON(`../zonalshift/zonalshifts?resourceIdentifier=${fn}&status=ACTIVE`);
      $("#shifts tbody").replaceChildren(...(shifts.items || []).map((s) => el("tr", {},
        el("td", {}, s.zonalShiftId), el("td", {}, s.awayFrom), el("td", {}, s.shiftType || s.type || ""), el("td", {}, s.status),
        el("td", {}, new Date(s.expiryTime * 1000).toISOString().slice(11, 19)),
        el("td", {}, el("button", { type: "button", onclick: () => cancelShift(s.zonalShiftId) }, "cancel")))));
      const exps = await getJSON("../fis/experiments");
      $("#experiments tbody").replaceChildren(...(exps.experiments || []).map((x) => el("tr", {},
        el("td", {}, x.id), el("td", {}, (x.tags && x.tags["azlens:scenario"]) || x.experimentTemplateId || ""), el("td", {}, (x.state && x.state.status) || ""),
        el("td", {}, ["running", "initiating", "pending"].includes(x.state && x.state.status) ? el("button", { type: "button", onclick: () => stopExperiment(x.id) }, "stop") : ""))));
    } catch (err) {
      say("could not list shifts and experiments: " + err.message);
    }
  }
  async function cancelShift(id) {
    try { await getJSON("../zonalshift/zonalshifts/" + encodeURIComponent(id), { method: "DELETE" }); say("cancelled zonal shift " + id); }
    catch (err) { say("cancel failed: " + err.message); }
    refreshActions();
  }
  async function stopExperiment(id) {
    try { await getJSON("../fis/experiments/" + encodeURIComponent(id), { method: "DELETE" }); say("stopping experiment " + id); }
    catch (err) { say("stop failed: " + err.message); }
    refreshActions();
  }
  function wireActions() {
    $("#shift-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        const s = await getJSON("../zonalshift/zonalshifts", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ resourceIdentifier: st.run.resource || st.run.function, awayFrom: f.get("awayFrom"), expiresIn: f.get("expiresIn"), comment: f.get("comment"), type: "manual" }) });
        say(`zonal shift ${s.zonalShiftId} started: traffic away from ${s.awayFrom}`);
      } catch (err) { say("shift failed: " + err.message); }
      refreshActions();
    });
    $("#experiment-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        const q = new URLSearchParams({ name: f.get("name"), zone: f.get("zone"), duration: f.get("duration") });
        const tmpl = await getJSON("api/scenario?" + q);
        const created = await getJSON("../fis/experimentTemplates", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(tmpl) });
        const x = await getJSON("../fis/experiments", { method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ experimentTemplateId: created.experimentTemplate.id, tags: { "azlens:scenario": f.get("name"), "azlens:started-by": "console" } }) });
        say(`experiment ${x.experiment.id} (${f.get("name")} in ${f.get("zone")}) started`);
      } catch (err) { say("experiment failed: " + err.message); }
      refreshActions();
    });
    $("#trace-zone").addEventListener("change", () => pollTraces());
  }

  if (report) {
    document.body.classList.add("report");
    apply(report);
    document.body.dataset.ready = "true";
  } else {
    (async () => {
      await poll();
      wireActions();
      refreshActions();
      pollTraces();
      document.body.dataset.ready = "true";
    })();
  }
})();
