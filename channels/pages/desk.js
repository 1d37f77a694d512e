// The consultant's chat and SMS threads in the desktop, beside the call controls.
// Invariants: text is inserted as text; the server decides who holds a thread (this page only
// shows what the socket pushes); the session token goes in the socket's first message.
import { lang, token } from "/static/common.js";

const W = {
  ko: { title: "채팅·문자 상담", none: "진행 중인 채팅이나 문자가 없습니다.", reply: "답장", send: "보내기", handover: "다른 상담원에게", end: "끝내기", typing: "시민이 입력 중…", read: "읽음", citizen: "시민", me: "나", chat: "채팅", sms: "문자" },
  en: { title: "Chats and texts", none: "No chat or text thread.", reply: "Reply", send: "Send", handover: "Hand over", end: "End", typing: "The citizen is typing…", read: "Read", citizen: "Citizen", me: "Me", chat: "Chat", sms: "SMS" },
};
const w = (k) => (W[lang()] || W.ko)[k];
const threads = new Map(); // id -> {view, root}
let ws = null, retry = 500;

function box() { return document.querySelector("[data-testid=chats]"); }

function line(m) {
  const li = document.createElement("li");
  li.className = m.sender;
  li.dataset.seq = String(m.seq);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = m.sender === "citizen" ? w("citizen") : w("me");
  const body = document.createElement("span");
  body.textContent = m.text;
  li.append(who, " ", body);
  return li;
}

function render() {
  const root = box();
  if (!root) return;
  root.querySelector("h2").textContent = w("title");
  const list = root.querySelector("[data-testid=chat-list]");
  const empty = root.querySelector("[data-testid=chat-none]");
  empty.textContent = w("none");
  empty.hidden = threads.size > 0;
  for (const [id, th] of threads) if (!th.root.isConnected) list.append(th.root);
  for (const node of [...list.children]) if (!threads.has(node.dataset.conversation)) node.remove();
}

function build(view) {
  const art = document.createElement("article");
  art.className = "thread";
  art.dataset.conversation = view.id;
  art.dataset.testid = "thread";
  const h = document.createElement("h3");
  h.id = `th-${view.id}`;
  h.textContent = `${w(view.channel)} · ${view.language} · ${view.service}`;
  art.setAttribute("aria-labelledby", h.id);
  const pane = document.createElement("div");
  pane.className = "thread-log";
  pane.setAttribute("role", "log");
  pane.setAttribute("aria-labelledby", h.id);
  const log = document.createElement("ol");
  pane.append(log);
  const status = document.createElement("p");
  status.setAttribute("role", "status");
  status.className = "thread-status";
  const form = document.createElement("form");
  const label = document.createElement("label");
  label.textContent = w("reply");
  const input = document.createElement("textarea");
  input.rows = 2;
  input.dataset.testid = "chat-reply";
  label.append(input);
  const send = document.createElement("button");
  send.type = "submit"; send.className = "primary"; send.textContent = w("send");
  send.dataset.testid = "chat-send";
  const hand = document.createElement("button");
  hand.type = "button"; hand.textContent = w("handover"); hand.dataset.testid = "chat-handover";
  const end = document.createElement("button");
  end.type = "button"; end.className = "stop"; end.textContent = w("end"); end.dataset.testid = "chat-end";
  form.append(label, send, hand, end);
  art.append(h, pane, status, form);
  let lastTyping = 0;
  input.addEventListener("input", () => {
    if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); emit({ type: "typing", conversation: view.id }); }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value;
    if (!text.trim()) return;
    emit({ type: "message", conversation: view.id, text, ref: String(Date.now()) });
    input.value = "";
  });
  hand.addEventListener("click", () => post(view.id, "handover"));
  end.addEventListener("click", () => post(view.id, "end"));
  return { view, root: art, log, status, last: 0 };
}

async function post(id, what) {
  await fetch(`/api/conversations/${encodeURIComponent(id)}/${what}`, {
    method: "POST", headers: { Authorization: `Bearer ${token()}` },
  });
}

function emit(obj) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); }

function add(view) {
  const th = threads.get(view.id) || build(view);
  threads.set(view.id, th);
  for (const m of view.messages || []) show(th, m);
  render();
}

function show(th, m) {
  if (m.seq <= th.last) return;
  th.last = m.seq;
  th.log.append(line(m));
  if (m.sender === "citizen") { th.status.textContent = ""; emit({ type: "read", conversation: th.view.id, seq: m.seq }); }
}

function onEvent(ev) {
  switch (ev.type) {
    case "mine": threads.clear(); box()?.querySelector("[data-testid=chat-list]")?.replaceChildren(); for (const v of ev.conversations) add(v); break;
    case "assigned": add(ev.conversation); break;
    case "message": { const th = threads.get(ev.conversation); if (th) show(th, ev.message); break; }
    case "typing": { const th = threads.get(ev.conversation); if (th) th.status.textContent = w("typing"); break; }
    case "read": {
      const th = threads.get(ev.conversation);
      if (th) for (const li of th.log.querySelectorAll("li.consultant")) if (Number(li.dataset.seq) <= ev.seq) li.dataset.read = "yes";
      break;
    }
    case "ended": case "released": threads.delete(ev.conversation); render(); break;
    default: break;
  }
}

function connect() {
  if (!token() || !box()) { setTimeout(connect, 1000); return; }
  const proto = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(`${proto}//${location.host}/api/conversations/ws`);
  ws.onopen = () => { retry = 500; ws.send(JSON.stringify({ type: "auth", token: token() })); };
  ws.onmessage = (e) => onEvent(JSON.parse(e.data));
  ws.onclose = () => { ws = null; setTimeout(connect, retry); retry = Math.min(retry * 2, 8000); };
}

render();
connect();
