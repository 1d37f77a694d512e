// The wallboard: waiting calls per queue, longest wait, today's service level, consultants by
// state, and a canvas graph of the last hour; supervisors also get listen/whisper/barge and
// state changes. Invariants: every pushed change is drawn within one animation frame (bursts
// are coalesced, never queued); waits are extrapolated locally from the server's as-of figures,
// so no clock skew between browser and server enters the numbers.

import {
  LiveSocket, api, applyI18n, byTestId, describeError, el, ensureSignedIn, fmtClock, fmtDuration,
  fmtPercent, fmtTime, setConnection, t, toast, wireHeader,
} from "./common.js";

const STATES = ["ready", "ringing", "talking", "wrap_up", "not_ready", "logged_out"];
const HOUR_MS = 3600 * 1000;
const SAMPLE_EVERY_MS = 15000;

const W = {
  me: null,
  consultants: new Map(),
  queues: new Map(), // queue_id -> { stats, receivedAt }
  samples: [], // { at: ms, waiting, talking, ready }
  lastSampleAt: 0,
  pending: false,
  spy: null,
};

function scheduleRender() {
  if (W.pending) return;
  W.pending = true;
  requestAnimationFrame(() => {
    W.pending = false;
    render();
  });
}

function waitOf(entry, now) {
  const { stats, receivedAt } = entry;
  return stats.waiting > 0 ? stats.longest_wait_s + (now - receivedAt) / 1000 : 0;
}

function totals(now = Date.now()) {
  let waiting = 0, longest = 0, answered = 0, abandoned = 0, weighted = 0, offered = 0;
  for (const entry of W.queues.values()) {
    const s = entry.stats;
    waiting += s.waiting;
    longest = Math.max(longest, waitOf(entry, now));
    answered += s.answered;
    abandoned += s.abandoned;
    if (s.service_level !== null) {
      weighted += s.service_level * (s.answered + s.abandoned);
      offered += s.answered + s.abandoned;
    }
  }
  const counts = Object.fromEntries(STATES.map((state) => [state, 0]));
  for (const c of W.consultants.values()) counts[c.state] = (counts[c.state] || 0) + 1;
  return { waiting, longest, answered, abandoned, sl: offered ? weighted / offered : null, counts };
}

function render() {
  const now = Date.now();
  const sum = totals(now);
  byTestId("kpi-waiting").textContent = sum.waiting;
  const longest = byTestId("kpi-longest-wait");
  longest.textContent = fmtDuration(sum.longest);
  longest.classList.toggle("alert", sum.longest > 20);
  byTestId("kpi-service-level").textContent = fmtPercent(sum.sl);
  byTestId("kpi-answered").textContent = sum.answered;
  byTestId("kpi-abandoned").textContent = sum.abandoned;
  renderQueues(now);
  renderStates(sum.counts);
  drawGraph(sum);
}

function renderQueues(now) {
  const body = byTestId("queue-table").querySelector("tbody");
  const rows = [...W.queues.values()].sort((a, b) => a.stats.queue_id.localeCompare(b.stats.queue_id));
  body.replaceChildren(...rows.map((entry) => {
    const s = entry.stats;
    return el("tr", { "data-testid": "queue-row", "data-queue": s.queue_id, class: s.waiting ? "busy" : "" },
      el("td", { text: s.name }),
      el("td", { class: "num", "data-testid": "queue-waiting", text: s.waiting }),
      el("td", { class: "num", "data-testid": "queue-longest", text: fmtDuration(waitOf(entry, now)) }),
      el("td", { class: "num", "data-testid": "queue-sl", text: fmtPercent(s.service_level) }),
      el("td", { class: "num", text: s.answered }),
      el("td", { class: "num", text: s.abandoned }));
  }));
}

function renderStates(counts) {
  const total = Math.max(1, W.consultants.size);
  const bars = byTestId("state-bars");
  bars.replaceChildren(...STATES.map((state) => {
    const fill = el("div", { class: "fill" });
    fill.style.width = `${(100 * counts[state]) / total}%`;
    fill.style.background = `var(--${state})`;
    return el("div", { class: "state-bar" },
      el("span", { text: t(`state.${state}`) }),
      el("div", { class: "track" }, fill),
      el("span", { class: "count", "data-testid": `state-count-${state}`, text: counts[state] }));
  }));
}

