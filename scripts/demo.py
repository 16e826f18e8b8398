"""The end-to-end demo of the order system, driven by scripts/demo.

Plays a buyer, the payment provider, the suppliers and staff against a running
local stack (scripts/dev) and checks every answer against SPEC.md. Python 3
standard library only. Environment: API (base URL), PAYMENT_WEBHOOK_SECRET,
SUPPLIER_WEBHOOK_SECRETS, FORWARD_TIMEOUT_SECS, NO_COLOR, and the stack's
freight settings FREIGHT_CENTS, FREE_SHIPPING_OVER_CENTS, FREIGHT_POLICY
(SPEC defaults when unset): every amount the demo expects is computed here
from the catalog's prices and these settings, never taken from an answer.

Any unexpected answer stops the demo with the exact request and answer and
exit status 1; nothing is worked around.
"""

import datetime
import hashlib
import hmac
import json
import os
import secrets
import sys
import time
import urllib.error
import urllib.request

API = os.environ.get("API") or "http://127.0.0.1:%s" % os.environ.get("API_PORT", "9000")
API = API.rstrip("/")
PAYMENT_SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET") or "dev-payment-secret"
# Each supplier's own key (a JSON object); scripts/dev's default: dev-supplier-secret-<id>.
SUPPLIER_SECRETS = json.loads(os.environ.get("SUPPLIER_WEBHOOK_SECRETS") or "{}")


def supplier_secret(supplier):
    return SUPPLIER_SECRETS.get(supplier) or "dev-supplier-secret-" + supplier


FREIGHT = int(os.environ.get("FREIGHT_CENTS") or 1000)
FREE_OVER = int(os.environ.get("FREE_SHIPPING_OVER_CENTS") or 9900)
POLICY = os.environ.get("FREIGHT_POLICY") or "single"
FORWARD_TIMEOUT = float(os.environ.get("FORWARD_TIMEOUT_SECS") or 60)
HTTP_TIMEOUT = 180  # a function's first call under cargo lambda watch starts it

STAFF = {"x-user-id": "staff-1", "x-user-role": "staff"}
# A cart under the free-shipping threshold, so it pays freight.
CATALOG = {"MUG-200": 2, "SOCKS-800": 1, "JD-CABLE-600": 1}
SELF_SKU = "MUG-200"
KINDS = {"self": ({"kind": "self", "warehouse": "WH-2"}, "MUG-200"),
         "dropship": ({"kind": "dropship", "supplier": "S-1"}, "SOCKS-800"),
         "jd": ({"kind": "jd"}, "JD-CABLE-600")}


def expected_money(prices, ids):
    """Goods and freight per package kind, from catalog prices and the freight
    settings (SPEC 2.2): freight unless the goods reach the threshold, all of
    it on the largest package (ties: the lower package id) under `single`, in
    whole cents by largest remainder under `apportioned`."""
    goods = {k: prices[sku]["price_cents"] * CATALOG[sku] for k, (_, sku) in KINDS.items()}
    total_goods = sum(goods.values())
    freight = 0 if total_goods >= FREE_OVER else FREIGHT
    # The packages in id order (ties go to the lower id).
    order_of = sorted(KINDS, key=lambda k: ids[k])
    parts = {k: 0 for k in order_of}
    if freight and POLICY == "apportioned":
        exact = {k: freight * goods[k] for k in order_of}
        for k in order_of:
            parts[k] = exact[k] // total_goods
        left = freight - sum(parts.values())
        by_remainder = sorted(order_of, key=lambda k: (-(exact[k] % total_goods), order_of.index(k)))
        for k in by_remainder[:left]:
            parts[k] += 1
    elif freight:
        largest = max(order_of, key=lambda k: (goods[k], -order_of.index(k)))
        parts[largest] = freight
    return goods, freight, parts
ADDRESS = {"name": "Demo Buyer", "phone": "13800000000", "line1": "1 Demo Road",
           "city": "Shanghai", "postcode": "200000"}

# ------------------------------------------------------------------ output --

COLOUR = sys.stdout.isatty() and "NO_COLOR" not in os.environ
ERR_COLOUR = sys.stderr.isatty() and "NO_COLOR" not in os.environ


def paint(code, text, on=None):
    return "\033[%sm%s\033[0m" % (code, text) if (COLOUR if on is None else on) else text


def bold(t): return paint("1", t)
def dim(t): return paint("2", t)
def green(t): return paint("32", t)
def red(t): return paint("31", t)
def yellow(t): return paint("33", t)
def cyan(t): return paint("36", t)


def out(line=""):
    print(line, flush=True)


def step(title):
    out()
    out(bold(cyan("== " + title)))


def ok(what):
    out("   %s %s" % (green("ok"), what))


