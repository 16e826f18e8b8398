// The operator console (SPEC 2.11): queues, search, the order page, the
// after-sales review, the pick list and the attention list. Plain ES
// modules, no build step and no dependency: the browser runs this file as
// it is. Every button comes from the API's `actions`; every error the API
// answers is shown with its message.

const main = document.getElementById("main");
// Pages render one at a time; a navigation made while one renders replaces
// any that had not started yet.
let routing = Promise.resolve();
let generation = 0;
const errorBox = document.getElementById("error");
let config = { auth: "dev", api: "/api" };
let identity = JSON.parse(localStorage.getItem("console.identity") || "null");
let storefront = localStorage.getItem("console.storefront") || "all";

// ---------------------------------------------------------------- helpers

/** An element: h("td", {class: "money"}, "¥1.00", child...). Text is text, never HTML. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const money = (cents) => "¥" + (Number(cents || 0) / 100).toFixed(2);
const when = (t) => (t ? new Date(t).toLocaleString() : "");
const link = (hash, text) => h("a", { href: hash }, text);
const orderLink = (id) => link(`#/order/${id}`, id);

function showError(e) {
  errorBox.hidden = false;
  errorBox.textContent = e.message + (e.code ? ` (${e.code})` : "");
}
function clearError() {
  errorBox.hidden = true;
  errorBox.textContent = "";
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API as the signed-in person; an error answer throws its message. */
async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (config.auth === "dev" && identity) {
    headers["x-user-id"] = identity.user;
    if (identity.roles.length) headers["x-user-role"] = identity.roles.join(",");
    if (identity.warehouse) headers["x-warehouse"] = identity.warehouse;
    if (identity.storefronts) headers["x-storefronts"] = identity.storefronts;
  } else if (identity && identity.token) {
    headers.authorization = `Bearer ${identity.token}`;
  }
  if (body !== undefined) headers["content-type"] = "application/json";
  let resp;
  try {
    resp = await fetch(config.api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, "network", `the API did not answer: ${e.message}`);
  }
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!resp.ok) {
    const err = (data && data.error) || {};
    throw new ApiError(
      resp.status,
      err.code || String(resp.status),
      err.message || (data && data.message) || text || resp.statusText,
    );
  }
  return data;
}

/** `?storefront=` for the staff lists. */
const sf = () => (storefront && storefront !== "all" ? `storefront=${encodeURIComponent(storefront)}` : "");
const q = (...parts) => {
  const s = parts.filter(Boolean).join("&");
  return s ? `?${s}` : "";
};

/** Runs `fn`, shows its error (never lost), then re-renders the page. */
async function act(fn) {
  clearError();
  try {
    await fn();
    await route();
  } catch (e) {
    showError(e);
  }
}

function field(name, placeholder, attrs = {}) {
  return h("input", { name, placeholder, "aria-label": placeholder, ...attrs });
}
function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

const can = (role) => identity && identity.roles.includes(role);
const isStaff = () => can("admin") || can("support");

// ---------------------------------------------------------------- sign in

function signIn() {
  if (config.auth !== "dev") {
    // Deployed: the Cognito user pool's hosted sign-in (implicit grant).
    const c = config.cognito;
    const back = encodeURIComponent(location.origin + location.pathname);
    location.href = `${c.domain}/login?client_id=${c.client_id}&response_type=token&scope=openid&redirect_uri=${back}`;
    return;
  }
  main.replaceChildren(
    h("h1", {}, "Sign in (local)"),
    h(
      "form",
      {
        class: "signin",
        id: "signin",
        onsubmit: (ev) => {
          ev.preventDefault();
          const f = new FormData(ev.target);
          identity = {
            user: f.get("user").trim(),
            roles: f.getAll("role"),
            warehouse: f.get("warehouse").trim(),
            storefronts: f.get("storefronts").trim(),
          };
          localStorage.setItem("console.identity", JSON.stringify(identity));
          location.hash = identity.roles.includes("warehouse") && !identity.roles.includes("admin") ? "#/pick" : "#/";
          route();
        },
      },
      h("label", {}, "User id ", field("user", "user id", { required: true, value: "ops-1" })),
      h(
        "fieldset",
        {},
        h("legend", {}, "Roles"),
        ...["admin", "support", "warehouse"].map((r) =>
          h("label", {}, h("input", { type: "checkbox", name: "role", value: r }), ` ${r} `),
        ),
      ),
      h("label", {}, "Warehouse ", field("warehouse", "warehouse id (warehouse users)")),
      h("label", {}, "Storefronts ", field("storefronts", "limited to (comma-separated; empty: all)")),
      h("button", { type: "submit" }, "Sign in"),
    ),
    h("p", { class: "muted" }, "Locally the API trusts these as the x-user-id, x-user-role, x-warehouse and x-storefronts headers (AUTH_MODE=dev-headers)."),
  );
}

