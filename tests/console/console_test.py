"""The operator console in a real browser (issue 14): Debian's Chromium driven
by Playwright for Python, against a local stack of its own started by
scripts/console-test. Each scenario signs in as a role and works the queues
the way staff would; screenshots of every page go to $SCREENS.

Environment: CONSOLE_URL, API (the stack's API), SIM_URL (the supplier
simulator), SCREENS, PAYMENT_WEBHOOK_SECRET.
"""

import hashlib
import hmac
import json
import os
import sys
import time
import traceback
import urllib.error
import urllib.request

from playwright.sync_api import expect, sync_playwright

CONSOLE = os.environ["CONSOLE_URL"].rstrip("/") + "/"
API = os.environ["API"].rstrip("/")
SIM = os.environ["SIM_URL"].rstrip("/")
SCREENS = os.environ["SCREENS"]
SECRET = os.environ.get("PAYMENT_WEBHOOK_SECRET", "dev-payment-secret")
RUN = str(int(time.time()))
ADDRESS = {"name": "Li Lei", "phone": "13800000000", "line1": "1 Demo Road", "city": "Shanghai", "postcode": "200000"}


# ------------------------------------------------------------------ the API


def call(method, path, body=None, user="console-test", roles=None, warehouse=None, raw=None, headers=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(API + path, data=data, method=method)
    req.add_header("x-user-id", user)
    if roles:
        req.add_header("x-user-role", roles)
    if warehouse:
        req.add_header("x-warehouse", warehouse)
    if data is not None:
        req.add_header("content-type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, (json.loads(text) if text else None)


def ok(answer, want=(200, 201)):
    status, body = answer
    assert status in (want if isinstance(want, tuple) else (want,)), f"{status}: {body}"
    return body


def place(user, lines):
    return ok(call("POST", "/orders", {"lines": [{"sku": s, "qty": q} for s, q in lines], "address": ADDRESS}, user=user))


def pay(order):
    body = json.dumps({"order_id": order["id"], "payment_id": f"pay-{order['id']}",
                       "amount_cents": order["total_cents"], "paid_at": "2026-01-01T00:00:00Z"}).encode()
    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    ok(call("POST", "/payments/notify", raw=body, headers={"x-signature": sig}))


def order(user, oid):
    return ok(call("GET", f"/orders/{oid}", user=user))


def package_of(o, sku):
    return next(p for p in o["packages"] if p["lines"][0]["sku"] == sku)


def wait_until(what, check, secs=90):
    deadline = time.time() + secs
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def forwarded(user, oid, sku):
    return wait_until(f"{sku} of {oid} handed over",
                      lambda: package_of(order(user, oid), sku)["status"] == "forwarded")


def sim_mode(mode):
    req = urllib.request.Request(SIM + "/_sim/mode", data=json.dumps(mode).encode(), method="POST")
    req.add_header("content-type", "application/json")
    urllib.request.urlopen(req, timeout=30).read()


# ------------------------------------------------------------------ the browser


class Console:
    def __init__(self, page):
        self.page = page

    def shot(self, name):
        os.makedirs(SCREENS, exist_ok=True)
        self.page.screenshot(path=os.path.join(SCREENS, f"{name}.png"), full_page=True)

    def sign_in(self, user, roles=(), warehouse="", storefronts=""):
        p = self.page
        p.goto(CONSOLE)
        p.evaluate("localStorage.clear()")
        p.goto(CONSOLE + "#/")
        p.reload()
        form = p.locator("#signin")
        expect(form).to_be_visible()
        form.locator("input[name=user]").fill(user)
        for r in roles:
            form.locator(f"input[name=role][value={r}]").check()
        form.locator("input[name=warehouse]").fill(warehouse)
        form.locator("input[name=storefronts]").fill(storefronts)
        form.locator("button[type=submit]").click()
        expect(p.locator("#who")).to_contain_text(user)

    def go(self, hash_):
        self.page.goto(CONSOLE + hash_)
        self.page.wait_for_load_state("networkidle")

    def error(self):
        box = self.page.locator("#error")
        expect(box).to_be_visible()
        return box.inner_text()


# ------------------------------------------------------------------ scenarios


def setup():
    sim_mode({"intercept": "accept"})
    ship_me = place(f"ann-{RUN}", [("TEA-100", 1), ("MUG-200", 1), ("LAMP-300", 1)])
    pay(ship_me)
    ret = place(f"ben-{RUN}", [("TEA-100", 1)])
    pay(ret)
    forwarded(f"ann-{RUN}", ship_me["id"], "TEA-100")
    forwarded(f"ann-{RUN}", ship_me["id"], "MUG-200")
    forwarded(f"ben-{RUN}", ret["id"], "TEA-100")
    return ship_me, ret


def each_role_signs_in(c):
    c.sign_in("ops-admin", ["admin"])
    expect(c.page.locator("#summary")).to_contain_text("to ship from WH-1")
    c.shot("summary-admin")
    c.sign_in("ops-support", ["support"])
    expect(c.page.locator("#summary")).to_contain_text("need attention")
    expect(c.page.locator("#summary")).not_to_contain_text("to ship from")
    c.shot("summary-support")
    c.sign_in("ops-wh1", ["warehouse"], warehouse="WH-1")
    expect(c.page.locator("h1")).to_contain_text("Pick list")
    c.shot("pick-list-wh1")


def the_pick_list_ships_a_parcel(c, ship_me):
    tea = package_of(ship_me, "TEA-100")["id"]
    mug = package_of(ship_me, "MUG-200")["id"]
    c.sign_in("ops-wh1", ["warehouse"], warehouse="WH-1")
    c.go("#/pick")
    rows = c.page.locator("#pick-list")
    expect(rows).to_contain_text(tea)
    expect(rows).not_to_contain_text(mug)  # WH-2's parcel
    # The API's error is shown as its message: no carrier given.
    form = c.page.locator(f"form.ship[data-package='{tea}']")
    form.locator("button").click()
    assert "carrier" in c.error(), c.error()
    c.shot("api-error-shown")
    form.locator("input[name=carrier]").fill("SF")
    form.locator("input[name=tracking_no]").fill(f"SF-{RUN}")
    form.locator("button").click()
    expect(c.page.locator("#error")).to_be_hidden()
    expect(c.page.locator("body")).not_to_contain_text(tea)
    c.shot("pick-list-after-shipping")
    # Another warehouse's pick list is refused, and said so.
    c.go("#/pick?warehouse=WH-2")
    assert "role" in c.error().lower() or "forbidden" in c.error(), c.error()
    c.shot("pick-list-other-warehouse-refused")
    # The order page shows it shipped.
    c.sign_in("ops-admin", ["admin"])
    c.go(f"#/order/{ship_me['id']}")
    expect(c.page.locator(f"[data-package-status='{tea}']")).to_have_text("shipped")
    c.shot("order-shipped")
    c.page.set_viewport_size({"width": 390, "height": 844})
    c.page.reload()
    expect(c.page.locator(f"[data-package-status='{tea}']")).to_have_text("shipped")
    c.shot("order-shipped-phone")
    c.page.set_viewport_size({"width": 1280, "height": 900})


def support_completes_a_return(c, ret):
    user = f"ben-{RUN}"
    tea = package_of(ret, "TEA-100")["id"]
    ok(call("POST", f"/packages/{tea}/ship", {"carrier": "SF", "tracking_no": f"SF-R{RUN}"}, user="ops-admin", roles="admin"))
    ok(call("POST", f"/packages/{tea}/confirm-receipt", user=user))
    # The buyer's photo, uploaded through its presigned URL.
    png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d"
                        "49444154789c6360f8cf000000030101007cd2dd0a0000000049454e44ae426082")
    up = ok(call("POST", "/after-sales/uploads", {"content_type": "image/png", "bytes": len(png)}, user=user))
    put = urllib.request.Request(up["upload_url"], data=png, method="PUT")
    put.add_header("content-type", "image/png")
    urllib.request.urlopen(put, timeout=30).read()
    case = ok(call("POST", f"/orders/{ret['id']}/after-sales",
                   {"package_id": tea, "kind": "return_refund", "lines": [{"sku": "TEA-100", "qty": 1}],
                    "reason": "the tin was dented", "evidence": [up["key"]]}, user=user))
    c.sign_in("ops-support", ["support"])
    c.go("#/after-sales?status=requested")
    expect(c.page.locator("#cases")).to_contain_text(case["id"])
    c.shot("after-sales-requested")
    c.page.locator(f"a[href='#/case/{case['id']}']").click()
    img = c.page.locator("#evidence img")
    expect(img).to_be_visible()
    assert c.page.evaluate("document.querySelector('#evidence img').naturalWidth") == 1, "the photo loads"
    c.shot("case-review")
    review = c.page.locator("form[data-action=review]")
    review.locator("select[name=decision]").select_option("approve")
    review.locator("input[name=note]").fill("send it back")
    review.locator("button").click()
    expect(c.page.locator("#case-status")).to_have_text("approved")
    ok(call("POST", f"/after-sales/{case['id']}/return-shipment", {"carrier": "SF", "tracking_no": f"BACK-{RUN}"}, user=user))
    c.page.reload()
    expect(c.page.locator("#case-status")).to_have_text("return_shipped")
    complete = c.page.locator("form[data-action=complete]")
    complete.locator("input[name=note]").fill("received back, refund")
    complete.locator("button").click()
    expect(c.page.locator("#case-status")).to_have_text("completed")
    c.go(f"#/order/{ret['id']}")
    refund = c.page.locator("#money .refund")
    expect(refund).to_contain_text("¥")
    expect(refund).to_contain_text("pending")
    c.shot("order-refunded")


def the_attention_list_resolves_an_intercept(c):
    user = f"cal-{RUN}"
    o = place(user, [("LAMP-300", 1)])
    pay(o)
    lamp = package_of(forwarded(user, o["id"], "LAMP-300") and order(user, o["id"]), "LAMP-300")["id"]
    sim_mode({"intercept": "pending"})
    try:
        ok(call("POST", f"/orders/{o['id']}/cancel", {}, user=user))
        # The sweep (every second here) hands the unanswered intercept to staff.
        wait_until("the intercept on the attention list", lambda: any(
            i.get("package_id") == lamp
            for i in ok(call("GET", "/staff/attention", user="ops-support", roles="support"))["items"]))
    finally:
        sim_mode({"intercept": "accept"})
    c.sign_in("ops-support", ["support"])
    c.go("#/attention")
    expect(c.page.locator("#attention")).to_contain_text("intercept_unanswered")
    c.shot("attention")
    form = c.page.locator(f"form.resolve[data-package='{lamp}']")
    form.locator("select[name=outcome]").select_option("intercepted")
    form.locator("input[name=note]").fill("the supplier confirmed by phone")
    form.locator("button").click()
    expect(c.page.locator("body")).not_to_contain_text(f"Resolve {lamp}")
    c.go(f"#/order/{o['id']}")
    expect(c.page.locator(f"[data-package-status='{lamp}']")).to_have_text("cancelled")
    c.shot("order-intercepted")


def search_and_storefront_switch(c, ship_me):
    ok(call("PUT", "/storefronts/app", {"name": "App"}, user="ops-admin", roles="admin"))
    c.sign_in("ops-admin", ["admin"])
    c.go(f"#/search?user_id=ann-{RUN}")
    expect(c.page.locator("#orders")).to_contain_text(ship_me["id"])
    expect(c.page.locator("#storefront")).to_be_visible()
    c.shot("search")


def main():
    ship_me, ret = setup()
    failures = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(30_000)
        c = Console(page)
        scenarios = [
            ("each role signs in", lambda: each_role_signs_in(c)),
            ("the pick list ships a parcel", lambda: the_pick_list_ships_a_parcel(c, ship_me)),
            ("support completes a return", lambda: support_completes_a_return(c, ret)),
            ("the attention list resolves an intercept", lambda: the_attention_list_resolves_an_intercept(c)),
            ("search and the storefront switch", lambda: search_and_storefront_switch(c, ship_me)),
        ]
        for name, run in scenarios:
            try:
                run()
                print(f"ok   {name}")
            except Exception:
                failures.append(name)
                print(f"FAIL {name}\n{traceback.format_exc()}")
                try:
                    c.shot("failed-" + name.replace(" ", "-"))
                except Exception:
                    pass
        browser.close()
    print(f"{len(scenarios) - len(failures)} passed, {len(failures)} failed; screenshots in {SCREENS}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
