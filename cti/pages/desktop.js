// The consultant desktop: state buttons, screen pop, call controls, parties; live via /ws.
// Invariants: the page acts only for one consultant (the signed-in consultant, or for staff the
// ?consultant= id); every button's enabled state is derived from the latest pushed state, and the
// server remains the judge (a refused action shows its reason and changes nothing here).

import {
  LiveSocket, api, applyI18n, byTestId, describeError, el, ensureSignedIn, fmtDateTime,
  fmtDuration, fmtTime, installShortcuts, setConnection, t, toast, toggleLang, wireHeader,
} from "./common.js";
import { mountKbPanel, showCall, showSuggestions } from "./kbpanel.js";

const S = {
  me: null,
  subject: null,
  view: null,
  call: null,
  details: null,
  consultants: new Map(),
  queues: new Map(),
  busy: false,
};

const LIVE = ["talking", "held"];
const ON_CALL = ["ringing", "talking", "held", "consulting"];

async function act(method, path, body) {
  S.busy = true;
  render();
  try {
    return await api(method, path, body);
  } catch (err) {
    toast(describeError(err), "error");
    return null;
  } finally {
    S.busy = false;
    render();
  }
}

const me = () => `/api/consultants/${encodeURIComponent(S.subject)}`;
const callPath = () => `/api/calls/${encodeURIComponent(S.call.call_id)}`;
const party = (kind) => (S.call?.parties || []).find((p) => p.kind === kind);

const actions = {
  acdLogin: () => act("POST", `${me()}/login`),
  ready: () => act("POST", `${me()}/ready`),
  notReady: () => act("POST", `${me()}/not-ready`, { reason: byTestId("select-reason").value }),
  logout: () => act("POST", `${me()}/logout`),
  wrapUpDone: () => act("POST", `${me()}/wrap-up-done`),
  hold: () => act("POST", `${callPath()}/${S.call.state === "held" ? "unhold" : "hold"}`),
  hangup: () => act("POST", `${callPath()}/hangup`),
  transfer: () => act("POST", `${callPath()}/transfer`, {
    target: { kind: byTestId("select-transfer-kind").value,
              value: byTestId("input-transfer-target").value.trim() },
    mode: byTestId("select-transfer-mode").value,
  }),
  complete: () => act("POST", `${callPath()}/transfer/complete`),
  cancel: () => act("POST", `${callPath()}/transfer/cancel`),
  interpreter: async () => {
    const language = byTestId("select-interpreter-language").value;
    if (await act("POST", `${callPath()}/interpreter`, { language })) toast(t("toast.interpreter_added"));
  },
  dropInterpreter: () => act("DELETE", `${callPath()}/parties/${party("interpreter").party_id}`),
  thirdParty: () => act("POST", `${callPath()}/third-party`,
    { number: byTestId("input-third-party").value.trim() }),
  dropThirdParty: () => act("DELETE", `${callPath()}/parties/${party("third_party").party_id}`),
};

const BUTTONS = {
  "btn-acd-login": ["acdLogin", () => S.view?.state === "logged_out"],
  "btn-ready": ["ready", () => ["not_ready", "wrap_up"].includes(S.view?.state)],
  "btn-not-ready": ["notReady", () => ["ready", "not_ready", "wrap_up"].includes(S.view?.state)],
  "btn-logout": ["logout", () => ["ready", "not_ready", "wrap_up"].includes(S.view?.state)],
  "btn-wrap-up-done": ["wrapUpDone", () => S.view?.state === "wrap_up"],
  "btn-hold": ["hold", () => LIVE.includes(S.call?.state)],
  "btn-hangup": ["hangup", () => ON_CALL.includes(S.call?.state)],
  "btn-transfer": ["transfer", () => LIVE.includes(S.call?.state)],
  "btn-transfer-complete": ["complete", () => S.call?.state === "consulting"],
  "btn-transfer-cancel": ["cancel", () => S.call?.state === "consulting"],
  "btn-add-interpreter": ["interpreter", () => LIVE.includes(S.call?.state) && !party("interpreter")],
  "btn-drop-interpreter": ["dropInterpreter", () => LIVE.includes(S.call?.state) && !!party("interpreter")],
  "btn-add-third-party": ["thirdParty", () => LIVE.includes(S.call?.state) && !party("third_party")],
  "btn-drop-third-party": ["dropThirdParty", () => LIVE.includes(S.call?.state) && !!party("third_party")],
};