// ---------------------------------------------------------------- chrome

async function chrome() {
  const nav = document.getElementById("nav");
  const who = document.getElementById("who");
  const here = location.hash || "#/";
  const items = [];
  if (isStaff() || can("warehouse")) items.push(["#/", "Summary"]);
  if (can("admin") || can("warehouse")) items.push(["#/pick", "Pick list"]);
  if (isStaff()) {
    items.push(["#/overdue", "Overdue"], ["#/after-sales", "After-sales"], ["#/attention", "Attention"], ["#/search", "Orders"]);
  }
  nav.replaceChildren(
    ...items.map(([href, text]) => h("a", { href, class: here.split("?")[0] === href ? "current" : null }, text)),
  );
  const parts = [identity.user, `(${identity.roles.join(", ") || "no role"}${identity.warehouse ? " " + identity.warehouse : ""})`];
  const out = h("button", { class: "secondary", onclick: () => { localStorage.removeItem("console.identity"); identity = null; location.hash = "#/"; route(); } }, "Sign out");
  who.replaceChildren(parts.join(" "), " ", await storefrontSwitch(), " ", out);
}

/** Staff serving more than one storefront choose which one the lists show. */
async function storefrontSwitch() {
  if (!isStaff()) return "";
  let ids = [];
  try {
    ids = ((await api("GET", "/storefronts")).storefronts || []).map((s) => s.id);
  } catch {
    return "";
  }
  if (!ids.includes("default") && !(identity.storefronts || "")) ids.unshift("default");
  if (ids.length < 2) return "";
  const select = h(
    "select",
    {
      id: "storefront",
      "aria-label": "storefront",
      onchange: (ev) => {
        storefront = ev.target.value;
        localStorage.setItem("console.storefront", storefront);
        route();
      },
    },
    h("option", { value: "all" }, "all storefronts"),
    ...ids.map((id) => h("option", { value: id }, id)),
  );
  select.value = ids.includes(storefront) ? storefront : "all";
  return h("label", {}, "Storefront", select);
}

// ---------------------------------------------------------------- pages

async function summary() {
  const s = await api("GET", `/staff/summary${q(sf())}`);
  const card = (href, label, n) => h("div", { class: "card" }, h("a", { href }, h("div", { class: "n" }, n), label));
  const cards = [];
  for (const [wh, n] of Object.entries(s.to_ship || {})) cards.push(card(`#/pick?warehouse=${encodeURIComponent(wh)}`, `to ship from ${wh}`, n));
  if (s.overdue !== undefined) cards.push(card("#/overdue", "overdue at suppliers", s.overdue));
  for (const [st, n] of Object.entries(s.after_sales || {})) cards.push(card(`#/after-sales?status=${st}`, `after-sales ${st.replace("_", " ")}`, n));
  if (s.attention !== undefined) cards.push(card("#/attention", "need attention", s.attention));
  main.replaceChildren(h("h1", {}, "Work waiting"), h("div", { class: "cards", id: "summary" }, cards));
}

function table(id, head, rows) {
  if (!rows.length) return h("p", { class: "muted", id }, "Nothing here.");
  return h(
    "table",
    { id },
    h("thead", {}, h("tr", {}, head.map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((cell, i) => h("td", { "data-label": head[i] }, cell))))),
  );
}

/** A paginated list: `load(cursor)` answers `{items, next_cursor}`. */
async function paged(title, load, render) {
  let cursor = null;
  const body = h("div");
  const more = h("button", { class: "secondary", hidden: true, onclick: () => next().catch(showError) }, "More");
  async function next() {
    const page = await load(cursor);
    body.append(render(page.items));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }
  main.replaceChildren(h("h1", {}, title), body, more);
  await next();
}

