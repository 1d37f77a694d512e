// The knowledge panel of the consultant desktop (issue 16): cases for the call's IVR journey,
// a search box, the after-call disposition and note, and the caller's earlier notes.
// Live suggestions (agent assist) arrive over /ws as "suggestions" messages for the call on
// screen: the words the speech recognizer heard and the best cases for them.
// Invariants: everything comes from the knowledge API (/api/kb/..., /api/calls/{id}/...); the
// server decides who may read a history or write a note, a refusal is shown and changes nothing.

import { api, byTestId, describeError, el, fmtDateTime, lang, toast } from "./common.js";

const WORDS = {
  ko: { cases: "추천 상담 사례", search: "사례 검색", helped: "도움됨", note: "상담 메모",
        disposition: "처리 결과", save: "저장", saved: "메모를 저장했습니다.",
        history: "이전 상담 메모", none: "없음", live: "방금 대화의 추천 사례",
        heard: "인식된 말" },
  en: { cases: "Suggested cases", search: "Search cases", helped: "Helped", note: "Call note",
        disposition: "Disposition", save: "Save", saved: "Note saved.",
        history: "Earlier notes", none: "None", live: "Cases for what was just said",
        heard: "Heard" },
};
const w = (key) => (WORDS[lang()] || WORDS.ko)[key];
let current = null;

function renderCases(list, cases, testId = "kb-case") {
  list.replaceChildren();
  if (cases.length === 0) list.append(el("li", { text: w("none") }));
  for (const c of cases) {
    const helped = el("button", { type: "button", "data-testid": `${testId === "kb-case" ? "kb" : testId}-helped`, text: w("helped") });
    helped.addEventListener("click", async () => {
      try {
        await api("POST", `/api/kb/cases/${c.id}/helped`);
        helped.disabled = true;
      } catch (err) { toast(describeError(err), "error"); }
    });
    list.append(el("li", { "data-testid": testId, "data-case-id": String(c.id) },
      `${c.title} `, helped));
  }
}

async function loadDispositions() {
  const select = byTestId("kb-disposition");
  if (select.options.length > 0) return;
  const { codes } = await api("GET", "/api/kb/dispositions");
  for (const [code, labels] of Object.entries(codes)) {
    select.append(el("option", { value: code, label: labels[lang()] || labels.ko || code }));
  }
}

// The call log learns of the call and of who took it a moment after the desktop does: a
// refusal right at the screen pop is retried a few times (bounded), never forever.
async function fetchForCall(callId, what) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await api("GET", `/api/calls/${encodeURIComponent(callId)}/${what}`);
    } catch (err) {
      if (![403, 404].includes(err.status) || attempt >= 15 || current !== callId) throw err;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

async function loadHistory(callId) {
  const list = byTestId("kb-history");
  list.replaceChildren();
  try {
    const entries = await fetchForCall(callId, "history");
    if (current !== callId) return;
    for (const entry of entries) {
      for (const note of entry.notes) {
        list.append(el("li", { "data-testid": "kb-history-note" },
          `${fmtDateTime(entry.started_at)} · ${note.disposition} · ${note.text}`));
      }
    }
  } catch (err) {
    if (![403, 404].includes(err.status)) toast(describeError(err), "error");
  }
  if (list.children.length === 0) list.append(el("li", { text: w("none") }));
}

// A "suggestions" message from /ws: shown only for the call on screen (the server sends a
// consultant only their own calls' suggestions).
export function showSuggestions(data) {
  if (!data || data.call_id !== current) return;
  byTestId("kb-live-section").hidden = false;
  byTestId("kb-heard").textContent = `${w("heard")}: ${data.heard}`;
  renderCases(byTestId("kb-live"),
    data.cases.map((c) => ({ id: c.case_id, title: c.title })), "kb-live-case");
}

export async function showCall(callId) {
  byTestId("kb-panel").hidden = false;
  if (current === callId) return;
  current = callId;
  byTestId("kb-note").value = "";  // never carry one caller's note over to the next call
  // Hidden until the first suggestion for this call (only calls in the assist languages,
  // with a free transcription slot, get any).
  byTestId("kb-live-section").hidden = true;
  byTestId("kb-heard").textContent = "";
  byTestId("kb-live").replaceChildren();
  try {
    await loadDispositions();
    const found = await fetchForCall(callId, "cases");
    if (current === callId) renderCases(byTestId("kb-cases"), found.cases);
  } catch (err) {
    if (![403, 404].includes(err.status)) toast(describeError(err), "error");
  }
  await loadHistory(callId);
}

export function mountKbPanel() {
  byTestId("kb-title").textContent = w("cases");
  byTestId("kb-note-title").textContent = w("note");
  byTestId("kb-live-title").textContent = w("live");
  byTestId("kb-history-title").textContent = w("history");
  byTestId("kb-save").textContent = w("save");
  byTestId("kb-query").placeholder = w("search");
  byTestId("kb-search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = byTestId("kb-query").value.trim();
    if (!q) return;
    try {
      renderCases(byTestId("kb-cases"), await api("GET", `/api/kb/search?limit=5&q=${encodeURIComponent(q)}`));
    } catch (err) { toast(describeError(err), "error"); }
  });
  byTestId("kb-note-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    try {
      await api("PUT", `/api/calls/${encodeURIComponent(current)}/note`, {
        disposition: byTestId("kb-disposition").value, text: byTestId("kb-note").value,
      });
      toast(w("saved"));
      await loadHistory(current);
    } catch (err) { toast(describeError(err), "error"); }
  });
}
