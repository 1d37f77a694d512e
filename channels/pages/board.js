// Service level per text channel on the wallboard (chat, SMS), from /api/channels/stats.
// The voice queues' service level is the queue table above; this adds the text channels.
import { lang, token } from "/static/common.js";

const NAMES = { ko: { chat: "채팅", sms: "문자" }, en: { chat: "Chat", sms: "SMS" } };

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  td.textContent = text;
  return td;
}

async function refresh() {
  const body = document.querySelector("[data-testid=channel-table] tbody");
  if (!body || !token()) return;
  const answer = await fetch("/api/channels/stats", { headers: { Authorization: `Bearer ${token()}` } });
  if (!answer.ok) return;
  const stats = await answer.json();
  const rows = Object.entries(stats).map(([channel, f]) => {
    const tr = document.createElement("tr");
    tr.dataset.channel = channel;
    const sl = f.service_level === null ? "–" : `${Math.round(f.service_level * 100)}%`;
    tr.append(cell((NAMES[lang()] || NAMES.ko)[channel] || channel), cell(String(f.waiting), "num"),
      cell(String(f.held), "num"), cell(sl, "num"), cell(String(f.answered), "num"), cell(String(f.offered), "num"));
    return tr;
  });
  body.replaceChildren(...rows);
}

refresh();
setInterval(() => { refresh().catch(() => {}); }, 3000);