function params() {
  return new URLSearchParams((location.hash.split("?")[1] || ""));
}

async function pickList() {
  let warehouse = params().get("warehouse") || (can("admin") ? "" : identity.warehouse);
  const picker = h(
    "form",
    { class: "inline", onsubmit: (ev) => { ev.preventDefault(); location.hash = `#/pick?warehouse=${encodeURIComponent(values(ev.target).warehouse)}`; } },
    field("warehouse", "warehouse", { value: warehouse || "" }),
    h("button", { type: "submit", class: "secondary" }, "Show"),
  );
  await paged(
    `Pick list${warehouse ? " — " + warehouse : ""}`,
    async (cursor) => {
      const p = await api("GET", `/staff/packages${q("queue=to_ship", warehouse && `warehouse=${encodeURIComponent(warehouse)}`, sf(), cursor && `cursor=${encodeURIComponent(cursor)}`)}`);
      return { items: p.packages, next_cursor: p.next_cursor };
    },
    (items) =>
      table(
        "pick-list",
        ["Package", "Lines", "Ship to", "Waiting since", "Ship"],
        items.map((e) => [
          h("div", {}, e.package_id, h("div", { class: "muted" }, isStaff() ? orderLink(e.order_id) : e.order_id)),
          e.lines.map((l) => h("div", {}, `${l.qty} × ${l.name || l.sku} (${l.sku})`)),
          e.address ? `${e.address.name}, ${e.address.phone}, ${e.address.line1}, ${e.address.city} ${e.address.postcode}` : "",
          when(e.since),
          shipForm(e.package_id),
        ]),
      ),
  );
  main.insertBefore(picker, main.children[1]);
}

function shipForm(packageId) {
  return h(
    "form",
    {
      class: "inline ship",
      "data-package": packageId,
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = values(ev.target);
        act(() => api("POST", `/packages/${packageId}/ship`, { carrier: v.carrier, tracking_no: v.tracking_no }));
      },
    },
    field("carrier", "carrier", { size: 6 }),
    field("tracking_no", "tracking no", { size: 12 }),
    h("button", { type: "submit" }, "Ship"),
  );
}

async function overdue() {
  await paged(
    "Overdue at suppliers",
    async (cursor) => {
      const p = await api("GET", `/staff/packages${q("queue=overdue", sf(), cursor && `cursor=${encodeURIComponent(cursor)}`)}`);
      return { items: p.packages, next_cursor: p.next_cursor };
    },
    (items) =>
      table("overdue", ["Package", "Order", "Source", "Handed over"], items.map((e) => [e.package_id, orderLink(e.order_id), sourceText(e.source), when(e.since)])),
  );
}

function sourceText(s) {
  if (!s) return "";
  if (s.kind === "self") return `warehouse ${s.warehouse}`;
  if (s.kind === "dropship") return `supplier ${s.supplier}`;
  return s.kind;
}

async function afterSales() {
  const status = params().get("status") || "";
  const tabs = h(
    "p",
    {},
    ["", "requested", "approved", "return_shipped"].map((s) => [link(`#/after-sales${s ? "?status=" + s : ""}`, s || "all"), " "]),
  );
  await paged(
    `After-sales${status ? " — " + status.replace("_", " ") : ""}`,
    async (cursor) => {
      const p = await api("GET", `/staff/after-sales${q(status && `status=${status}`, sf(), cursor && `cursor=${encodeURIComponent(cursor)}`)}`);
      return { items: p.cases, next_cursor: p.next_cursor };
    },
    (items) =>
      table("cases", ["Case", "Status", "Kind", "Order", "Since"], items.map((e) => [link(`#/case/${e.case_id}`, e.case_id), h("span", { class: "pill" }, e.scope), e.kind, orderLink(e.order_id), when(e.since)])),
  );
  main.insertBefore(tabs, main.children[1]);
}

