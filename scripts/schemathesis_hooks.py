"""Schemathesis hooks for scripts/schemathesis: they play the parts of AWS and
of the API's callers that the local stack (scripts/dev) leaves out.

API Gateway's JWT authorizer
    Locally there is no authorizer: AUTH_MODE=dev-headers makes the functions
    read `x-user-id` and `x-user-role: staff` instead of JWT claims. The
    JwtBearer scheme is configured (scripts/schemathesis.toml) with the token
    $ST_DEV_TOKEN; a request carrying exactly that bearer token gets the dev
    identity headers (`x-user-role: staff` too on operations marked
    `x-required-role: staff`, and now and then on the others, so that staff
    paths run as well); a request with any other Authorization, or none, gets
    no identity, and the function answers 401 as the authorizer would.
    Schemathesis's `ignored_auth` check relies on this.

Webhook signatures
    PaymentSignature and SupplierSignature are configured with the placeholder
    $ST_SIGN_PLACEHOLDER. When a request's X-Signature is that placeholder, it
    is replaced by hex(HMAC-SHA256(secret, the exact body bytes sent)), with
    PAYMENT_WEBHOOK_SECRET, or the path's supplier's own secret from
    SUPPLIER_WEBHOOK_SECRETS (the dev defaults of scripts/dev unless set:
    dev-supplier-secret-<id> for jd and S-1 to S-9; another supplier has none,
    and is refused with 401). Any other value (a generated one, or none) is sent
    as it is, and must be refused with 401.

Real resources for valid requests
    Random ids name nothing, so valid requests would all end in 404. Cases
    generated as valid (positive mode) get, most of the time, ids of resources
    this module creates through the API itself on first use: SKUs of its own
    (`ST-*`, so the demo catalog's stock is never touched), orders of the
    fuzzing user in several states, their packages, and after-sales cases.
    Invalid (negative) cases are left alone, and so are the cases of the
    stateful phase, whose ids come from the responses its links follow.

cargo lambda watch
    It now and then answers 500 itself when relaying a function's answer; such
    a request is sent again (see _retry_watch_glitch).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import threading
import time

import requests
import schemathesis
from requests import compat as requests_compat
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import TestPhase
from schemathesis.transport.prepare import prepare_body
from schemathesis.transport.serialization import serialize_json

API = os.environ.get("API", "http://127.0.0.1:9000").rstrip("/")
DEV_TOKEN = os.environ.get("ST_DEV_TOKEN", "schemathesis-dev-token")
SIGN_PLACEHOLDER = os.environ.get("ST_SIGN_PLACEHOLDER", "sign-with-dev-secret")
PAYMENT_SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET") or "dev-payment-secret"
SUPPLIER_SECRETS = json.loads(os.environ.get("SUPPLIER_WEBHOOK_SECRETS") or "null") or {
    s: "dev-supplier-secret-" + s for s in ["jd"] + ["S-%d" % i for i in range(1, 10)]
}
SIGNED_SCHEMES = {"PaymentSignature", "SupplierSignature"}


def _secret(scheme: str, supplier: str | None) -> str:
    """The key a request of `scheme` is signed with (a supplier without one: a guess)."""
    if scheme == "PaymentSignature":
        return PAYMENT_SECRET
    return SUPPLIER_SECRETS.get(supplier or "", "no-secret-for-this-supplier")
USER = os.environ.get("ST_USER", "schemathesis")
STAFF = os.environ.get("ST_STAFF", "schemathesis-staff")
# Share of valid cases that get real resources; the rest keep generated values.
REAL_IDS = float(os.environ.get("ST_REAL_IDS", "0.8"))

IDENTITY_HEADERS = ("x-user-id", "x-user-role")
# Its own generator: Hypothesis reseeds the global one inside test cases.
_rng = random.Random(os.environ.get("SCHEMATHESIS_SEED"))


def _header(headers: dict | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def _drop(headers: dict, name: str) -> None:
    for key in [k for k in headers if k.lower() == name.lower()]:
        del headers[key]


def _raw_body(case) -> bytes:
    """The bytes the requests transport sends for `case`'s JSON body."""
    body = case.body
    if isinstance(body, schemathesis.core.NotSet):
        return b""
    serialized = serialize_json(prepare_body(case))
    if "data" in serialized:
        return serialized["data"]
    text = requests_compat.json.dumps(serialized["json"], allow_nan=False)
    return text.encode("utf-8") if isinstance(text, str) else text


