// The officials' page: sign in, see the department's queue, accept, note, resolve.
// Everything goes through the same API as any client (/api/login, /api/care/...).
"use strict";
(function () {
  let token = "";
  let current = "";
  const $ = (id) => document.getElementById(id);

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token) headers.Authorization = "Bearer " + token;
    const response = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error((data && data.error && data.error.message) || response.statusText);
    return data;
  }

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  async function loadQueue() {
    const tickets = await api("GET", "/api/care/tickets");
    const body = $("queue").querySelector("tbody");
    body.replaceChildren();
    for (const t of tickets) {
      const row = document.createElement("tr");
      row.dataset.ticket = t.id;
      if (t.overdue) row.className = "overdue";
      cell(row, t.id);
      cell(row, t.category);
      cell(row, t.district);
      cell(row, t.address);
      cell(row, t.status);
      cell(row, new Date(t.due_at).toLocaleString());
      row.addEventListener("click", () => show(t.id));
      body.appendChild(row);
    }
  }

  async function show(id) {
    current = id;
    const data = await api("GET", "/api/care/tickets/" + encodeURIComponent(id));
    const t = data.ticket;
    $("detail").hidden = false;
    $("detail-title").textContent = t.id + " · " + t.status;
    $("detail-description").textContent = t.description;
    const list = $("timeline");
    list.replaceChildren();
    for (const e of data.timeline) {
      const li = document.createElement("li");
      li.dataset.kind = e.kind;
      li.textContent = e.at + " " + e.kind + " " + e.actor + (e.text ? ": " + e.text : "")
        + (e.call_id ? " [call " + e.call_id + "]" : "");
      list.appendChild(li);
    }
  }

  async function act(path, body) {
    $("action-error").textContent = "";
    try {
      await api("POST", "/api/care/tickets/" + encodeURIComponent(current) + path, body);
      $("note").value = "";
      await loadQueue();
      await show(current);
    } catch (err) {
      $("action-error").textContent = err.message;
    }
  }

  $("login").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("login-error").textContent = "";
    try {
      const issued = await api("POST", "/api/login", { user_id: $("user").value, password: $("password").value });
      token = issued.token;
      $("who").textContent = issued.user_id;
      $("login").hidden = true;
      $("work").hidden = false;
      await loadQueue();
    } catch (err) {
      $("login-error").textContent = err.message;
    }
  });
  $("refresh").addEventListener("click", loadQueue);
  $("accept").addEventListener("click", () => act("/accept"));
  $("add-note").addEventListener("click", () => act("/notes", { text: $("note").value }));
  $("resolve").addEventListener("click", () => act("/resolve", { text: $("note").value }));
})();