async function attention() {
  await paged(
    "Needs attention",
    async (cursor) => {
      const p = await api("GET", `/staff/attention${q(sf(), cursor && `cursor=${encodeURIComponent(cursor)}`)}`);
      return { items: p.items, next_cursor: p.next_cursor };
    },
    (items) =>
      table(
        "attention",
        ["Item", "Order", "Since", "What happened", "End it"],
        items.map((e) => [
          h("div", {}, e.kind, h("div", { class: "muted" }, e.subject)),
          orderLink(e.order_id),
          when(e.since),
          e.cause || "",
          h("div", {}, attentionActions(e)),
        ]),
      ),
  );
}

// How an attention item ends: its package's resolve, an acknowledgement, or
// (a failed refund) the refund's retry / offline record on the order page.
function attentionActions(e) {
  const actions = e.actions || [];
  if (actions.includes("retry_refund")) {
    return [link(`#/order/${e.order_id}`, "Retry the refund or record it paid offline")];
  }
  return actions.map((a) => (a === "resolve" ? resolveForm(e.package_id) : acknowledgeForm(e.subject)));
}

function resolveForm(packageId) {
  return h(
    "form",
    {
      class: "inline resolve",
      "data-package": packageId,
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = values(ev.target);
        act(() => api("POST", `/packages/${packageId}/resolve`, { outcome: v.outcome, note: v.note }));
      },
    },
    h(
      "select",
      { name: "outcome", "aria-label": "outcome" },
      ["intercepted", "shipped", "retry_forward"].map((o) => h("option", { value: o }, o.replace("_", " "))),
    ),
    field("note", "note"),
    h("button", { type: "submit" }, `Resolve ${packageId}`),
  );
}

function acknowledgeForm(itemId) {
  return h(
    "form",
    {
      class: "inline acknowledge",
      "data-item": itemId,
      onsubmit: (ev) => {
        ev.preventDefault();
        act(() => api("POST", `/staff/attention/${itemId}/acknowledge`, { note: values(ev.target).note }));
      },
    },
    field("note", "note"),
    h("button", { type: "submit" }, "Acknowledge"),
  );
}

async function search() {
  const p = params();
  const form = h(
    "form",
    {
      class: "inline",
      id: "search",
      onsubmit: (ev) => {
        ev.preventDefault();
        const v = values(ev.target);
        const qs = new URLSearchParams();
        for (const k of ["status", "user_id"]) if (v[k]) qs.set(k, v[k]);
        for (const k of ["from", "to"]) if (v[k]) qs.set(k, new Date(v[k]).toISOString());
        location.hash = `#/search?${qs}`;
      },
    },
    h(
      "select",
      { name: "status", "aria-label": "status" },
      h("option", { value: "" }, "any status (give a user)"),
      ["pending_payment", "awaiting_shipment", "partially_shipped", "shipped", "completed", "cancel_requested", "cancelled", "closed"].map((s) =>
        h("option", { value: s, selected: p.get("status") === s }, s.replace("_", " ")),
      ),
    ),
    field("user_id", "user id", { value: p.get("user_id") || "" }),
    h("label", {}, "from ", h("input", { type: "datetime-local", name: "from" })),
    h("label", {}, "to ", h("input", { type: "datetime-local", name: "to" })),
    h("button", { type: "submit" }, "Search"),
  );
  if (!p.get("status") && !p.get("user_id")) {
    main.replaceChildren(h("h1", {}, "Orders"), form);
    return;
  }
  const filters = ["status", "user_id", "from", "to"].filter((k) => p.get(k)).map((k) => `${k}=${encodeURIComponent(p.get(k))}`);
  await paged(
    "Orders",
    async (cursor) => {
      const r = await api("GET", `/staff/orders${q(...filters, sf(), cursor && `cursor=${encodeURIComponent(cursor)}`)}`);
      return { items: r.orders, next_cursor: r.next_cursor };
    },
    (orders) =>
      table("orders", ["Order", "User", "Status", "Total", "Placed"], orders.map((o) => [orderLink(o.id), o.user_id, o.status, money(o.total_cents), when(o.created_at)])),
  );
  main.insertBefore(form, main.children[1]);
}