function press(testId) {
  const [name, enabled] = BUTTONS[testId];
  if (!S.busy && enabled()) actions[name]();
}

// --- rendering ----------------------------------------------------------------------------------
// A sign-language interpreter joins video calls only: offered while the screen pop says video.
function renderSignOption() {
  const video = !!S.details?.video && S.details.call.call_id === S.call?.call_id;
  const select = byTestId("select-interpreter-language");
  const sign = byTestId("option-interpreter-sign");
  sign.hidden = !video;
  sign.disabled = !video;
  if (!video && select.value === "sign") select.value = "en";
}

function render() {
  renderState();
  renderCall();
  for (const [testId, [, enabled]] of Object.entries(BUTTONS)) {
    byTestId(testId).disabled = S.busy || !enabled();
  }
  renderSignOption();
  const hold = byTestId("btn-hold").querySelector("[data-i18n]");
  hold.dataset.i18n = S.call?.state === "held" ? "desk.unhold" : "desk.hold";
  hold.textContent = t(hold.dataset.i18n);
}

function renderState() {
  const view = S.view;
  const badge = byTestId("my-state");
  badge.dataset.state = view?.state || "logged_out";
  badge.textContent = t(`state.${view?.state || "logged_out"}`);
  byTestId("my-reason").textContent = view?.reason ? t(`reason.${view.reason}`) : "";
  byTestId("my-since").textContent = view ? fmtTime(view.since) : "";
}

function renderCall() {
  const call = S.call;
  byTestId("no-call").hidden = !!call;
  byTestId("call-info").hidden = !call;
  const parties = byTestId("parties");
  parties.replaceChildren();
  if (!call) return;
  byTestId("pop-number").textContent = call.number;
  byTestId("pop-language").textContent = `${t(`lang.${call.language}`)} (${call.language})`;
  const queue = S.queues.get(call.queue_id);
  byTestId("pop-queue").textContent = queue ? queue.name : (call.queue_id || "");
  const state = byTestId("call-state");
  state.dataset.state = call.state;
  state.textContent = t(`call.${call.state}`);
  for (const p of call.parties) {
    const label = [p.address, p.language ? t(`lang.${p.language}`) : null, t(`pstate.${p.state}`)]
      .filter(Boolean).join(" · ");
    parties.append(el("li", { "data-testid": "party", "data-kind": p.kind, "data-state": p.state },
      el("span", { class: "kind", text: t(`party.${p.kind}`) }), label));
  }
  renderDetails();
}

function renderDetails() {
  const journey = byTestId("pop-journey");
  const history = byTestId("pop-history").querySelector("tbody");
  journey.replaceChildren();
  history.replaceChildren();
  const details = S.details;
  if (!details || details.call.call_id !== S.call.call_id) return;
  for (const step of details.ivr_journey) {
    journey.append(el("li", { "data-testid": "journey-step" },
      `${fmtTime(step.at)} · ${step.label}${step.input ? ` [${step.input}]` : ""}`));
  }
  if (details.earlier_calls.length === 0) {
    history.append(el("tr", {}, el("td", { text: t("desk.history_none") })));
  }
  for (const c of details.earlier_calls) {
    history.append(el("tr", { "data-testid": "history-row" },
      el("td", { text: fmtDateTime(c.started_at) }),
      el("td", { text: c.queue_id || "" }),
      el("td", { text: t(`outcome.${c.outcome}`) }),
      el("td", { text: c.consultant_id || "" }),
      el("td", { class: "num", text: fmtDuration(c.duration_s) })));
  }
}

function tickTimer() {
  const call = S.call;
  const node = byTestId("call-timer");
  if (!call || call.state === "ended") { node.textContent = ""; return; }
  const since = call.answered_at || call.started_at;
  node.textContent = fmtDuration((Date.now() - Date.parse(since)) / 1000);
}