def _operation(case) -> dict:
    return case.operation.definition.raw


def _schemes(case) -> set[str]:
    return {name for req in (_operation(case).get("security") or []) for name in req}


def _positive(case) -> bool:
    meta = case.meta
    return meta is not None and not meta.generation.mode.is_negative


def _stateful(case) -> bool:
    """In the stateful phase the links of openapi.yaml chain real resources:
    leave their ids alone, and keep one identity along the chain."""
    meta = case.meta
    return meta is not None and meta.phase.name == TestPhase.STATEFUL


# ------------------------------------------------------------------ fixtures
class Fixtures:
    """Resources of the fuzzing user, created through the API on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ready = False
        self.skus: list[str] = []
        self.orders: list[str] = []  # any state, owned by USER
        self.unpaid: list[dict] = []  # {"id", "total_cents"} still pending_payment
        self.packages: list[dict] = []  # {"id", "source"}
        self.cases: list[str] = []
        self.session = requests.Session()

    def _call(self, method: str, path: str, body=None, staff=False, signed=None):
        headers = {"x-user-id": STAFF if staff else USER}
        if staff:
            headers["x-user-role"] = "staff"
        data = None
        if body is not None:
            data = requests_compat.json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if signed:
            headers = {"content-type": "application/json"}
            headers["X-Signature"] = hmac.new(_secret(signed, None).encode(), data, hashlib.sha256).hexdigest()
        r = self.session.request(method, API + path, data=data, headers=headers, timeout=30)
        return r.status_code, (r.json() if r.content else None)

    def _place(self, skus: list[str]) -> dict | None:
        body = {
            "lines": [{"sku": s, "qty": 1} for s in skus],
            "address": {"name": "Fuzz", "phone": "1", "line1": "1 Test Road", "city": "Shanghai", "postcode": "200000"},
        }
        status, order = self._call("POST", "/orders", body)
        if status != 201:
            return None
        self.orders.append(order["id"])
        self.packages += [{"id": p["id"], "source": p["source"]} for p in order["packages"]]
        return order

    def _pay(self, order: dict) -> int:
        body = {
            "order_id": order["id"],
            "payment_id": f"st-{order['id']}",
            "amount_cents": order["total_cents"],
            "paid_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return self._call("POST", "/payments/notify", body, signed="PaymentSignature")[0]

    def setup(self) -> None:
        with self.lock:
            if self.ready:
                return
            self.ready = True
            try:
                self._setup()
            except Exception as exc:  # the run goes on with generated ids
                print(f"schemathesis_hooks: fixtures incomplete: {exc!r}")

    def _setup(self) -> None:
        sources = {
            "ST-SELF": {"kind": "self", "warehouse": "WH-1"},
            "ST-DROP": {"kind": "dropship", "supplier": "S-1"},
            "ST-JD": {"kind": "jd"},
        }
        for sku, source in sources.items():
            body = {
                "name": f"Schemathesis {sku}",
                "price_cents": 1234,
                "source": source,
                "stock_policy": "lock_on_place",
                "available": 1_000_000_000,
            }
            status, _ = self._call("PUT", f"/skus/{sku}", body, staff=True)
            if status == 200:
                self.skus.append(sku)
        if not self.skus:
            return
        # Unpaid orders, for payments and cancels.
        for _ in range(3):
            order = self._place(self.skus)
            if order:
                self.unpaid.append({"id": order["id"], "total_cents": order["total_cents"]})
        # A paid order whose self-operated package is shipped and received,
        # with an after-sales case on it.
        order = self._place(self.skus)
        if order and self._pay(order) == 200:
            own = next(p for p in order["packages"] if p["source"]["kind"] == "self")
            self._call("POST", f"/packages/{own['id']}/ship", {"carrier": "SF", "tracking_no": "ST1"}, staff=True)
            self._call("POST", f"/packages/{own['id']}/confirm-receipt")
            status, case = self._call(
                "POST",
                f"/orders/{order['id']}/after-sales",
                {
                    "package_id": own["id"],
                    "kind": "return_refund",
                    "lines": [{"sku": "ST-SELF", "qty": 1}],
                    "reason": "fixture",
                    "evidence": ["uploads/st/fixture.jpg"],
                },
            )
            if status == 201:
                self.cases.append(case["id"])
        print(
            f"schemathesis_hooks: fixtures: {len(self.skus)} SKUs, {len(self.orders)} orders, "
            f"{len(self.packages)} packages, {len(self.cases)} cases"
        )

    def unpaid_order(self) -> dict | None:
        """An order still unpaid (placing a new one when the last was used)."""
        with self.lock:
            if self.unpaid:
                return self.unpaid.pop()
        order = self._place(self.skus) if self.skus else None
        return {"id": order["id"], "total_cents": order["total_cents"]} if order else None


FIXTURES = Fixtures()


def _pick(values: list):
    return _rng.choice(values) if values else None


def _use_real_resources(case) -> None:
    """Put real ids into a valid case, most of the time."""
    if _rng.random() >= REAL_IDS:
        return
    FIXTURES.setup()
    op = case.operation
    path = op.path
    params = case.path_parameters
    if params is not None:
        real = {
            "id": _pick(FIXTURES.orders),
            "package_id": _pick(FIXTURES.packages)["id"] if FIXTURES.packages else None,
            "case_id": _pick(FIXTURES.cases),
        }
        for name, value in real.items():
            if name in params and value is not None:
                params[name] = value
        if "sku" in params and op.method.upper() == "GET":
            params["sku"] = _pick(FIXTURES.skus + ["TEA-100", "OLD-700"]) or params["sku"]
    body = case.body
    if not isinstance(body, dict):
        return
    if path == "/orders" and isinstance(body.get("lines"), list):
        for line in body["lines"]:
            if isinstance(line, dict) and FIXTURES.skus:
                line["sku"] = _pick(FIXTURES.skus)
    elif path == "/payments/notify":
        order = FIXTURES.unpaid_order()
        if order:
            body["order_id"] = order["id"]
            if _rng.random() < 0.8:
                body["amount_cents"] = order["total_cents"]
    elif path == "/suppliers/{supplier}/package-status" and FIXTURES.packages:
        package = _pick(FIXTURES.packages)
        body["package_id"] = package["id"]
        source = package["source"]
        if params is not None and _rng.random() < 0.8:
            params["supplier"] = {"dropship": source.get("supplier"), "jd": "jd"}.get(source["kind"]) or params["supplier"]
    elif path == "/orders/{id}/after-sales" and FIXTURES.packages:
        body["package_id"] = _pick(FIXTURES.packages)["id"]
        for line in body.get("lines") or []:
            if isinstance(line, dict) and FIXTURES.skus:
                line["sku"] = _pick(FIXTURES.skus)
    elif path == "/orders/{id}/cancel" and "package_id" in body and FIXTURES.packages:
        body["package_id"] = _pick(FIXTURES.packages)["id"]


def _package_of_linked_order(case) -> None:
    """A link gives POST /orders/{id}/after-sales a real order, but the body's
    package_id is still generated (or another order's): name a package of that
    order, as a client would, so that the answer is about the case and not a
    404 for the package (which Schemathesis would take for the order lost)."""
    body, params = case.body, case.path_parameters or {}
    if case.operation.path != "/orders/{id}/after-sales" or not isinstance(body, dict):
        return
    order_id = params.get("id")
    if isinstance(order_id, str) and not str(body.get("package_id", "")).startswith(f"{order_id}-P"):
        body["package_id"] = f"{order_id}-P01"


@schemathesis.hook
def filter_case(context, case):
    """Leave out bodies that are not UTF-8: cargo lambda watch answers them
    with its own 500 before any function runs (it hands functions JSON bodies
    as text). Deployed, API Gateway passes such a body on base64-encoded and
    the function refuses it (400 invalid_json), as it does locally for a body
    sent as application/octet-stream."""
    try:
        _raw_body(case).decode("utf-8")
    except UnicodeDecodeError:
        return False
    except (TypeError, ValueError):
        pass
    return True


# X-Signature placeholders replaced in a case's headers, to put back once the
# request is sent (see after_call), by id of the case.
_SIGNED: dict[int, str] = {}
_SIGNED_LOCK = threading.Lock()


@schemathesis.hook
def before_call(context, case, kwargs):
    op = case.operation
    # Never change the demo catalog: a PUT writes a SKU of our own, unless its
    # id is the invalid part of the case.
    if op.path == "/skus/{sku}" and op.method.upper() == "PUT" and case.path_parameters:
        negative_path = case.meta is not None and case.meta.is_negative_at(ParameterLocation.PATH)
        sku = str(case.path_parameters.get("sku", ""))
        if sku and not negative_path and not sku.startswith("ST-"):
            case.path_parameters["sku"] = ("ST-" + sku)[:64]
    if _positive(case) and not _stateful(case):
        _use_real_resources(case)
    if _stateful(case):
        _package_of_linked_order(case)
    if case.headers is None:
        case.headers = {}
    headers = case.headers
    schemes = _schemes(case)
    # The authorizer: only the configured token is a valid JWT.
    for name in IDENTITY_HEADERS:
        _drop(headers, name)
    if "JwtBearer" in schemes and _header(headers, "Authorization") == f"Bearer {DEV_TOKEN}":
        staff = _operation(case).get("x-required-role") == "staff" or (
            not _stateful(case) and _rng.random() < 0.15
        )
        headers["x-user-id"] = STAFF if staff else USER
        if staff:
            headers["x-user-role"] = "staff"
    # The payment provider and the suppliers sign what they send.
    for scheme in schemes & SIGNED_SCHEMES:
        if _header(headers, "X-Signature") == SIGN_PLACEHOLDER:
            try:
                raw = _raw_body(case)
            except (TypeError, ValueError):
                continue  # not JSON-serializable: sent unsigned, refused with 401
            _drop(headers, "X-Signature")
            supplier = (case.path_parameters or {}).get("supplier")
            secret = _secret(scheme, supplier)
            headers["X-Signature"] = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            with _SIGNED_LOCK:
                _SIGNED[id(case)] = SIGN_PLACEHOLDER


# cargo lambda watch's own answer when it fails to relay a function's answer
# (text/plain, its problem JSON; our functions only ever answer JSON).
_WATCH_500 = b'{"type":"https://httpstatuses.com/500"'


def _watch_failed(status: int, content: bytes) -> bool:
    return status == 500 and content.startswith(_WATCH_500)


def _retry_watch_glitch(response) -> None:
    """cargo lambda watch (1.9.2) now and then answers 500 itself, with no
    error in the function's log, mostly for answers of tens of KB (measured: 5
    in 300 reads of a 40 KB order, none of a 1 KB one). That is the emulator,
    not the API: send the same request again (up to twice) and judge the
    function's answer. A request that fails the same way every time is still
    reported."""
    if not _watch_failed(response.status_code, response.content):
        return
    from schemathesis.core.transport import Response

    with requests.Session() as session:
        for _ in range(2):
            again = session.send(response.request, timeout=60)
            if _watch_failed(again.status_code, again.content):
                continue
            print(
                f"schemathesis_hooks: cargo lambda watch answered 500 itself to "
                f"{response.request.method} {response.request.url}; sent again: {again.status_code}"
            )
            fresh = Response.from_requests(again, verify=response.verify)
            for slot in Response.__slots__:
                if slot not in ("request", "_override"):
                    setattr(response, slot, getattr(fresh, slot))
            return


@schemathesis.hook
def after_call(context, case, response):
    """Put the case back as generated: the checks derive probes from it (e.g.
    the same request without credentials, sent without these hooks), and those
    must reach the API with no identity and no valid signature, as they would
    through API Gateway."""
    _retry_watch_glitch(response)
    headers = case.headers or {}
    for name in IDENTITY_HEADERS:
        _drop(headers, name)
    with _SIGNED_LOCK:
        placeholder = _SIGNED.pop(id(case), None)
    if placeholder is not None:
        _drop(headers, "X-Signature")
        headers["X-Signature"] = placeholder