// The forms of the staff actions an order answer lists.
function actionForm(order, a) {
  const post = (path, body) => () => act(() => api("POST", path, body()));
  const form = (label, fields, submit) =>
    h(
      "form",
      { class: "inline action", "data-action": a.action, onsubmit: (ev) => { ev.preventDefault(); submit(values(ev.target))(); } },
      h("strong", {}, label),
      ...fields,
      h("button", { type: "submit" }, label.split(" ")[0]),
    );
  switch (a.action) {
    case "ship":
      return form(`Ship ${a.package_id}`, [field("carrier", "carrier"), field("tracking_no", "tracking no")], (v) => post(`/packages/${a.package_id}/ship`, () => v));
    case "cancel":
      return form("Cancel the order", [field("reason", "reason")], (v) => post(`/orders/${order.id}/cancel`, () => (v.reason ? { reason: v.reason } : {})));
    case "cancel_package":
      return form(`Cancel package ${a.package_id}`, [field("reason", "reason")], (v) => post(`/orders/${order.id}/cancel`, () => ({ package_id: a.package_id, ...(v.reason ? { reason: v.reason } : {}) })));
    case "resolve":
      return resolveForm(a.package_id);
    case "confirm_receipt":
      return form(`Confirm receipt of ${a.package_id}`, [], () => post(`/packages/${a.package_id}/confirm-receipt`, () => ({})));
    case "review":
      return form(
        `Review case ${a.case_id}`,
        [h("select", { name: "decision", "aria-label": "decision" }, h("option", { value: "approve" }, "approve"), h("option", { value: "reject" }, "reject")), field("note", "note")],
        (v) => post(`/after-sales/${a.case_id}/review`, () => ({ decision: v.decision, note: v.note })),
      );
    case "complete":
      return form(`Complete case ${a.case_id}`, [field("note", "note")], (v) => post(`/after-sales/${a.case_id}/complete`, () => ({ note: v.note })));
    case "acknowledge":
      return acknowledgeForm(a.item_id);
    case "retry_refund":
      return form(`Retry refund ${a.refund_id}`, [], () => post(`/refunds/${a.refund_id}/retry`, () => ({})));
    case "record_refund_offline":
      return form(`Record refund ${a.refund_id} paid offline`, [field("note", "how it was paid")], (v) => post(`/refunds/${a.refund_id}/record-offline`, () => ({ note: v.note })));
    case "note":
      return form("Note on the timeline", [field("text", "note", { size: 40 })], (v) => post(`/orders/${order.id}/notes`, () => ({ text: v.text })));
    default:
      return h("div", { class: "muted" }, `${a.action} (the buyer's)`);
  }
}

async function orderPage(id) {
  const o = await api("GET", `/orders/${encodeURIComponent(id)}`);
  const refunded = (o.refunds || []).reduce((n, r) => n + Number(r.amount_cents), 0);
  const paid = o.paid_at ? Number(o.total_cents) : 0;
  main.replaceChildren(
    h("h1", {}, `Order ${o.id} `, h("span", { class: "pill", id: "order-status" }, o.status)),
    h("p", { class: "muted" }, `${o.user_id} · ${o.storefront} · placed ${when(o.created_at)}${o.address ? ` · ${o.address.name}, ${o.address.city}` : ""}`),
    h("h2", {}, "Packages"),
    table(
      "packages",
      ["Package", "Source", "Status", "Lines", "Goods", "Freight", "Tracking"],
      o.packages.map((p) => [
        p.id,
        sourceText(p.source),
        h("span", { class: "pill", "data-package-status": p.id }, p.status),
        p.lines.map((l) => h("div", {}, `${l.qty} × ${l.sku}`)),
        money(p.goods_cents),
        money(p.freight_cents),
        [p.carrier, p.tracking_no].filter(Boolean).join(" "),
      ]),
    ),
    h("h2", {}, "Money"),
    table(
      "money",
      ["Item", "Amount"],
      [
        ["Goods", money(o.goods_cents)],
        ["Freight", money(o.freight_cents)],
        ["Total", money(o.total_cents)],
        ["Paid", o.paid_at ? `${money(paid)} on ${when(o.paid_at)}` : "not paid"],
        ...(o.refunds || []).map((r) => [`Refund ${r.id} (${r.reason})`, h("span", { class: "refund" }, `−${money(r.amount_cents)} `, h("span", { class: "pill" }, r.status))]),
        ["Net", money(paid - refunded)],
      ],
    ),
    h("h2", {}, "What you can do"),
    o.actions.length ? h("div", { class: "actions", id: "actions" }, o.actions.map((a) => actionForm(o, a))) : h("p", { class: "muted", id: "actions" }, "Nothing right now."),
    ...(o.cases && o.cases.length ? [h("h2", {}, "After-sales"), table("order-cases", ["Case", "Package", "Kind", "Status"], o.cases.map((c) => [link(`#/case/${c.id}`, c.id), c.package_id, c.kind, c.status]))] : []),
    h("h2", {}, "Timeline"),
    table("timeline", ["When", "What", "Who", "Detail"], o.timeline.map((t) => [when(t.at), t.event.replaceAll("_", " "), t.actor, [t.package_id, t.case_id, t.cause].filter(Boolean).join(" · ")])),
  );
}