function fillTransferOptions() {
  const kind = byTestId("select-transfer-kind").value;
  const list = byTestId("transfer-options");
  list.replaceChildren();
  if (kind === "consultant") {
    for (const c of S.consultants.values()) {
      if (c.state === "ready" && c.consultant_id !== S.subject) {
        list.append(el("option", { value: c.consultant_id, label: c.name }));
      }
    }
  } else if (kind === "queue") {
    for (const q of S.queues.values()) list.append(el("option", { value: q.queue_id, label: q.name }));
  }
}

// --- live updates -------------------------------------------------------------------------------
async function loadDetails(callId) {
  try {
    S.details = await api("GET", `/api/calls/${encodeURIComponent(callId)}`);
    if (S.call?.call_id === callId || !S.call) S.call = S.details.call;
    showCall(callId);
    if (S.details.call.state === "ringing") toast(t("toast.new_call", { number: S.details.call.number }));
  } catch (err) {
    // 403/404: the call is not (yet) ours; its call_changed event will bring it again.
    if (![403, 404].includes(err.status)) toast(describeError(err), "error");
  }
  render();
}

function onConsultant(view) {
  S.consultants.set(view.consultant_id, view);
  if (view.consultant_id !== S.subject) return;
  S.view = view;
  if (view.call_id && view.call_id !== S.call?.call_id) {
    S.call = null;
    S.details = null;
    loadDetails(view.call_id);
  } else if (!view.call_id && S.call && S.call.state !== "ended") {
    // The call left this consultant (transfer, hang-up): its later changes are not ours to see.
    S.call = { ...S.call, state: "ended", parties: [] };
  } else if (!view.call_id && S.call?.state === "ended" && view.state !== "wrap_up") {
    S.call = null;
    S.details = null;
  }
}

function onCall(call) {
  if (call.call_id === S.call?.call_id || (call.consultant_id === S.subject && call.state !== "ended")) {
    const isNew = call.call_id !== S.call?.call_id;
    S.call = call;
    if (isNew) loadDetails(call.call_id);
  }
}

function onMessage(type, data) {
  if (type === "snapshot") {
    S.consultants = new Map(data.consultants.map((c) => [c.consultant_id, c]));
    S.queues = new Map(data.queues.map((q) => [q.queue_id, q]));
    S.view = S.consultants.get(S.subject) || null;
    const mine = data.calls.find((c) => c.consultant_id === S.subject && c.state !== "ended");
    S.call = mine || (S.call?.state === "ended" ? S.call : null);
    if (mine) loadDetails(mine.call_id);
  } else if (type === "consultant_changed") onConsultant(data);
  else if (type === "call_changed") onCall(data);
  else if (type === "queue_changed") S.queues.set(data.queue_id, data);
  else if (type === "suggestions") { showSuggestions(data); return; }
  render();
}

async function main() {
  applyI18n();
  wireHeader(render);
  S.me = await ensureSignedIn();
  byTestId("sign-out").hidden = false;
  byTestId("who").textContent = `${S.me.user_id} (${S.me.role})`;
  S.subject = S.me.role === "consultant"
    ? S.me.user_id : new URLSearchParams(location.search).get("consultant");
  if (!S.subject) {
    byTestId("not-consultant").hidden = false;
    return;
  }
  byTestId("desktop").hidden = false;
  mountKbPanel();
  for (const testId of Object.keys(BUTTONS)) {
    byTestId(testId).addEventListener("click", () => press(testId));
  }
  byTestId("select-transfer-kind").addEventListener("change", fillTransferOptions);
  byTestId("input-transfer-target").addEventListener("focus", fillTransferOptions);
  installShortcuts({
    KeyR: () => press("btn-ready"),
    KeyN: () => press("btn-not-ready"),
    KeyW: () => press("btn-wrap-up-done"),
    KeyH: () => press("btn-hold"),
    KeyX: () => press("btn-hangup"),
    KeyI: () => press("btn-add-interpreter"),
    KeyD: () => press("btn-drop-interpreter"),
    KeyT: () => byTestId("input-transfer-target").focus(),
    KeyL: () => toggleLang(render),
  }, byTestId("help"));
  render();
  new LiveSocket(onMessage, setConnection, () => location.reload()).start();
  setInterval(tickTimer, 1000);
  // Keyboard users land on the first thing they can do, not at the top of the page.
  setTimeout(() => [...document.querySelectorAll("main button")].find((b) => !b.disabled)?.focus(), 300);
}

main();
