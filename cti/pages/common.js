// Shared by the desktop, wallboard, index and docs pages: i18n, REST client, live socket,
// sign-in form, keyboard shortcuts. No dependencies, no build step.
// Invariants: the bearer token lives only in sessionStorage (one tab, gone with it); it is
// sent in an Authorization header for REST and as the first WebSocket message (never in a URL).

import { STRINGS } from "./i18n.js";

const TOKEN_KEY = "dasan.token";
const LANG_KEY = "dasan.lang";

export function lang() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved === "ko" || saved === "en") return saved;
  return (navigator.language || "ko").startsWith("ko") ? "ko" : "en";
}

export function t(key, vars = {}) {
  const table = STRINGS[lang()] || STRINGS.ko;
  let text = table[key] ?? STRINGS.en[key] ?? key;
  for (const [name, value] of Object.entries(vars)) text = text.replaceAll(`{${name}}`, String(value));
  return text;
}

// Fill every [data-i18n] element's text (and [data-i18n-label] aria-label / placeholder).
export function applyI18n(root = document) {
  document.documentElement.lang = lang();
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-label]")) {
    node.setAttribute("aria-label", t(node.dataset.i18nLabel));
    if ("placeholder" in node) node.placeholder = t(node.dataset.i18nLabel);
  }
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
}

export function toggleLang(onChange) {
  localStorage.setItem(LANG_KEY, lang() === "ko" ? "en" : "ko");
  applyI18n();
  if (onChange) onChange();
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

export function byTestId(id) {
  return document.querySelector(`[data-testid="${id}"]`);
}

export function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m % 60)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

const locale = () => (lang() === "ko" ? "ko-KR" : "en-GB");

// 24-hour clock times, as a contact center reads them.
export function fmtTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleTimeString(locale(),
    { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
}

export function fmtClock(ms) {
  return new Date(ms).toLocaleTimeString(locale(), { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

export function fmtDateTime(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleString(locale(),
    { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

export function fmtPercent(fraction) {
  return fraction === null || fraction === undefined ? "–" : `${(fraction * 100).toFixed(1)}%`;
}

// --- REST ---------------------------------------------------------------------------------------
export class ApiError extends Error {
  constructor(status, code, message, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const tok = token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15000);
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal: controller.signal,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new ApiError(0, "network", t("error.network"));
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data.error || {};
    throw new ApiError(response.status, error.code || "http", error.message || response.statusText,
      error.fields);
  }
  return data;
}

export async function signIn(userId, password) {
  const result = await api("POST", "/api/login", { user_id: userId, password });
  sessionStorage.setItem(TOKEN_KEY, result.token);
  return result;
}

export async function signOut() {
  try {
    await api("POST", "/api/logout");
  } finally {
    forgetToken();
  }
}

// A message for the user from an ApiError, in the current language.
export function describeError(err) {
  if (!(err instanceof ApiError)) return String(err);
  const known = `error.${err.code}`;
  const text = t(known);
  return text === known ? err.message : text;
}

// --- live socket --------------------------------------------------------------------------------
// Calls onMessage(type, data) for every server message; reconnects with backoff and starts each
// connection with a fresh snapshot, so a reconnect or "resync" loses nothing.
export class LiveSocket {
  constructor(onMessage, onStatus, onUnauthorized) {
    this.onMessage = onMessage;
    this.onStatus = onStatus;
    this.onUnauthorized = onUnauthorized;
    this.backoff = 500;
    this.stopped = false;
    this.ws = null;
    this.pinger = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/ws`);
    this.ws = ws;
    this.onStatus("connecting");
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token: token() })));
    ws.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "hello") {
        this.backoff = 500;
        this.onStatus("live");
        clearInterval(this.pinger);
        this.pinger = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), 25000);
      }
      if (message.type === "resync") {
        ws.close(4000);
        return;
      }
      this.onMessage(message.type, message.data);
    });
    ws.addEventListener("close", (event) => {
      clearInterval(this.pinger);
      if (this.stopped) return;
      if (event.code === 4401) {
        this.onStatus("offline");
        this.onUnauthorized();
        return;
      }
      this.onStatus("reconnecting");
      setTimeout(() => this.connect(), event.code === 4000 ? 0 : this.backoff);
      this.backoff = Math.min(this.backoff * 2, 5000);
    });
  }
}

// --- sign-in form -------------------------------------------------------------------------------
// Shows the [data-testid=login-panel] form until a sign-in succeeds; resolves with /api/me.
export async function ensureSignedIn() {
  if (token()) {
    try {
      return await api("GET", "/api/me");
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      forgetToken();
    }
  }
  const panel = byTestId("login-panel");
  const form = panel.querySelector("form");
  const error = byTestId("login-error");
  panel.hidden = false;
  byTestId("login-user").focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      try {
        await signIn(byTestId("login-user").value.trim(), byTestId("login-password").value);
        byTestId("login-password").value = "";
        panel.hidden = true;
        resolve(await api("GET", "/api/me"));
      } catch (err) {
        error.textContent = err.status === 401 ? t("login.failed") : describeError(err);
        byTestId("login-password").select();
      }
    });
  });
}

// --- keyboard -----------------------------------------------------------------------------------
// Alt+<key> shortcuts (so typing in fields never triggers them) and "?" for the help dialog.
export function installShortcuts(bindings, helpDialog) {
  document.addEventListener("keydown", (event) => {
    const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement?.tagName);
    if (event.key === "?" && !typing && helpDialog) {
      event.preventDefault();
      if (helpDialog.open) helpDialog.close(); else helpDialog.showModal();
      return;
    }
    if (!event.altKey || event.ctrlKey || event.metaKey) return;
    const action = bindings[event.code];
    if (action) {
      event.preventDefault();
      action();
    }
  });
}

// Show a message in the page's [data-testid=toast] for five seconds (a newer one replaces it).
export function toast(text, kind = "info") {
  const node = byTestId("toast");
  node.textContent = text;
  node.dataset.kind = kind;
  node.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { node.hidden = true; }, 5000);
}

export function setConnection(status) {
  const node = byTestId("connection");
  if (!node) return;
  node.dataset.status = status;
  node.textContent = t(`conn.${status}`);
}

// Wire the header: language toggle, sign-out; returns nothing.
export function wireHeader(onLanguage) {
  byTestId("lang-toggle")?.addEventListener("click", () => toggleLang(onLanguage));
  byTestId("sign-out")?.addEventListener("click", async () => {
    await signOut().catch(() => {});
    location.reload();
  });
  byTestId("help-open")?.addEventListener("click", () => byTestId("help")?.showModal());
  byTestId("help-close")?.addEventListener("click", () => byTestId("help")?.close());
}