async function casePage(id) {
  const c = await api("GET", `/after-sales/${encodeURIComponent(id)}`);
  const order = await api("GET", `/orders/${c.order_id}`);
  const mine = order.actions.filter((a) => a.case_id === c.id);
  const isImage = (u) => /^https?:/.test(u) && /\.(png|jpe?g|webp|gif)(\?|$)/i.test(u);
  main.replaceChildren(
    h("h1", {}, `Case ${c.id} `, h("span", { class: "pill", id: "case-status" }, c.status)),
    h("p", {}, `${c.kind.replace("_", " ")} on package ${c.package_id} of `, orderLink(c.order_id), ` · ${c.reason}`),
    table("case-lines", ["SKU", "Qty"], c.lines.map((l) => [l.sku, l.qty])),
    h("h2", {}, "Evidence"),
    h("div", { class: "evidence", id: "evidence" }, c.evidence.map((u) => (isImage(u) ? h("a", { href: u, target: "_blank" }, h("img", { src: u, alt: "evidence" })) : h("div", {}, /^https?:/.test(u) ? h("a", { href: u, target: "_blank" }, u) : u)))),
    h("h2", {}, "What you can do"),
    mine.length ? h("div", { class: "actions", id: "actions" }, mine.map((a) => actionForm(order, a))) : h("p", { class: "muted", id: "actions" }, "Nothing right now."),
    h("h2", {}, "History"),
    table("history", ["When", "Status", "Who", "Note"], c.history.map((s) => [when(s.at), s.status, s.actor, s.note || ""])),
  );
}

// ---------------------------------------------------------------- routing

function route() {
  const mine = ++generation;
  routing = routing.then(() => (mine === generation ? render() : undefined)).catch(showError);
  return routing;
}

async function render() {
  if (!identity) return signIn();
  const [path] = (location.hash.slice(1) || "/").split("?");
  const parts = path.split("/").filter(Boolean);
  try {
    await chrome();
    if (parts[0] === "order" && parts[1]) return await orderPage(parts[1]);
    if (parts[0] === "case" && parts[1]) return await casePage(parts[1]);
    const page = { pick: pickList, overdue, "after-sales": afterSales, attention, search }[parts[0] || ""];
    if (page) return await page();
    if (!isStaff() && can("warehouse")) return await pickList();
    return await summary();
  } catch (e) {
    showError(e);
    if (!main.querySelector("h1")) main.replaceChildren(h("h1", {}, "Could not load this page"));
  }
}

window.addEventListener("hashchange", () => {
  clearError();
  route();
});

(async () => {
  try {
    config = await (await fetch("config.json")).json();
  } catch {
    // Served without a config: the local shape.
  }
  // Deployed: the hosted sign-in comes back with the token in the fragment.
  const back = new URLSearchParams(location.hash.replace(/^#/, ""));
  if (back.get("id_token")) {
    const claims = JSON.parse(atob(back.get("id_token").split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    const groups = claims["cognito:groups"] || [];
    identity = {
      user: claims.sub,
      roles: groups.map((g) => (g === "staff" ? "admin" : g)),
      warehouse: claims["custom:warehouse"] || "",
      storefronts: claims["custom:storefronts"] || "",
      token: back.get("id_token"),
    };
    localStorage.setItem("console.identity", JSON.stringify(identity));
    history.replaceState(null, "", location.pathname + "#/");
  }
  route();
})();