def yuan(cents):
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return "%s%d.%02d" % (sign, cents // 100, cents % 100)


def table(headers, rows, right=()):
    """Prints rows as aligned columns; `right` are column indexes to right-align."""
    rows = [["" if c is None else str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in rows:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))

    def fmt(cells, paint_fn=None):
        parts = []
        for i, c in enumerate(cells):
            c = c.rjust(widths[i]) if i in right else c.ljust(widths[i])
            parts.append(paint_fn(c) if paint_fn else c)
        return "   " + "  ".join(parts).rstrip()

    out(fmt(headers, bold))
    out("   " + dim("  ".join("-" * w for w in widths)))
    for r in rows:
        out(fmt(r))


# ---------------------------------------------------------------- failures --


class DemoFailure(Exception):
    pass


class Exchange:
    """One HTTP request and its answer, kept to be shown on failure."""

    def __init__(self, method, url, headers, body, status, answer_text):
        self.method, self.url, self.headers, self.body = method, url, headers, body
        self.status, self.answer_text = status, answer_text
        try:
            self.json = json.loads(answer_text) if answer_text else None
        except ValueError:
            self.json = None

    def describe(self):
        lines = ["request:", "  %s %s" % (self.method, self.url)]
        for k, v in self.headers.items():
            lines.append("  %s: %s" % (k, v))
        if self.body is not None:
            lines.append("  " + self.body.decode("utf-8", "replace"))
        lines.append("answer:")
        lines.append("  HTTP %s" % self.status)
        lines.append("  " + (self.answer_text if self.answer_text else "(empty body)"))
        return "\n".join(lines)


def fail(message, exchange=None):
    text = message
    if exchange is not None:
        text += "\n" + exchange.describe()
    raise DemoFailure(text)


def check(cond, message, exchange=None):
    if not cond:
        fail(message, exchange)


# -------------------------------------------------------------------- http --


def call(method, path, headers=None, body=None, raw=None, expect=200, quiet=False):
    """Sends one request; fails unless the answer has status `expect` and a JSON body.

    `body` is sent as compact JSON; `raw` (bytes) is sent as it is (signed bodies).
    """
    url = API + path
    hdrs = dict(headers or {})
    data = None
    if raw is not None:
        data = raw
    elif body is not None:
        data = json.dumps(body, separators=(",", ":")).encode()
    if data is not None:
        hdrs.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as resp:
            status, text = resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        ex = Exchange(method, url, hdrs, data, "(no answer)", str(e))
        fail("%s %s: no answer from the API (is scripts/dev running?)" % (method, path), ex)
    ex = Exchange(method, url, hdrs, data, status, text)
    if not quiet:
        colour = green if status == expect else red
        out("   %s %s -> %s" % (dim(method), dim(path), colour(str(status))))
    check(status == expect,
          "%s %s answered %s, expected %s" % (method, path, status, expect), ex)
    check(isinstance(ex.json, (dict, list)),
          "%s %s answered %s without a JSON body" % (method, path, status), ex)
    return ex


def user_headers(user):
    return {"x-user-id": user}


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def signed(secret, obj):
    """The exact body bytes and their X-Signature: hex HMAC-SHA256 of the body."""
    raw = json.dumps(obj, separators=(",", ":")).encode()
    return raw, hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


# ------------------------------------------------------------ shape checks --


def require_fields(obj, fields, what, ex):
    missing = [f for f in fields if not isinstance(obj, dict) or f not in obj]
    check(not missing, "%s lacks SPEC field(s) %s" % (what, ", ".join(missing)), ex)


ORDER_FIELDS = ["id", "user_id", "status", "lines", "packages", "goods_cents", "freight_cents",
                "total_cents", "payment_deadline", "warnings", "refunds", "timeline", "actions"]
LINE_FIELDS = ["sku", "qty", "unit_price_cents", "line_total_cents"]
PACKAGE_FIELDS = ["id", "source", "status", "lines", "goods_cents", "freight_cents",
                  "supplier_ref", "tracking_no"]
REFUND_FIELDS = ["id", "amount_cents", "reason", "status"]
TIMELINE_FIELDS = ["at", "event", "actor"]
CASE_FIELDS = ["id", "order_id", "package_id", "kind", "status", "lines", "reason", "evidence",
               "customer_service_phone", "history"]
HISTORY_FIELDS = ["at", "status", "actor", "note"]


def check_order_shape(order, ex):
    require_fields(order, ORDER_FIELDS, "the order", ex)
    for line in order["lines"]:
        require_fields(line, LINE_FIELDS, "an order line", ex)
    for p in order["packages"]:
        require_fields(p, PACKAGE_FIELDS, "package %s" % p.get("id"), ex)
    for r in order["refunds"]:
        require_fields(r, REFUND_FIELDS, "a refund", ex)
    for t in order["timeline"]:
        require_fields(t, TIMELINE_FIELDS, "a timeline entry", ex)
    for a in order["actions"]:
        require_fields(a, ["action"], "an action", ex)
    # Money adds up (SPEC 4).
    check(order["goods_cents"] + order["freight_cents"] == order["total_cents"],
          "goods_cents + freight_cents != total_cents", ex)
    check(sum(p["goods_cents"] for p in order["packages"] if not p.get("exchange_for"))
          == order["goods_cents"], "the packages' goods_cents do not add up to the order's", ex)
    check(sum(p["freight_cents"] for p in order["packages"]) == order["freight_cents"],
          "the packages' freight_cents do not add up to the order's freight_cents", ex)


def check_case_shape(case, ex):
    require_fields(case, CASE_FIELDS, "the after-sales case", ex)
    for h in case["history"]:
        require_fields(h, HISTORY_FIELDS, "a case history entry", ex)


# ------------------------------------------------------------------- steps --


def get_order(order_id, user):
    ex = call("GET", "/orders/%s" % order_id, user_headers(user), quiet=True)
    check_order_shape(ex.json, ex)
    return ex


def package_status(order, pid):
    return next(p["status"] for p in order["packages"] if p["id"] == pid)


def source_label(src):
    kind = src.get("kind")
    if kind == "self":
        return "self %s" % src.get("warehouse")
    if kind == "dropship":
        return "dropship %s" % src.get("supplier")
    return str(kind)


def lines_label(lines):
    return ", ".join("%s x%s" % (l["sku"], l["qty"]) for l in lines)


def print_packages(order, extra=()):
    rows = []
    for p in order["packages"]:
        row = [p["id"], source_label(p["source"]), lines_label(p["lines"]), p["status"],
               p.get("supplier_ref") or "-"]
        row += [p.get(k) or "-" for k in extra]
        rows.append(row)
    table(["package", "source", "lines", "status", "supplier_ref"] + list(extra), rows)


def expect_order(order_id, user, status, packages, after):
    """GET the order; its derived status and the given package statuses must be as expected."""
    ex = get_order(order_id, user)
    o = ex.json
    for pid, want in packages.items():
        got = package_status(o, pid)
        check(got == want, "after %s: package %s is %r, expected %r" % (after, pid, got, want), ex)
    check(o["status"] == status,
          "after %s: the order status is %r, expected %r (SPEC 2.5 table)" % (after, o["status"], status), ex)
    ok("GET /orders/%s: order %s, %s" % (order_id, bold(status),
                                         ", ".join("%s %s" % (k[-3:], v) for k, v in packages.items())))
    return o


def place(user):
    step("a. place a mixed order as %s" % user)
    prices = {}
    for sku in CATALOG:
        ex = call("GET", "/skus/%s" % sku)
        require_fields(ex.json, ["sku", "name", "price_cents", "source", "stock_policy", "listed",
                                 "per_user_limit", "available", "stock_shards"], "SKU %s" % sku, ex)
        check(ex.json["listed"] is True, "SKU %s is not listed (the demo catalog lists it)" % sku, ex)
        check(ex.json["available"] >= CATALOG[sku] or ex.json["stock_policy"] != "lock_on_place",
              "SKU %s has %s available, the demo needs %s (restart scripts/dev to reseed)"
              % (sku, ex.json["available"], CATALOG[sku]), ex)
        prices[sku] = ex.json
    body = {"lines": [{"sku": s, "qty": q} for s, q in CATALOG.items()], "address": ADDRESS,
            "note": "scripts/demo"}
    hdrs = dict(user_headers(user), **{"idempotency-key": "demo-" + secrets.token_hex(8)})
    ex = call("POST", "/orders", hdrs, body, expect=201)
    o = ex.json
    check_order_shape(o, ex)
    check(o["status"] == "pending_payment", "a new order is %r, expected pending_payment" % o["status"], ex)
    check(o["user_id"] == user, "the order belongs to %r, expected %r" % (o["user_id"], user), ex)
    for line in o["lines"]:
        cat = prices.get(line["sku"])
        check(cat is not None, "unexpected line %s" % line["sku"], ex)
        check(line["unit_price_cents"] == cat["price_cents"],
              "%s unit price %s, the catalog says %s" % (line["sku"], line["unit_price_cents"], cat["price_cents"]), ex)
        check(line["line_total_cents"] == line["unit_price_cents"] * line["qty"],
              "%s line total is not qty x unit price" % line["sku"], ex)
    # Split: one package per fulfilment source (SPEC 2.2).
    check(len(o["packages"]) == 3, "expected 3 packages, got %d" % len(o["packages"]), ex)
    by_kind = {}
    for p in o["packages"]:
        by_kind[p["source"].get("kind")] = p
    check(set(by_kind) == {"self", "dropship", "jd"},
          "expected one self, one dropship and one jd package, got %s" % sorted(by_kind), ex)
    goods, freight, parts = expected_money(prices, {k: p["id"] for k, p in by_kind.items()})
    for kind, (src, sku) in KINDS.items():
        qty = CATALOG[sku]
        p = by_kind[kind]
        check(p["source"] == src, "the %s package's source is %s, expected %s" % (kind, p["source"], src), ex)
        got = [(l["sku"], l["qty"]) for l in p["lines"]]
        check(got == [(sku, qty)], "the %s package holds %s, expected %s x%d" % (kind, got, sku, qty), ex)
        check(p["status"] == "pending", "new package %s is %r, expected pending" % (p["id"], p["status"]), ex)
        check((p["goods_cents"], p["freight_cents"]) == (goods[kind], parts[kind]),
              "the %s package carries goods %s + freight %s; from the catalog and the %s policy: %s + %s"
              % (kind, p["goods_cents"], p["freight_cents"], POLICY, goods[kind], parts[kind]), ex)
    want_goods = sum(goods.values())
    check((o["goods_cents"], o["freight_cents"], o["total_cents"]) == (want_goods, freight, want_goods + freight),
          "goods/freight/total %s/%s/%s; from the catalog and FREIGHT_CENTS=%d, FREE_SHIPPING_OVER_CENTS=%d: %s/%s/%s"
          % (o["goods_cents"], o["freight_cents"], o["total_cents"], FREIGHT, FREE_OVER,
             want_goods, freight, want_goods + freight), ex)
    check(freight > 0, "the demo's cart pays no freight (goods %d >= %d): pick a smaller cart" % (want_goods, FREE_OVER), ex)
    ok("order %s: %s, goods %s + freight %s = total %s yuan (freight policy %s)"
       % (bold(o["id"]), o["status"], yuan(o["goods_cents"]), yuan(o["freight_cents"]),
          yuan(o["total_cents"]), o.get("freight_policy", "?")))
    table(["package", "source", "lines", "goods", "freight"],
          [[p["id"], source_label(p["source"]), lines_label(p["lines"]), yuan(p["goods_cents"]),
            yuan(p["freight_cents"])] for p in o["packages"]], right=(3, 4))
    return o, {k: by_kind[k]["id"] for k in by_kind}, prices


def pay(order):
    step("b. pay it (signed notification from the payment provider)")
    payload = {"order_id": order["id"], "payment_id": "pay-" + order["id"],
               "amount_cents": order["total_cents"], "paid_at": now_iso()}
    raw, sig = signed(PAYMENT_SECRET, payload)
    ex = call("POST", "/payments/notify", {"x-signature": sig}, raw=raw)
    o = ex.json
    require_fields(o, ["id", "status", "total_cents"], "the payment answer (the order)", ex)
    check(o["id"] == order["id"], "the payment answer is order %r" % o.get("id"), ex)
    check(o["status"] == "awaiting_shipment",
          "a paid order is %r, expected awaiting_shipment (SPEC 2.3)" % o["status"], ex)
    ok("paid %s yuan as %s: order %s" % (yuan(order["total_cents"]), payload["payment_id"], bold(o["status"])))


# How long the refunds may take to come back from the gateway simulator.
REFUND_TIMEOUT = 60


def wait_forwarded(order_id, user):
    step("c. wait out the intercept window until every package is forwarded")
    deadline = time.monotonic() + FORWARD_TIMEOUT
    t0 = time.monotonic()
    last = None
    while True:
        ex = get_order(order_id, user)
        o = ex.json
        statuses = {p["id"]: p["status"] for p in o["packages"]}
        if statuses != last:
            out("   %s  %s" % (dim("%5.1fs" % (time.monotonic() - t0)),
                               ", ".join("%s %s" % (k[-3:], v) for k, v in sorted(statuses.items()))))
            last = statuses
        bad = {k: v for k, v in statuses.items() if v not in ("pending", "forwarded")}
        check(not bad, "while waiting for forwarding, package(s) went %s" % bad, ex)
        if all(v == "forwarded" for v in statuses.values()):
            break
        if time.monotonic() > deadline:
            fail("packages not all forwarded within %ds (is devstack wire running? the stack's "
                 "INTERCEPT_WINDOW_SECS must be well under that; the demo starts its own stack with 3)"
                 % FORWARD_TIMEOUT, ex)
        time.sleep(0.5)
    for p in o["packages"]:
        check(p["supplier_ref"], "forwarded package %s has no supplier_ref (SPEC 2.4)" % p["id"], ex)
    check(o["status"] == "awaiting_shipment",
          "with every package forwarded and none shipped, the order is %r, expected awaiting_shipment"
          % o["status"], ex)
    ok("every package forwarded after %.1fs; order %s" % (time.monotonic() - t0, bold(o["status"])))
    print_packages(o)
    return o


def supplier_event(supplier, pid, status, tracking):
    payload = {"package_id": pid, "status": status}
    if tracking:
        payload["tracking_no"] = tracking
    payload["at"] = now_iso()
    raw, sig = signed(supplier_secret(supplier), payload)
    ex = call("POST", "/suppliers/%s/package-status" % supplier, {"x-signature": sig}, raw=raw)
    a = ex.json
    # The answer's shape is README's ({package_id, package_status, order_status, applied}).
    require_fields(a, ["package_id", "package_status", "order_status", "applied"],
                   "the callback answer (README: status sync)", ex)
    check(a["package_id"] == pid, "the callback answer names package %r" % a["package_id"], ex)
    check(a["package_status"] == status,
          "supplier %s said %s, the package is %r" % (supplier, status, a["package_status"]), ex)
    check(a["applied"] is True, "a first %s event was not applied" % status, ex)
    return ex


def play_events(order_id, user, ids, order_before):
    step("d. play the package events")
    own, drop, jd = ids["self"], ids["dropship"], ids["jd"]
    supplier = next(p["source"]["supplier"] for p in order_before["packages"] if p["id"] == drop)
    expected = {own: "forwarded", drop: "forwarded", jd: "forwarded"}

    def after(what, pid, pstatus, ostatus, ex, answer_field):
        """The event's answer `ex` and then GET /orders must show the expected statuses."""
        expected[pid] = pstatus
        got = ex.json.get(answer_field)
        check(got == ostatus, "after %s the answer says order %r, expected %r (SPEC 2.5 table)"
              % (what, got, ostatus), ex)
        ok("%s: package %s, answer says order %s" % (what, pstatus, ostatus))
        return expect_order(order_id, user, ostatus, dict(expected), what)

    ex = supplier_event(supplier, drop, "shipped", "DS-%s" % secrets.token_hex(3).upper())
    after("dropship %s shipped (callback)" % supplier, drop, "shipped", "partially_shipped", ex, "order_status")
    ex = supplier_event(supplier, drop, "received", None)
    after("dropship %s received (callback)" % supplier, drop, "received", "partially_shipped", ex, "order_status")
    ex = supplier_event("jd", jd, "shipped", "JD%s" % secrets.token_hex(4).upper())
    after("jd shipped (callback)", jd, "shipped", "partially_shipped", ex, "order_status")
    ex = supplier_event("jd", jd, "rejected", None)
    after("jd rejected (callback)", jd, "rejected", "partially_shipped", ex, "order_status")

    tracking = "SF%s" % secrets.token_hex(5).upper()
    ex = call("POST", "/packages/%s/ship" % own, STAFF, {"carrier": "SF Express", "tracking_no": tracking})
    p = next((p for p in ex.json.get("packages", []) if p.get("id") == own), None)
    check(p is not None and p.get("status") == "shipped",
          "staff shipped %s, the answer shows it %r" % (own, p and p.get("status")), ex)
    check(p.get("tracking_no") == tracking, "the shipped package's tracking_no is %r" % p.get("tracking_no"), ex)
    o = after("self WH-2 shipped by staff-1", own, "shipped", "shipped", ex, "status")
    acts = [(x["action"], x.get("package_id")) for x in o["actions"]]
    check(("confirm_receipt", own) in acts,
          "the owner's actions %s lack confirm_receipt for shipped package %s (SPEC 2.10)" % (acts, own))
    ok("actions offer confirm_receipt for %s" % own)

    ex = call("POST", "/packages/%s/confirm-receipt" % own, user_headers(user))
    o = after("self WH-2 receipt confirmed by the owner", own, "received", "completed", ex, "status")
    ok("one received + one rejected + one received: %s" % bold(o["status"]))
    print_packages(o, extra=("tracking_no",))
    return o


def after_sales(order, user, ids):
    step("e. after-sales: return_refund of one %s from the self-operated package" % SELF_SKU)
    own = ids["self"]
    acts = [(x["action"], x.get("package_id")) for x in order["actions"]]
    check(("after_sales", own) in acts,
          "the owner's actions %s lack after_sales for received package %s (SPEC 2.10)" % (acts, own))
    ok("actions offer after_sales for %s" % own)
    body = {"package_id": own, "kind": "return_refund", "lines": [{"sku": SELF_SKU, "qty": 1}],
            "reason": "one tin arrived dented", "evidence": ["https://example.com/proof.jpg"]}
    ex = call("POST", "/orders/%s/after-sales" % order["id"], user_headers(user), body, expect=201)
    case = ex.json
    check_case_shape(case, ex)
    check(case["status"] == "requested", "a new case is %r, expected requested" % case["status"], ex)
    check(case["order_id"] == order["id"] and case["package_id"] == own and case["kind"] == "return_refund",
          "the case is not the one opened (order, package, kind)", ex)
    check(case["lines"] == [{"sku": SELF_SKU, "qty": 1}], "the case lines are %s" % case["lines"], ex)
    check(isinstance(case["customer_service_phone"], str) and case["customer_service_phone"].strip(),
          "the case has no customer_service_phone (SPEC 2.8)", ex)
    cid = case["id"]
    ok("case %s %s; customer service: %s" % (bold(cid), case["status"], bold(case["customer_service_phone"])))

    def advance(action, hdrs, body, want):
        ex = call("POST", "/after-sales/%s/%s" % (cid, action), hdrs, body)
        check_case_shape(ex.json, ex)
        check(ex.json["status"] == want, "after %s the case is %r, expected %r" % (action, ex.json["status"], want), ex)
        ok("case %s" % bold(want))

    advance("review", STAFF, {"decision": "approve", "note": "approved: send the tin back"}, "approved")
    advance("return-shipment", user_headers(user), {"carrier": "SF Express", "tracking_no": "SFR%s" % secrets.token_hex(4).upper()},
            "return_shipped")
    advance("complete", STAFF, None, "completed")

    ex = call("GET", "/after-sales/%s" % cid, user_headers(user))
    case = ex.json
    check_case_shape(case, ex)
    hist = [h["status"] for h in case["history"]]
    want = ["requested", "approved", "return_shipped", "completed"]
    check(hist == want, "the case history is %s, expected %s (SPEC 2.8)" % (hist, want), ex)
    ok("history kept every step")
    table(["at", "status", "actor", "note"],
          [[h["at"], h["status"], h["actor"], h.get("note") or "-"] for h in case["history"]])
    return cid


def summary(order_id, user, ids, case_id, prices):
    step("f. the order at the end")
    ex = get_order(order_id, user)
    o = ex.json
    check(o["status"] == "completed", "after the case the order is %r, expected completed" % o["status"], ex)
    ok("order %s is %s" % (o["id"], bold(o["status"])))

    out()
    out(bold("   Timeline (oldest first)"))

    def at_key(t):
        try:
            return datetime.datetime.fromisoformat(t["at"].replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            fail("timeline entry has an unreadable time: %r" % t, ex)

    entries = sorted(o["timeline"], key=at_key)  # stable: same-time entries keep their order
    table(["at", "event", "actor", "package/case", "cause"],
          [[t["at"], t["event"], t["actor"], t.get("case_id") or t.get("package_id") or "-",
            t.get("cause") or "-"] for t in entries])
    check(entries, "the order has no timeline (SPEC 2.10)", ex)

    out()
    out(bold("   Money (cents, and yuan)"))
    table(["package", "source", "status", "goods", "yuan", "freight", "yuan"],
          [[p["id"], source_label(p["source"]), p["status"], p["goods_cents"], yuan(p["goods_cents"]),
            p["freight_cents"], yuan(p["freight_cents"])] for p in o["packages"]], right=(3, 4, 5, 6))
    out()
    # Each refund goes back through the payment's channel (SPEC 2.12): the
    # refund function sends it to the gateway (the simulator) and records
    # its answer; none stays pending once the gateway has answered.
    deadline = time.monotonic() + REFUND_TIMEOUT
    while any(r["status"] in ("pending", "processing") for r in o["refunds"]):
        if time.monotonic() > deadline:
            fail("refunds not settled within %ds (is devstack wire feeding the refund queue?): %s"
                 % (REFUND_TIMEOUT, [(r["id"], r["status"]) for r in o["refunds"]]), ex)
        time.sleep(0.5)
        ex = get_order(order_id, user)
        o = ex.json
    table(["refund", "amount", "yuan", "status", "payment", "gateway id", "reason"],
          [[r["id"], r["amount_cents"], yuan(r["amount_cents"]), r["status"], r["payment_id"],
            r.get("provider_refund_id") or "-", r["reason"]]
           for r in o["refunds"]], right=(1, 2))
    bad = [(r["id"], r["status"]) for r in o["refunds"] if r["status"] != "succeeded"]
    check(not bad, "refunds did not succeed at the gateway: %s" % bad, ex)
    paid_with = o["timeline"][[t["event"] for t in o["timeline"]].index("paid")]["cause"]
    wrong = [r["id"] for r in o["refunds"] if r["payment_id"] != paid_with]
    check(not wrong, "refunds %s do not return the payment %s" % (wrong, paid_with), ex)
    ok("every refund went back through the gateway against payment %s: %s"
       % (paid_with, bold("succeeded")))

    # Expected from the catalog and the settings alone: the rejected JD
    # package's goods and its freight share, and one returned unit (the self
    # package's freight stays: not all of it came back).
    goods, freight, parts = expected_money(prices, ids)
    unit = prices[SELF_SKU]["price_cents"]
    jd_refund = goods["jd"] + parts["jd"]
    expected = sorted([jd_refund, unit])
    paid = sum(goods.values()) + freight
    check(o["total_cents"] == paid, "the order total %s; expected %s" % (o["total_cents"], paid), ex)
    refunded = sum(r["amount_cents"] for r in o["refunds"])
    net = paid - refunded
    out()
    table(["", "cents", "yuan"],
          [["paid", paid, yuan(paid)], ["refunded", refunded, yuan(refunded)], ["net", net, yuan(net)]],
          right=(1, 2))
    out()
    got = sorted(r["amount_cents"] for r in o["refunds"])
    check(got == expected,
          "refunds are %s cents; expected %s: the JD package's goods %d + its freight share %d (%s), and "
          "one %s at %d (the self package's freight %d is not refunded: the package did not all come back)"
          % (got, expected, goods["jd"], parts["jd"], POLICY, SELF_SKU, unit, parts["self"]), ex)
    check(net == paid - jd_refund - unit, "net %d; expected %d" % (net, paid - jd_refund - unit), ex)
    ok("refunds = JD goods %s + JD freight %s (%s) + one %s %s = %s yuan; net %s yuan"
       % (yuan(goods["jd"]), yuan(parts["jd"]), POLICY, SELF_SKU, yuan(unit), bold(yuan(refunded)),
          bold(yuan(net))))


# A second storefront (SPEC 2.13): its own price for the mug and its own
# freight; the same stock.
SECOND = "mini-program"
SECOND_FREIGHT = 500
SECOND_FREE_OVER = 100000
SECOND_DISCOUNT = 300


def second_storefront(user, first_id, prices):
    step("g. a second storefront on the same back end: its own price and freight, one stock")
    body = {"name": "WeChat mini-program", "freight_cents": SECOND_FREIGHT,
            "free_shipping_over_cents": SECOND_FREE_OVER}
    ex = call("PUT", "/storefronts/" + SECOND, STAFF, body)
    check(ex.json.get("id") == SECOND, "the storefront answer is %r" % ex.json.get("id"), ex)
    mug = prices[SELF_SKU]
    special = max(1, mug["price_cents"] - SECOND_DISCOUNT)
    sku_body = {k: mug[k] for k in ("name", "price_cents", "source", "stock_policy", "listed",
                                    "per_user_limit")}
    sku_body["prices"] = dict(mug.get("prices") or {}, **{SECOND: special})
    call("PUT", "/skus/" + SELF_SKU, STAFF, sku_body)
    before = call("GET", "/skus/" + SELF_SKU, quiet=True).json["available"]
    hdrs = dict(user_headers(user), **{"x-storefront": SECOND})
    ex = call("POST", "/orders", hdrs, {"lines": [{"sku": SELF_SKU, "qty": 1}], "address": ADDRESS},
              expect=201)
    o = ex.json
    check_order_shape(o, ex)
    check(o.get("storefront") == SECOND, "the order's storefront is %r" % o.get("storefront"), ex)
    freight = 0 if special >= SECOND_FREE_OVER else SECOND_FREIGHT
    check((o["lines"][0]["unit_price_cents"], o["freight_cents"], o["total_cents"])
          == (special, freight, special + freight),
          "unit/freight/total %s/%s/%s; from the storefront's price and freight: %s/%s/%s"
          % (o["lines"][0]["unit_price_cents"], o["freight_cents"], o["total_cents"],
             special, freight, special + freight), ex)
    if mug["stock_policy"] == "lock_on_place":
        after = call("GET", "/skus/" + SELF_SKU, quiet=True).json["available"]
        check(after == before - 1, "the shared stock went from %s to %s, expected %s"
              % (before, after, before - 1), ex)
    ok("order %s in %s: %s + freight %s = %s yuan (the default storefront charges %s + %s)"
       % (bold(o["id"]), SECOND, yuan(special), yuan(freight), yuan(special + freight),
          yuan(mug["price_cents"]), yuan(FREIGHT)))
    payload = {"order_id": o["id"], "payment_id": "pay-" + o["id"],
               "amount_cents": o["total_cents"], "paid_at": now_iso()}
    raw, sig = signed(PAYMENT_SECRET, payload)
    call("POST", "/payments/notify/" + SECOND, {"x-signature": sig}, raw=raw, expect=401)
    raw, sig = signed("dev-payment-secret-" + SECOND, payload)
    ex = call("POST", "/payments/notify/" + SECOND, {"x-signature": sig}, raw=raw)
    check(ex.json["status"] == "awaiting_shipment", "paid in %s: %r" % (SECOND, ex.json["status"]), ex)
    ok("paid through %s's account (the default storefront's secret was refused: 401)" % SECOND)
    listed = lambda headers, q="": [x["id"] for x in call("GET", "/orders" + q, headers, quiet=True).json["orders"]]
    here = listed(hdrs)
    home = listed(user_headers(user))
    everywhere = listed(user_headers(user), "?storefront=all")
    check(here == [o["id"]] and first_id in home and o["id"] not in home
          and {first_id, o["id"]} <= set(everywhere),
          "lists: %s %s, default %s, all %s" % (SECOND, here, home, everywhere))
    ok("the buyer's list in %s shows 1 order, in default %d, across storefronts %d"
       % (SECOND, len(home), len(everywhere)))
    return o


def back_office(user, first_id, second):
    step("h. the back office: the pick list ships the mini-program's parcel; nothing is left waiting")
    pkg = second["packages"][0]
    wh = pkg["source"].get("warehouse")
    check(wh, "the second order's parcel is self-operated: %r" % pkg["source"])
    picker = {"x-user-id": "picker-1", "x-user-role": "warehouse", "x-warehouse": wh}
    pick_path = "/staff/packages?queue=to_ship&warehouse=" + wh + "&limit=100"
    deadline = time.monotonic() + FORWARD_TIMEOUT
    while True:
        ex = call("GET", pick_path, picker, quiet=True)
        mine = [e for e in ex.json["packages"] if e["package_id"] == pkg["id"]]
        if mine:
            break
        if time.monotonic() > deadline:
            fail("the parcel %s never reached %s's pick list" % (pkg["id"], wh), ex)
        time.sleep(0.5)
    e = mine[0]
    check(e["order_id"] == second["id"] and e["lines"][0]["sku"] == SELF_SKU and e["address"]["name"],
          "the pick-list entry: %r" % e, ex)
    ok("%s's pick list holds %s (%s x %s, to %s) since %s"
       % (wh, pkg["id"], e["lines"][0]["qty"], e["lines"][0]["name"], e["address"]["city"], e["since"]))
    call("POST", "/packages/%s/ship" % pkg["id"], picker, {"carrier": "SF", "tracking_no": "SF-DEMO-2"})
    ex = call("GET", pick_path, picker, quiet=True)
    check(all(x["package_id"] != pkg["id"] for x in ex.json["packages"]), "shipped, still on the pick list", ex)
    ok("the warehouse shipped it; it left the pick list in the same write")
    support = {"x-user-id": "support-1", "x-user-role": "support"}
    ours = {first_id, second["id"]}
    left = []
    for path, key in [("/staff/attention", "items"), ("/staff/after-sales", "cases"),
                      ("/staff/packages?queue=overdue", "packages")]:
        cursor = ""
        while True:
            sep = "&" if "?" in path else "?"
            ex = call("GET", path + sep + "limit=100" + cursor, support, quiet=True)
            left += [(path, x["subject"]) for x in ex.json[key] if x["order_id"] in ours]
            if not ex.json["next_cursor"]:
                break
            cursor = "&cursor=" + ex.json["next_cursor"]
    check(not left, "work left on the queues for the demo's orders: %s" % left)
    ex = call("GET", "/staff/summary", STAFF, quiet=True)
    counts = ex.json
    table(["queue", "count (whole stack)"],
          [["to ship from " + w, n] for w, n in sorted(counts["to_ship"].items())]
          + [["overdue at suppliers", counts["overdue"]], ["attention", counts["attention"]]]
          + [["after-sales " + st, n] for st, n in sorted(counts["after_sales"].items())], right=(1,))
    ok("the demo's orders wait on no queue: attention, after-sales, pick list and overdue hold nothing of"
       " theirs (the operator console, at the URL scripts/dev prints, shows the same)")


def main():
    user = "demo-" + secrets.token_hex(4)
    out(bold("Order system demo") + dim("  API %s  user %s" % (API, user)))
    try:
        order, ids, prices = place(user)
        pay(order)
        forwarded = wait_forwarded(order["id"], user)
        final = play_events(order["id"], user, ids, forwarded)
        case_id = after_sales(final, user, ids)
        summary(order["id"], user, ids, case_id, prices)
        second = second_storefront(user, order["id"], prices)
        back_office(user, order["id"], second)
    except DemoFailure as e:
        sys.stdout.flush()
        print("\n" + paint("1;31", "DEMO FAILED", ERR_COLOUR) + ": " + str(e), file=sys.stderr, flush=True)
        return 1
    out()
    out(green(bold("demo passed")) + dim("  order %s, user %s" % (order["id"], user)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
