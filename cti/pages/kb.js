// The knowledge editor (issue 16): knowledge managers write cases, send them to review, and
// publish or return them; every save is a new version, the published text changes only when a
// reviewed version is published (by someone other than its author: the server enforces it).

import { api, applyI18n, byTestId, describeError, el, ensureSignedIn, toast, wireHeader } from "./common.js";

const S = { me: null, caseId: null, version: null };

function formBody(form) {
  const data = Object.fromEntries(new FormData(form).entries());
  const body = {
    language: data.language, title: data.title, question: data.question, answer: data.answer,
    service: data.service, department: data.department,
    tags: (data.tags || "").split("|").map((x) => x.trim()).filter(Boolean),
  };
  if (data.valid_from) body.valid_from = data.valid_from;
  if (data.valid_until) body.valid_until = data.valid_until;
  return body;
}

async function loadQueues() {
  for (const state of ["review", "draft"]) {
    const list = byTestId(`queue-${state}`);
    list.replaceChildren();
    for (const item of await api("GET", `/api/kb/queue?state=${state}`)) {
      const open = el("button", { type: "button", "data-testid": "queue-item", text: `#${item.id} v${item.version} ${item.title} (${item.author})` });
      open.addEventListener("click", () => openCase(item.id));
      list.append(el("li", {}, open));
    }
  }
}

async function openCase(caseId) {
  const data = await api("GET", `/api/kb/cases/${caseId}`);
  const latest = data.versions[data.versions.length - 1];
  S.caseId = caseId;
  S.version = latest.version;
  const form = byTestId("case-form");
  form.elements.id.value = String(caseId);
  for (const name of ["language", "title", "question", "answer", "service", "department", "valid_from", "valid_until"]) {
    form.elements[name].value = latest.content[name] || "";
  }
  form.elements.tags.value = latest.content.tags.join("|");
  byTestId("form-title").textContent = `사례 #${caseId} (Case #${caseId})`;
  const versions = byTestId("versions");
  versions.replaceChildren();
  for (const v of data.versions) {
    versions.append(el("li", { "data-testid": "version" },
      `v${v.version} · ${v.state} · ${v.author}${v.reviewer ? ` → ${v.reviewer}` : ""}${v.comment ? ` · ${v.comment}` : ""}`));
  }
  byTestId("case-view").hidden = false;
}

async function save(event) {
  event.preventDefault();
  const form = byTestId("case-form");
  try {
    const id = form.elements.id.value;
    const done = id
      ? await api("PUT", `/api/kb/cases/${id}`, formBody(form))
      : await api("POST", "/api/kb/cases", formBody(form));
    await openCase(done.id);
    await loadQueues();
  } catch (err) { toast(describeError(err), "error"); }
}

async function act(action) {
  if (!S.caseId) return;
  try {
    await api("POST", `/api/kb/cases/${S.caseId}/versions/${S.version}/${action}`,
      { comment: byTestId("review-comment").value || null });
    await openCase(S.caseId);
    await loadQueues();
  } catch (err) { toast(describeError(err), "error"); }
}

async function main() {
  applyI18n();
  wireHeader(() => applyI18n());
  S.me = await ensureSignedIn();
  byTestId("sign-out").hidden = false;
  byTestId("who").textContent = `${S.me.user_id} (${S.me.role})`;
  if (!["supervisor", "admin"].includes(S.me.role)) {
    byTestId("not-manager").hidden = false;
    return;
  }
  byTestId("editor").hidden = false;
  byTestId("case-form").addEventListener("submit", save);
  for (const action of ["submit", "return", "publish"]) {
    byTestId(`btn-${action}`).addEventListener("click", () => act(action));
  }
  await loadQueues();
}

main().catch((err) => toast(describeError(err), "error"));