// --- graph --------------------------------------------------------------------------------------
function drawGraph(sum) {
  const canvas = byTestId("timeline-graph");
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  if (!width || !height) return;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  const now = Date.now();
  const live = { at: now, waiting: sum.waiting, talking: sum.counts.talking, ready: sum.counts.ready };
  const points = [...W.samples.filter((p) => p.at >= now - HOUR_MS), live];
  const pad = { left: 40, right: 10, top: 10, bottom: 22 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const top = Math.max(5, ...points.map((p) => Math.max(p.waiting, p.talking, p.ready))) * 1.1;
  const x = (at) => pad.left + ((at - (now - HOUR_MS)) / HOUR_MS) * plotW;
  const y = (v) => pad.top + plotH - (v / top) * plotH;
  const css = getComputedStyle(document.documentElement);
  g.font = "11px system-ui, sans-serif";
  g.strokeStyle = "#d5dbe3";
  g.fillStyle = "#5a6776";
  g.lineWidth = 1;
  for (let m = 0; m <= 60; m += 15) {
    const gx = x(now - HOUR_MS + m * 60000);
    g.beginPath(); g.moveTo(gx, pad.top); g.lineTo(gx, pad.top + plotH); g.stroke();
    const label = fmtClock(now - HOUR_MS + m * 60000);
    const w = g.measureText(label).width;
    g.fillText(label, Math.min(Math.max(gx - w / 2, 0), width - w), height - 6);
  }
  for (const frac of [0, 0.5, 1]) {
    const value = Math.round((top / 1.1) * frac);
    g.fillText(String(value), 4, y(value) + 4);
  }
  for (const [key, color] of [["ready", "--ready"], ["talking", "--talking"], ["waiting", "--not_ready"]]) {
    g.strokeStyle = css.getPropertyValue(color).trim();
    g.lineWidth = key === "waiting" ? 3 : 2;
    g.beginPath();
    points.forEach((p, i) => (i ? g.lineTo(x(p.at), y(p[key])) : g.moveTo(x(p.at), y(p[key]))));
    g.stroke();
  }
  canvas.setAttribute("aria-label", `${t("wb.graph")}: ${t("wb.graph_waiting")} ${live.waiting}, ` +
    `${t("wb.graph_talking")} ${live.talking}, ${t("wb.graph_ready")} ${live.ready}`);
}

function recordSample() {
  const now = Date.now();
  if (now - W.lastSampleAt < SAMPLE_EVERY_MS) return;
  W.lastSampleAt = now;
  const sum = totals(now);
  W.samples.push({ at: now, waiting: sum.waiting, talking: sum.counts.talking, ready: sum.counts.ready });
  W.samples = W.samples.filter((p) => p.at >= now - HOUR_MS);
}

async function loadTimeline() {
  try {
    const samples = await api("GET", "/api/timeline?minutes=60");
    const server = samples.map((s) => ({ at: Date.parse(s.at), waiting: s.waiting, talking: s.talking, ready: s.ready }));
    const oldestLocal = W.samples.length ? W.samples[0].at : Infinity;
    W.samples = [...server.filter((p) => p.at < oldestLocal), ...W.samples];
  } catch (err) {
    toast(describeError(err), "error");
  }
  scheduleRender();
}

// --- live updates -------------------------------------------------------------------------------
function onMessage(type, data) {
  const now = Date.now();
  if (type === "snapshot") {
    W.consultants = new Map(data.consultants.map((c) => [c.consultant_id, c]));
    W.queues = new Map(data.queues.map((q) => [q.queue_id, { stats: q, receivedAt: now }]));
    fillConsultantList();
    loadTimeline();
  } else if (type === "consultant_changed") {
    W.consultants.set(data.consultant_id, data);
  } else if (type === "queue_changed") {
    W.queues.set(data.queue_id, { stats: data, receivedAt: now });
  } else if (type === "spy_changed") {
    onSpy(data);
  } else {
    return;
  }
  byTestId("last-update").textContent = fmtTime(new Date(now).toISOString());
  byTestId("last-update").dataset.at = String(now);
  recordSample();
  scheduleRender();
}

// --- supervision --------------------------------------------------------------------------------
function fillConsultantList() {
  const list = byTestId("sup-consultants");
  list.replaceChildren(...[...W.consultants.values()].map((c) =>
    el("option", { value: c.consultant_id, label: `${c.name} · ${t(`state.${c.state}`)}` })));
}

function onSpy(event) {
  if (event.session.supervisor_id !== W.me.user_id) return;
  W.spy = event.active ? event.session : null;
  byTestId("sup-stop").disabled = !W.spy;
  byTestId("sup-active").textContent = W.spy
    ? t("wb.spy_active", { consultant: W.spy.consultant_id, mode: t(`wb.${W.spy.mode}`) }) : "";
}

async function supervise(method, suffix, body) {
  const id = byTestId("sup-consultant").value.trim();
  if (!id) { byTestId("sup-consultant").focus(); return null; }
  try {
    const result = await api(method, `/api/consultants/${encodeURIComponent(id)}${suffix}`, body);
    toast(t("toast.done"));
    return result;
  } catch (err) {
    toast(describeError(err), "error");
    return null;
  }
}

function wireSupervision() {
  byTestId("supervise").hidden = false;
  for (const mode of ["listen", "whisper", "barge"]) {
    byTestId(`sup-${mode}`).addEventListener("click", async () => {
      const device = byTestId("sup-device").value.trim() || null;
      const session = await supervise("POST", "/spy", { mode, device });
      if (session) onSpy({ session, active: true });
    });
  }
  byTestId("sup-stop").addEventListener("click", async () => {
    if (!W.spy) return;
    try {
      await api("DELETE", `/api/spy/${encodeURIComponent(W.spy.spy_id)}`);
      onSpy({ session: W.spy, active: false });
    } catch (err) {
      toast(describeError(err), "error");
    }
  });
  byTestId("sup-ready").addEventListener("click", () => supervise("POST", "/ready"));
  byTestId("sup-not-ready").addEventListener("click",
    () => supervise("POST", "/not-ready", { reason: byTestId("sup-reason").value }));
  // Ends a wrap-up even when a required note is missing (the server logs who did it).
  byTestId("sup-wrap-up-done").addEventListener("click", () => supervise("POST", "/wrap-up-done"));
  byTestId("sup-logout").addEventListener("click", () => supervise("POST", "/logout"));
}

// --- safety calls (supervisors) -----------------------------------------------------------------
const SAFETY_EVERY_MS = 30000;

async function loadSafety() {
  let report;
  try {
    report = await api("GET", "/api/safety/report");
  } catch {
    byTestId("safety").hidden = true; // not enabled, or not allowed: no panel
    return;
  }
  const row = (name, s) => el("tr", {},
    el("td", { text: name }),
    ...[s.people, s.calls_made, s.people_reached, s.escalations_open, s.escalations_closed]
      .map((v) => el("td", { class: "num", text: String(v) })));
  const rows = Object.entries(report.districts).map(([code, s]) => row(code, s));
  rows.push(row(t("wb.safety_total"), report.total));
  byTestId("safety-table").querySelector("tbody").replaceChildren(...rows);
  byTestId("safety").hidden = false;
}

async function main() {
  applyI18n();
  wireHeader(scheduleRender);
  W.me = await ensureSignedIn();
  byTestId("sign-out").hidden = false;
  byTestId("who").textContent = `${W.me.user_id} (${W.me.role})`;
  byTestId("wallboard").hidden = false;
  if (W.me.role !== "consultant") {
    wireSupervision();
    loadSafety();
    setInterval(loadSafety, SAFETY_EVERY_MS);
  }
  new LiveSocket(onMessage, setConnection, () => location.reload()).start();
  setInterval(() => { recordSample(); scheduleRender(); }, 1000);
  window.addEventListener("resize", scheduleRender);
}

main();
