// A small reader for /openapi.json: operations grouped by tag, with roles and body schemas.
import { applyI18n, el, t, wireHeader } from "./common.js";

function schemaName(schema) {
  const ref = schema?.$ref || schema?.items?.$ref;
  if (!ref) return schema?.type || "";
  const name = ref.split("/").pop();
  return schema.items ? `${name}[]` : name;
}

function operationBlock(path, method, op) {
  const roles = op["x-roles"];
  const who = roles ? [...roles.any, ...roles.own.map((r) => `${r} (${roles.ownership})`)].join(", ")
    : t("docs.public");
  const body = op.requestBody?.content?.["application/json"]?.schema;
  const ok = op.responses?.["200"]?.content;
  const result = ok ? Object.values(ok)[0]?.schema : null;
  return el("div", { class: "op", "data-testid": "docs-operation", "data-path": path, "data-method": method },
    el("h3", {}, el("span", { class: `method ${method}`, text: method.toUpperCase() }), el("code", { text: path })),
    el("div", { text: op.summary }),
    el("div", { class: "hint", text: `${t("docs.roles")}: ${who}` }),
    body ? el("div", { class: "hint", text: `${t("docs.body")}: ${schemaName(body)}` }) : null,
    result ? el("div", { class: "hint", text: `→ ${schemaName(result)}` }) : null,
    el("div", { class: "hint", text: Object.keys(op.responses).join(" · ") }));
}

async function render() {
  applyI18n();
  const doc = await (await fetch("/openapi.json")).json();
  document.querySelector('[data-testid="docs-version"]').textContent = `${doc.info.title} ${doc.info.version}`;
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = op.tags?.[0] || "";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push(operationBlock(path, method, op));
    }
  }
  const root = document.querySelector('[data-testid="docs-operations"]');
  root.replaceChildren(...[...byTag].map(([tag, blocks]) =>
    el("section", { class: "panel" }, el("h2", { text: tag }), ...blocks)));
}

wireHeader(render);
render();
