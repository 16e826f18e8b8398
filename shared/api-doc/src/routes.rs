//! Every HTTP route of SPEC section 3: who may call it, what it takes, what it
//! answers, and which error codes it answers with which status. The codes are
//! read from the route's function (`functions/*/src/lib.rs`), the HTTP glue
//! (`shared/adapters/src/http.rs`) and the domain's `Problem` impls; a code
//! listed here that a route cannot answer is harmless, a code it answers that
//! is not listed fails the Schemathesis run (`scripts/schemathesis`), whose
//! response checks hold every answer to these lists.

use crate::{
    schema_ref, ApiError, AttentionList, CaseQueue, GatewayError, OrderList, PackageQueue,
    RepurchaseAnswer,
};
use domain::after_sales::case::AfterSalesCase;
use domain::catalog::Sku;
use domain::fulfilment::packages::Synced;
use domain::ids::{CaseId, OrderId, PackageId, SkuId, SupplierId};
use domain::storefront::{Storefront, StorefrontInput};
use domain::view::OrderView;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Who may call a route, and how it is authenticated.
pub use ::routes::Access;
use ::routes::RouteId;

/// The name of the security scheme of `access`, if any.
fn scheme(access: Access) -> Option<&'static str> {
    match access {
        Access::Public => None,
        Access::User | Access::Staff => Some("JwtBearer"),
        Access::PaymentWebhook => Some("PaymentSignature"),
        Access::SupplierWebhook => Some("SupplierSignature"),
    }
}

/// One operation.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub id: String,
    pub tag: &'static str,
    pub access: Access,
    summary: &'static str,
    description: String,
    params: Vec<Value>,
    body: Option<Value>,
    ok: Vec<(u16, Value)>,
    errors: BTreeMap<u16, Vec<&'static str>>,
    /// Properties beside `error` in one status's error answer.
    error_extras: BTreeMap<u16, Value>,
    /// A security scheme other than the access's own (WeChat Pay's headers).
    signed_by: Option<&'static str>,
}

impl Route {
    /// The documentation of the route `rid` of the route table: its method,
    /// path, access and operation id come from there.
    fn of(rid: RouteId, tag: &'static str, summary: &'static str) -> Self {
        let t = ::routes::route(rid);
        let method = match t.method {
            "GET" => "get",
            "PUT" => "put",
            "DELETE" => "delete",
            "PATCH" => "patch",
            _ => "post",
        };
        let (path, id, access) = (t.path, t.operation_id(), t.access);
        let mut r = Route {
            method,
            path,
            id,
            tag,
            access,
            summary,
            description: String::new(),
            params: Vec::new(),
            body: None,
            ok: Vec::new(),
            errors: BTreeMap::new(),
            error_extras: BTreeMap::new(),
            signed_by: None,
        };
        match access {
            Access::Public => {}
            Access::User => {
                r = r
                    .errors(401, &["unauthorized"])
                    .param(storefront_header())
                    .errors(404, &["unknown_storefront"])
            }
            Access::Staff => {
                r = r
                    .errors(401, &["unauthorized"])
                    .errors(403, &["forbidden"])
                    .param(storefront_header())
                    .param(staff_storefronts_header())
                    .errors(404, &["unknown_storefront"])
            }
            Access::PaymentWebhook | Access::SupplierWebhook => {
                r = r.errors(401, &["invalid_signature"])
            }
        }
        r
    }

    fn describe(mut self, text: &str) -> Self {
        self.description = text.trim().to_owned();
        if self.access == Access::Staff {
            self.description = format!("**Staff only.** {}", self.description);
        }
        self
    }

    fn param(mut self, p: Value) -> Self {
        self.params.push(p);
        self
    }

    fn params(mut self, ps: Vec<Value>) -> Self {
        self.params.extend(ps);
        self
    }

    /// A JSON body of `schema`: required unless `required` is false. Every
    /// function reads bodies through `http::body`, which refuses more than 64 KiB.
    fn body(mut self, schema: Value, required: bool, example: Option<Value>) -> Self {
        let mut media = json!({ "schema": schema });
        if let Some(example) = example {
            media["example"] = example;
        }
        self.body = Some(json!({
            "required": required,
            "content": { "application/json": media },
        }));
        self.errors(413, &["payload_too_large"])
    }

    fn ok(mut self, status: u16, response: Value) -> Self {
        self.ok.push((status, response));
        self
    }

    fn errors(mut self, status: u16, codes: &[&'static str]) -> Self {
        let list = self.errors.entry(status).or_default();
        for c in codes {
            if !list.contains(c) {
                list.push(c);
            }
        }
        self
    }

    /// Verified by `scheme` rather than the access's own.
    fn signed_by(mut self, scheme: &'static str) -> Self {
        self.signed_by = Some(scheme);
        self
    }

    fn error_extras(mut self, status: u16, properties: Value) -> Self {
        self.error_extras.insert(status, properties);
        self
    }

    /// The OpenAPI Operation object.
    pub fn operation(&self) -> Value {
        let mut op = Map::new();
        op.insert("operationId".into(), json!(self.id));
        op.insert("tags".into(), json!([self.tag]));
        op.insert("summary".into(), json!(self.summary));
        op.insert("description".into(), json!(self.description));
        op.insert(
            "security".into(),
            match self.signed_by.or(scheme(self.access)) {
                None => json!([]),
                Some(s) => json!([{ s: [] }]),
            },
        );
        if self.access == Access::Staff {
            op.insert("x-required-role".into(), json!("staff"));
        }
        if !self.params.is_empty() {
            op.insert("parameters".into(), json!(self.params));
        }
        if let Some(body) = &self.body {
            op.insert("requestBody".into(), body.clone());
        }
        let mut responses = Map::new();
        for (status, r) in &self.ok {
            responses.insert(status.to_string(), r.clone());
        }
        for (status, codes) in &self.errors {
            let mut schema = error_schema(codes);
            if let Some(extra) = self.error_extras.get(status) {
                schema["allOf"]
                    .as_array_mut()
                    .expect("allOf")
                    .push(json!({ "type": "object", "properties": extra }));
            }
            if *status == 401 && scheme(self.access) == Some("JwtBearer") {
                schema = json!({ "oneOf": [schema, schema_ref::<GatewayError>()] });
            }
            responses.insert(
                status.to_string(),
                json!({
                    "description": describe_codes(codes),
                    "content": { "application/json": { "schema": schema } },
                }),
            );
        }
        responses.insert(
            "500".into(),
            json!({ "$ref": "#/components/responses/Internal" }),
        );
        responses.insert(
            "503".into(),
            json!({ "$ref": "#/components/responses/Busy" }),
        );
        op.insert("responses".into(), Value::Object(responses));
        Value::Object(op)
    }
}

/// `ApiError` with `error.code` one of `codes`.
pub fn error_schema(codes: &[&str]) -> Value {
    json!({
        "allOf": [
            schema_ref::<ApiError>(),
            { "type": "object", "properties": { "error": {
                "type": "object",
                "properties": { "code": { "enum": codes } },
            }}},
        ],
    })
}

/// What each code means (README "API notes").
fn meaning(code: &str) -> &'static str {
    match code {
        "invalid_json" => "the body is not JSON (or a number is out of any range)",
        "invalid_request" => {
            "wrong shape: a missing or unknown field, a wrong type, a malformed id or value"
        }
        "invalid_idempotency_key" => "`Idempotency-Key` is not 1 to 128 visible ASCII characters",
        "invalid_limit" => "`limit` is not 1 to 100",
        "invalid_cursor" => "`cursor` is not one this API gave the caller",
        "invalid_evidence" => "evidence must be 1 to 9 https URLs or storage keys",
        "unauthorized" => "no identity (no valid JWT)",
        "invalid_signature" => "`X-Signature` is missing or wrong; nothing changed",
        "forbidden" => "staff only",
        "owner_only" => "only the case's owner takes this step, not staff",
        "wrong_supplier" => "the package is not fulfilled by this supplier (or is self-operated)",
        "sku_not_found" => "no such SKU; `details` name it (`sku`, `skus`)",
        "order_not_found" => "no such order, or another user's (never 403)",
        "package_not_found" => "no such package, or another user's",
        "case_not_found" => "no such after-sales case, or another user's",
        "payload_too_large" => "the body is over 64 KiB",
        "out_of_stock" => "not enough stock; `details.skus`: `[{sku, requested, available}]`",
        "order_too_large" => "the order has grown too large to change further",
        "nothing_to_repurchase" => {
            "no line can be bought again; the `report` is beside the error, `order` is null"
        }
        "amount_mismatch" => {
            "the amount is not the order total; nothing changed; `details`: \
             `{expected_cents, amount_cents}`"
        }
        "order_closed" => {
            "the order was cancelled or closed: this payment is refunded; `details`: \
             `{order_id, status, refund}`"
        }
        "already_paid" => {
            "the order was paid by another payment: this one is refunded; `details`: \
             `{order_id, status, refund}`"
        }
        "use_after_sales" => "a package has shipped: open an after-sales case instead",
        "package_not_cancellable" => "only a paid package not yet with its supplier",
        "invalid_state" => "the order or package state machine does not allow this step",
        "not_self_operated" => "only self-operated packages are shipped by staff",
        "order_not_paid" => "the order is not paid",
        "package_cancelled" => "the package was cancelled",
        "nothing_to_resolve" => "the package is not waiting for a resolution (no intercept requested, no hand-over given up)",
        "package_not_shipped" => "the package has not shipped",
        "package_not_received" => "after-sales opens once the package is received (or rejected)",
        "after_sales_window_closed" => "more than `AFTER_SALES_DAYS` since receipt",
        "case_already_open" => "another case is open on a line of this package",
        "exchange_of_refunded_package" => "a rejected package was refunded already: it takes no exchange (open a refund case)",
        "exchange_too_large" => "the exchange's lines and stock do not fit one transaction: complete it as a refund (`\"as\": \"refund\"`)",
        "too_many_cases" => "the order has its maximum of after-sales cases",
        "quantity_exceeds_received" => {
            "a line claims more than was received less what other cases claim; \
             `details.lines`: `[{sku, requested, claimable}]`"
        }
        "invalid_case_state" => {
            "the case state machine does not allow this step; `details`: `{from, to}`"
        }
        "payment_id_reused" => "this payment id was already used for another order",
        "invalid_qty" => "qty must be 1 to 999 once duplicate lines are merged",
        "too_many_lines" => "at most 50 lines (and one DynamoDB transaction)",
        "empty_order" => "an order needs at least one line",
        "invalid_address" => "each address field must be 1 to its maximum characters",
        "delisted" => "a SKU is no longer sold; `details` name it",
        "not_listed_here" => {
            "a SKU is not sold in the request's storefront; `details` name it and the storefront"
        }
        "unknown_storefront" => "the storefront named (or its id) does not exist",
        "invalid_storefront" => "a storefront setting is out of range; the message says which",
        "purchase_limit" => {
            "over a SKU's per-user limit; `details.skus`: `[{sku, limit, requested, held}]`"
        }
        "idempotency_key_reused" => "this `Idempotency-Key` was used with another request",
        "invalid_sku" => "a field of the SKU is out of range (the message says which)",
        "attention_item_not_found" => "no such open attention item (or another storefront's)",
        "refund_not_found" => "no such refund (or another storefront's order)",
        "refund_not_failed" => "the refund is not `failed` (pending, processing or succeeded)",
        "not_acknowledgeable" => "this attention item ends by its own route (`resolve`), not by acknowledging",
        "internal" => "an internal failure",
        "busy" => "too many changes at once",
        "not_payable" => "the order is not awaiting payment (paid, cancelled or closed)",
        "payment_deadline_passed" => "the order's payment deadline has passed",
        "payment_channel_not_configured" => {
            "the order's storefront has no WeChat Pay credentials (or no `PUBLIC_BASE_URL` is set)"
        }
        "payment_refused" => "WeChat Pay refused the payment (the message gives its code)",
        other => panic!("no meaning written for error code {other}"),
    }
}

/// `storefront`, `limit` and `cursor` of every staff list.
fn staff_list_params() -> Vec<Value> {
    vec![
        json!({
            "name": "storefront", "in": "query", "required": false,
            "description": "One storefront the caller serves (another is 403); left out or \
                `all`, every storefront it serves.",
            "schema": { "type": "string", "pattern": "^(all|[a-z0-9-]{1,32})$" },
        }),
        json!({
            "name": "limit", "in": "query", "required": false,
            "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 },
        }),
        json!({
            "name": "cursor", "in": "query", "required": false,
            "description": "`next_cursor` of the previous page (opaque).",
            "schema": { "type": "string" },
        }),
    ]
}

fn describe_codes(codes: &[&str]) -> String {
    codes
        .iter()
        .map(|c| format!("- `{c}`: {}", meaning(c)))
        .collect::<Vec<_>>()
        .join("\n")
}

fn json_response(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": schema } },
    })
}

fn with_links(mut response: Value, links: Value) -> Value {
    response["links"] = links;
    response
}

fn with_replay_header(mut response: Value) -> Value {
    response["headers"] = json!({ "idempotent-replayed": {
        "description": "`true` when an earlier request with the same `Idempotency-Key` \
            made this order: the answer is that order, nothing new was placed.",
        "schema": { "type": "string", "enum": ["true"] },
    }});
    response
}

fn path_param(name: &str, schema: Value, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "required": true,
        "description": description,
        "schema": schema,
    })
}

fn sku_param() -> Value {
    path_param(
        "sku",
        schema_ref::<SkuId>(),
        "A SKU id; a malformed one is 404 like an unknown one.",
    )
}

fn order_param() -> Value {
    path_param(
        "id",
        schema_ref::<OrderId>(),
        "An order id; a malformed one is 404 like an unknown one.",
    )
}

fn package_param() -> Value {
    path_param(
        "package_id",
        schema_ref::<PackageId>(),
        "A package id (`<order id>-P<nn>`); a malformed one is 404.",
    )
}

fn case_param() -> Value {
    path_param(
        "case_id",
        schema_ref::<CaseId>(),
        "An after-sales case id (`<order id>-C<nn>`); a malformed one is 404.",
    )
}

/// The storefront of a request (SPEC 2.13), locally; deployed, the JWT's app client decides.
fn storefront_header() -> Value {
    json!({
        "name": "x-storefront",
        "in": "header",
        "required": false,
        "description": "Local only (`AUTH_MODE=dev-headers`): the storefront of the \
            request; left out, `default`. Deployed, the app client the JWT was issued to \
            decides (the storefront whose `app_client_ids` name it; else `default`). A \
            storefront that does not exist is 404 `unknown_storefront`.",
        "schema": { "type": "string", "pattern": "^[a-z0-9-]{1,32}$" },
        "example": "default",
    })
}

/// A staff user's storefront limit, locally.
fn staff_storefronts_header() -> Value {
    json!({
        "name": "x-storefronts",
        "in": "header",
        "required": false,
        "description": "Local only: the storefronts a staff user is limited to, \
            comma-separated (deployed: the claim `custom:storefronts`); left out, all. \
            Another storefront's order or settings are 404. Entries that are not \
            storefront ids grant nothing.",
        "schema": { "type": "string" },
        "example": "default,mini-program",
    })
}

fn storefront_id_param() -> Value {
    path_param(
        "id",
        json!({ "type": "string", "pattern": "^[a-z0-9-]{1,32}$" }),
        "A storefront id; a malformed one is 404 `unknown_storefront`.",
    )
}

fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a retry safe: a retry with the same key (per user, kept 7 \
            days) answers 200 with the order the first request made; the same key with a \
            different request is 422 `idempotency_key_reused`. 1 to 128 visible ASCII \
            characters, no spaces (surrounding whitespace is trimmed). A refused \
            placement does not spend the key.",
        "schema": { "type": "string", "pattern": "^[!-~]{1,128}[ \\t]*$" },
        "example": "3f1c2a9e-checkout-1",
    })
}

fn order_links() -> Value {
    let id = json!({ "id": "$response.body#/id" });
    json!({
        "GetOrder": { "operationId": "getOrder", "parameters": id,
            "description": "Read the order again." },
        "CancelOrder": { "operationId": "cancelOrder", "parameters": id,
            "description": "Cancel it (while the `cancel` action is offered)." },
        "RepurchaseOrder": { "operationId": "repurchaseOrder", "parameters": id,
            "description": "Buy its lines again." },
        "OpenAfterSalesCase": { "operationId": "openAfterSalesCase", "parameters": id,
            "description": "Open an after-sales case on a received package." },
    })
}

fn case_links() -> Value {
    let id = json!({ "case_id": "$response.body#/id" });
    json!({
        "GetAfterSalesCase": { "operationId": "getAfterSalesCase", "parameters": id },
        "ReviewAfterSalesCase": { "operationId": "reviewAfterSalesCase", "parameters": id },
        "ShipAfterSalesReturn": { "operationId": "shipAfterSalesReturn", "parameters": id },
        "CompleteAfterSalesCase": { "operationId": "completeAfterSalesCase", "parameters": id },
        "WithdrawAfterSalesCase": { "operationId": "withdrawAfterSalesCase", "parameters": id },
    })
}

/// The tags, in the order a reader meets them.
pub fn tags() -> Value {
    json!([
        { "name": "catalog", "description": "SKUs: price, source, stock (SPEC 2.1)." },
        { "name": "storefronts", "description": "The storefronts sharing this back end: \
            their settings and app clients (SPEC 2.13)." },
        { "name": "orders", "description": "Placing, reading, cancelling and buying again \
            (SPEC 2.2, 2.6, 2.9, 2.10)." },
        { "name": "payments", "description": "The payment provider's signed notification \
            (SPEC 2.3)." },
        { "name": "refunds", "description": "Refunds through the payment's own channel: the \
            provider's refund notifications, staff's retry and offline record (SPEC 2.12)." },
        { "name": "packages", "description": "Package status: supplier callbacks, staff \
            shipping, receipt (SPEC 2.5)." },
        { "name": "after-sales", "description": "Refunds, returns and exchanges on received \
            packages (SPEC 2.8)." },
    ])
}

/// Every route, in SPEC 3's order.
pub fn routes() -> Vec<Route> {
    let order = || schema_ref::<OrderView>();
    let case = || schema_ref::<AfterSalesCase>();
    let place_example = json!({
        "lines": [
            { "sku": "TEA-100", "qty": 2 },
            { "sku": "LAMP-300", "qty": 1 },
            { "sku": "JD-CABLE-600", "qty": 1 },
        ],
        "address": {
            "name": "Alice", "phone": "13800000000", "line1": "1 Demo Road",
            "city": "Shanghai", "postcode": "200000",
        },
        "note": "leave at the door",
    });
    let notify = |id: RouteId| {
        Route::of(id, "payments", "Payment notification (payment provider)")
            .describe(
                "Signed by the payment provider (`X-Signature`, no JWT). Idempotent on \
                 `payment_id`: a repeated notification answers as the first one did and \
                 changes nothing. The amount must equal the order total. On success the order \
                 is `awaiting_shipment` and each package is queued for forwarding after \
                 `INTERCEPT_WINDOW_SECS`. Every payment ends on a paid order or a recorded \
                 refund: out of stock at payment (the order is closed), paid after \
                 cancel/expiry, or paid twice are 409 with the refund in `details`. The answer \
                 is the order without the buyer's address and with no `actions`.",
            )
            .body(
                json!({ "$ref": "#/components/schemas/PaymentNotice" }),
                true,
                Some(json!({
                    "order_id": "01KB2R5TQ7X3M9Y0ZB1C2D3E4F", "payment_id": "pay-20261125-0001",
                    "amount_cents": 6980, "paid_at": "2026-11-25T03:11:38Z",
                })),
            )
            .ok(
                200,
                json_response("The paid order (or, for a repeat, as it is).", order()),
            )
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(404, &["order_not_found"])
            .errors(
                409,
                &[
                    "amount_mismatch",
                    "out_of_stock",
                    "order_closed",
                    "already_paid",
                    "order_too_large",
                ],
            )
            .errors(422, &["payment_id_reused"])
    };
    let wechat_body = || {
        json!({
            "type": "object",
            "required": ["id", "event_type", "resource"],
            "properties": {
                "id": { "type": "string" },
                "create_time": { "type": "string" },
                "event_type": { "type": "string" },
                "resource_type": { "type": "string" },
                "summary": { "type": "string" },
                "resource": {
                    "type": "object",
                    "required": ["algorithm", "ciphertext", "nonce"],
                    "properties": {
                        "algorithm": { "type": "string", "enum": ["AEAD_AES_256_GCM"] },
                        "ciphertext": { "type": "string" },
                        "associated_data": { "type": "string" },
                        "original_type": { "type": "string" },
                        "nonce": { "type": "string" },
                    },
                },
            },
        })
    };
    let wechat_headers = || {
        ["Timestamp", "Nonce", "Serial"]
            .into_iter()
            .map(|h| {
                json!({
                    "name": format!("Wechatpay-{h}"), "in": "header", "required": true,
                    "schema": { "type": "string" },
                })
            })
            .collect::<Vec<_>>()
    };
    let wechat_example = || {
        json!({
            "id": "EV-2018022511223320873", "create_time": "2026-12-05T10:00:00+08:00",
            "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": { "original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": "…", "associated_data": "transaction", "nonce": "fdasflkja484w" },
        })
    };
    let wechat_notify = |id: RouteId| {
        Route::of(id, "payments", "Payment notification (WeChat Pay)")
            .signed_by("WechatpaySignature")
            .describe(
                "WeChat Pay API v3's payment notification (SPEC 2.12), verified with the key \
                 `Wechatpay-Serial` names (a platform certificate or a `PUB_KEY_ID_...`, \
                 timestamps within 5 minutes) and its resource decrypted \
                 (`AEAD_AES_256_GCM`, the API v3 key), both of the storefront's merchant \
                 account; `mchid` and `appid` must be its. A `SUCCESS` transaction pays \
                 the order (`out_trade_no`) by the rules of `POST /payments/notify`, its \
                 `transaction_id` the payment id and `amount.total` the amount; a wrong \
                 amount, a late or a second payment is recorded for refund. Once \
                 processed the answer is 204 whatever the order's outcome (WeChat sends \
                 anything else again for a day); only a notification that does not \
                 verify or decrypt is 401, and changes nothing.",
            )
            .params(wechat_headers())
            .body(wechat_body(), true, Some(wechat_example()))
            .ok(
                204,
                json!({ "description": "Processed (whatever became of the order)." }),
            )
    };
    let wechat_refund_notify = |id: RouteId| {
        Route::of(id, "refunds", "Refund notification (WeChat Pay)")
            .signed_by("WechatpaySignature")
            .describe(
                "WeChat Pay API v3's refund notification (SPEC 2.12), verified and \
                 decrypted as the payment notification is. Its `refund_status` \
                 (`SUCCESS`, `ABNORMAL`, `CLOSED`) moves the refund sent under \
                 `out_refund_no` to `succeeded` or `failed` (`abnormal`, `closed`: on the \
                 attention list); a repeated or stale one changes nothing. 204 once \
                 processed; 401 when it does not verify or decrypt.",
            )
            .params(wechat_headers())
            .body(wechat_body(), true, None)
            .ok(204, json!({ "description": "Processed." }))
    };
    let refund_notify = |id: RouteId| {
        Route::of(id, "refunds", "Refund notification (payment gateway)")
            .describe(
                "Signed by the payment gateway with the storefront's secret (`X-Signature`, \
                 no JWT; SPEC 2.12): the refund sent under `refund_id` (the refund id, or \
                 `<refund id>-<n>` after a retry of a closed one) is now `processing`, \
                 `succeeded` or `failed` (taken as `closed`). Idempotent: a repeated or \
                 stale notification (a refund already settled, an earlier number) changes \
                 nothing and answers the refund as it stands. A failed refund goes on the \
                 attention list.",
            )
            .body(
                schema_ref::<domain::payment::refund::GatewayRefundNotice>(),
                true,
                Some(json!({
                    "refund_id": "01KB2R5TQ7X3M9Y0ZB1C2D3E4F-R01", "status": "succeeded",
                    "gateway_refund_id": "GW-000001",
                })),
            )
            .ok(
                200,
                json_response(
                    "The refund as it stands.",
                    json!({
                        "type": "object",
                        "required": ["refund_id", "status", "order_id"],
                        "properties": {
                            "refund_id": { "type": "string" },
                            "status": schema_ref::<domain::order::RefundStatus>(),
                            "order_id": schema_ref::<OrderId>(),
                        },
                    }),
                ),
            )
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(404, &["refund_not_found"])
    };
    let refund_param = || {
        path_param(
            "refund_id",
            json!({ "type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}-R[0-9]{2,4}$" }),
            "A refund id, as the order's `refunds` list it.",
        )
    };
    vec![
        // ---------------------------------------------------------------- catalog
        Route::of(RouteId::GetSku, "catalog", "Read a SKU")
            .describe("A catalog entry with its available stock (the sum of its shards). Public: no JWT.")
            .param(sku_param())
            .ok(200, json_response("The SKU.", schema_ref::<Sku>()))
            .errors(404, &["sku_not_found"]),
        Route::of(RouteId::PutSku, "catalog", "Create or change a SKU")
            .describe(
                "Creates the SKU or replaces its fields. `available` left out keeps the \
                 current stock (so that staff setting a price never race buyers); \
                 `listed` defaults to true; leaving out `per_user_limit` removes the \
                 limit; `stock_shards` left out keeps the shard count. Unknown fields are \
                 refused.",
            )
            .param(sku_param())
            .body(
                schema_ref::<domain::catalog::SkuInput>(),
                true,
                Some(json!({
                    "name": "Green tea 100 g", "price_cents": 1990,
                    "source": { "kind": "self", "warehouse": "WH-1" },
                    "stock_policy": "lock_on_place", "listed": true, "available": 500,
                })),
            )
            .ok(
                200,
                with_links(
                    json_response("The SKU as stored.", schema_ref::<Sku>()),
                    json!({ "GetSku": { "operationId": "getSku",
                        "parameters": { "sku": "$response.body#/sku" } } }),
                ),
            )
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(404, &["sku_not_found"])
            .errors(422, &["invalid_sku"]),
        // ---------------------------------------------------------------- storefronts
        Route::of(RouteId::ListStorefronts, "storefronts", "List the storefronts")
            .describe(
                "Every storefront the caller serves, `default` first (it exists even when \
                 none is stored: the environment's settings).",
            )
            .ok(
                200,
                json_response(
                    "The storefronts.",
                    json!({ "type": "object", "required": ["storefronts"],
                        "properties": { "storefronts": { "type": "array",
                            "items": schema_ref::<Storefront>() } } }),
                ),
            ),
        Route::of(RouteId::GetStorefront, "storefronts", "Read a storefront")
            .describe("Its settings: names of its secrets, never their values.")
            .param(storefront_id_param())
            .ok(200, json_response("The storefront.", schema_ref::<Storefront>())),
        Route::of(RouteId::PutStorefront, "storefronts", "Create or replace a storefront")
            .describe(
                "Its settings over the environment's defaults (freight, time to pay, \
                 after-sales window, service phone), the app clients whose buyers it \
                 serves, and the NAMES of its secrets in the secret store (`payment_webhook`, \
                 `wechatpay`). A setting left out takes the environment's default. Orders \
                 keep the terms of their placement.",
            )
            .param(storefront_id_param())
            .body(
                schema_ref::<StorefrontInput>(),
                true,
                Some(json!({
                    "name": "WeChat mini-program", "freight_cents": 800,
                    "free_shipping_over_cents": 19900, "after_sales_days": 15,
                    "app_client_ids": ["7f3k2mini"],
                    "secret_names": { "payment_webhook": "orders/mini-program/payment" },
                })),
            )
            .ok(200, json_response("The storefront as stored.", schema_ref::<Storefront>()))
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(422, &["invalid_storefront"]),
        // ---------------------------------------------------------------- orders
        Route::of(RouteId::CreateOrder, "orders", "Place an order")
            .describe(
                "Prices every line from the catalog (never from the client), merges \
                 duplicate SKUs, splits the order into one package per fulfilment source, \
                 allocates the freight (`FREIGHT_POLICY`), and writes the order with its \
                 `lock_on_place` reservations and per-user limit counts in one \
                 transaction. The new order is `pending_payment` until \
                 `payment_deadline`. `deduct_on_pay` lines are never refused here; a \
                 scarce one carries a `scarce` warning.",
            )
            .param(idempotency_key())
            .body(
                json!({ "$ref": "#/components/schemas/PlaceOrderRequest" }),
                true,
                Some(place_example),
            )
            .ok(201, with_links(json_response("The new order.", order()), order_links()))
            .ok(
                200,
                with_replay_header(json_response(
                    "A replay: the order an earlier request with this `Idempotency-Key` made.",
                    order(),
                )),
            )
            .errors(400, &["invalid_idempotency_key", "invalid_json", "invalid_request"])
            .errors(404, &["sku_not_found"])
            .errors(409, &["out_of_stock", "order_too_large"])
            .errors(
                422,
                &[
                    "invalid_qty",
                    "too_many_lines",
                    "empty_order",
                    "invalid_address",
                    "delisted",
                    "not_listed_here",
                    "purchase_limit",
                    "idempotency_key_reused",
                ],
            ),
        Route::of(RouteId::RepurchaseOrder, "orders", "Buy an earlier order again",
        )
        .describe(
            "Checks each line of the caller's earlier order against today's catalog \
             (`delisted`, also for a SKU that no longer exists; `insufficient_stock` with \
             what is available; price changes) and places a new order of what can be \
             bought, at today's prices, to the earlier order's address. `?dry_run=true` \
             only reports. Honours `Idempotency-Key` like placing. No request body.",
        )
        .param(order_param())
        .param(json!({
            "name": "dry_run",
            "in": "query",
            "required": false,
            "description": "`true` (or `1`, or empty): only the report, nothing is placed.",
            "schema": { "type": "string", "enum": ["true", "false", "1", "0", ""] },
        }))
        .param(idempotency_key())
        .ok(
            201,
            with_links(
                json_response("The report and the new order.", schema_ref::<RepurchaseAnswer>()),
                json!({ "GetOrder": { "operationId": "getOrder",
                    "parameters": { "id": "$response.body#/order/id" } } }),
            ),
        )
        .ok(
            200,
            with_replay_header(json_response(
                "A dry run (the report, `order` null), or a replay of an earlier request \
                 with this `Idempotency-Key` (with `idempotent-replayed: true`).",
                schema_ref::<RepurchaseAnswer>(),
            )),
        )
        .errors(400, &["invalid_idempotency_key", "invalid_request"])
        .errors(404, &["order_not_found", "sku_not_found"])
        .errors(409, &["nothing_to_repurchase", "out_of_stock", "order_too_large"])
        .error_extras(
            409,
            json!({
                "report": schema_ref::<domain::checkout::repurchase::RepurchaseReport>(),
                "order": { "type": "null" },
            }),
        )
        .errors(
            422,
            &["delisted", "purchase_limit", "idempotency_key_reused", "too_many_lines"],
        ),
        Route::of(RouteId::ListOrders, "orders", "List the caller's orders")
            .describe(
                "The caller's own orders, newest first, `limit` at a time. \
                 `next_cursor` is null on the last page (never an empty extra page); \
                 a cursor only resumes the caller's own list.",
            )
            .param(json!({
                "name": "limit", "in": "query", "required": false,
                "description": "Orders per page.",
                "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 },
            }))
            .param(json!({
                "name": "cursor", "in": "query", "required": false,
                "description": "`next_cursor` of the previous page (opaque). Empty: the first page.",
                "schema": { "type": "string" },
            }))
            .param(json!({
                "name": "storefront", "in": "query", "required": false,
                "description": "Whose orders to list (SPEC 2.13): left out, those placed in \
                    the request's storefront; `all`, every storefront's; an id, that \
                    storefront's.",
                "schema": { "type": "string", "pattern": "^(all|[a-z0-9-]{1,32})$" },
            }))
            .ok(200, json_response("A page of orders.", schema_ref::<OrderList>()))
            .errors(400, &["invalid_limit", "invalid_cursor"]),
        Route::of(RouteId::GetOrder, "orders", "Read an order")
            .describe(
                "The order with its lines, packages (status, supplier reference, \
                 carrier, tracking, times), freight allocation, refunds, cases, the \
                 derived status, the timeline, and `actions`: what the caller may do now. \
                 Owners see their own orders, staff any; another user's order is 404.",
            )
            .param(order_param())
            .ok(200, json_response("The order.", order()))
            .errors(404, &["order_not_found"]),
        Route::of(RouteId::AddOrderNote, "orders", "Add a staff note to an order")
            .describe(
                "Support or admin: a note on the order's timeline (`note_added`, \
                 actor `staff:<id>`, the text as its `cause`), 1 to 1000 characters, \
                 trimmed. Another storefront's order (for a user limited to some) is 404.",
            )
            .param(order_param())
            .body(
                schema_ref::<domain::backoffice::notes::NoteInput>(),
                true,
                Some(json!({ "text": "buyer called: leave the parcel at the door" })),
            )
            .ok(201, json_response("The order with the note.", order()))
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(404, &["order_not_found"]),
        Route::of(RouteId::StaffPackages, "back office", "The pick list, or overdue supplier packages")
            .describe(
                "`queue=to_ship`: self-operated packages handed to a warehouse and not yet \
                 shipped, with lines, address and order id (admin: any `warehouse`, or all \
                 of them grouped by warehouse; a warehouse user: its own, another is 403). \
                 `queue=overdue` (admin, support): packages with a supplier not shipped \
                 `SHIP_OVERDUE_HOURS` after hand-over. Oldest first, paginated.",
            )
            .param(json!({
                "name": "queue", "in": "query", "required": true,
                "schema": { "type": "string", "enum": ["to_ship", "overdue"] },
            }))
            .param(json!({
                "name": "warehouse", "in": "query", "required": false,
                "description": "The warehouse of the pick list (a warehouse user's own when left out).",
                "schema": { "type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$" },
            }))
            .params(staff_list_params())
            .ok(200, json_response("A page of packages.", schema_ref::<PackageQueue>()))
            .errors(400, &["invalid_request", "invalid_limit", "invalid_cursor"]),
        Route::of(RouteId::StaffAfterSales, "back office", "After-sales cases waiting")
            .describe(
                "Support, admin: cases `requested` (to review), `approved` (waiting for \
                 the return, or to complete) and `return_shipped` (to receive and \
                 complete); oldest first within a status, all three grouped by status \
                 when `status` is left out.",
            )
            .param(json!({
                "name": "status", "in": "query", "required": false,
                "schema": { "type": "string", "enum": ["requested", "approved", "return_shipped"] },
            }))
            .params(staff_list_params())
            .ok(200, json_response("A page of cases.", schema_ref::<CaseQueue>()))
            .errors(400, &["invalid_request", "invalid_limit", "invalid_cursor"]),
        Route::of(RouteId::StaffAttention, "back office", "The attention list")
            .describe(
                "Support, admin: everything that needs a person (intercepts past give-up, \
                 hand-overs the queue gave up on, events that could not apply), each with \
                 its kind, order, package, since and `actions` (`resolve` on the package \
                 route, or `acknowledge`). Oldest first.",
            )
            .params(staff_list_params())
            .ok(200, json_response("A page of attention items.", schema_ref::<AttentionList>()))
            .errors(400, &["invalid_request", "invalid_limit", "invalid_cursor"]),
        Route::of(RouteId::StaffOrders, "back office", "Search orders")
            .describe(
                "Support, admin: orders by `status` or by `user_id` (exactly one), \
                 created in [`from`, `to`), newest first.",
            )
            .param(json!({
                "name": "status", "in": "query", "required": false,
                "schema": { "type": "string", "enum": domain::order::OrderStatus::ALL.map(|s| s.as_str()) },
            }))
            .param(json!({
                "name": "user_id", "in": "query", "required": false,
                "schema": { "type": "string", "pattern": "^[^#\\s]+$", "maxLength": 128 },
            }))
            .param(json!({
                "name": "from", "in": "query", "required": false,
                "schema": { "type": "string", "format": "date-time" },
            }))
            .param(json!({
                "name": "to", "in": "query", "required": false,
                "schema": { "type": "string", "format": "date-time" },
            }))
            .params(staff_list_params())
            .ok(200, json_response("A page of orders.", schema_ref::<OrderList>()))
            .errors(400, &["invalid_request", "invalid_limit", "invalid_cursor"]),
        Route::of(RouteId::StaffSummary, "back office", "Count every queue")
            .describe(
                "The count of every queue the caller may read: a warehouse user its own \
                 pick list; support the overdue, after-sales (per status) and attention \
                 lists; admin all of them (the pick list per warehouse).",
            )
            .params(staff_list_params().into_iter().take(1).collect())
            .ok(200, json_response("The counts.", schema_ref::<domain::backoffice::work::Summary>()))
            .errors(400, &["invalid_request"]),
        Route::of(RouteId::AcknowledgeAttention, "back office", "Acknowledge an attention item")
            .describe(
                "Support, admin: ends an attention item settled outside the system (an \
                 event that could not apply), with the note on the timeline. Items that \
                 end by `resolve` are 409; an item of another storefront's order is 404; \
                 acknowledging again answers the order unchanged.",
            )
            .param(json!({
                "name": "item_id", "in": "path", "required": true,
                "schema": { "type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}-A[0-9]{2,}$" },
            }))
            .body(
                schema_ref::<domain::backoffice::acknowledge::AcknowledgeInput>(),
                true,
                Some(json!({ "note": "supplier confirmed by phone: nothing to do" })),
            )
            .ok(200, json_response("The order, the item ended.", order()))
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(404, &["attention_item_not_found"])
            .errors(409, &["not_acknowledgeable"]),
        Route::of(RouteId::CancelOrder, "orders", "Cancel an order")
            .describe(
                "By the owner or staff (others get 404). Unpaid: cancelled, stock and \
                 limits back. Paid with nothing forwarded yet: cancelled with a full \
                 refund. Some package with its supplier: `cancel_requested`, an \
                 intercept goes to each such supplier. Anything shipped: 409 \
                 `use_after_sales`. A second cancel answers the order as it is. The body \
                 is optional (an empty body is fine). **Staff only** with `package_id`: \
                 cancel and refund that one package, which must be paid and not yet with \
                 its supplier (one the queue gave up forwarding: action `cancel_package`).",
            )
            .param(order_param())
            .body(
                json!({ "$ref": "#/components/schemas/CancelRequest" }),
                false,
                Some(json!({ "reason": "changed my mind" })),
            )
            .ok(200, json_response("The order after the cancel.", order()))
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(403, &["forbidden"])
            .errors(404, &["order_not_found"])
            .errors(
                409,
                &[
                    "use_after_sales",
                    "order_closed",
                    "package_not_cancellable",
                    "invalid_state",
                    "order_too_large",
                ],
            ),
        // ---------------------------------------------------------------- payments
        notify(RouteId::NotifyPayment),
        notify(RouteId::NotifyPaymentInStorefront)
            .param(path_param(
                "storefront",
                json!({ "type": "string", "pattern": "^[a-z0-9-]{1,32}$" }),
                "The storefront whose payment account took the money (SPEC 2.13): the \
                 notification is verified with its secret, and the order must be its. \
                 The bare route is `default`. An unknown storefront is 404.",
            ))
            .errors(404, &["unknown_storefront"]),
        Route::of(RouteId::StartWechatPayment, "payments", "Start a WeChat Pay payment (JSAPI)")
            .describe(
                "The order's buyer (SPEC 2.12), while it awaits payment: asks WeChat Pay for a \
                 JSAPI prepay with the order's storefront's merchant account (`out_trade_no` = \
                 the order id, the order total, `time_expire` = the payment deadline) and \
                 answers the signed parameters the mini-program passes to \
                 `wx.requestPayment`. Safe to repeat (the same prepay). The order is paid \
                 when WeChat's notification comes. Staff who see the order are 403 \
                 `owner_only`; anyone else 404.",
            )
            .param(order_param())
            .body(
                schema_ref::<domain::payment::start::StartInput>(),
                true,
                Some(json!({ "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" })),
            )
            .ok(
                200,
                json_response(
                    "What `wx.requestPayment` takes.",
                    schema_ref::<domain::payment::start::PayParams>(),
                ),
            )
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(403, &["owner_only"])
            .errors(404, &["order_not_found"])
            .errors(409, &["not_payable", "payment_deadline_passed"])
            .errors(422, &["payment_channel_not_configured", "payment_refused"]),
        wechat_notify(RouteId::NotifyWechatPayment),
        wechat_notify(RouteId::NotifyWechatPaymentInStorefront)
            .param(path_param(
                "storefront",
                json!({ "type": "string", "pattern": "^[a-z0-9-]{1,32}$" }),
                "The storefront whose merchant account took the money (SPEC 2.13): the \
                 notification is verified and decrypted with its WeChat Pay keys. The bare \
                 route is `default`. An unknown storefront is 404.",
            ))
            .errors(404, &["unknown_storefront"]),
        // ---------------------------------------------------------------- refunds
        refund_notify(RouteId::NotifyRefund),
        refund_notify(RouteId::NotifyRefundInStorefront)
            .param(path_param(
                "storefront",
                json!({ "type": "string", "pattern": "^[a-z0-9-]{1,32}$" }),
                "The storefront whose merchant account made the refund (SPEC 2.13): the \
                 notification is verified with its secret, and the order must be its. The \
                 bare route is `default`. An unknown storefront is 404.",
            ))
            .errors(404, &["unknown_storefront"]),
        wechat_refund_notify(RouteId::NotifyWechatRefund),
        wechat_refund_notify(RouteId::NotifyWechatRefundInStorefront)
            .param(path_param(
                "storefront",
                json!({ "type": "string", "pattern": "^[a-z0-9-]{1,32}$" }),
                "The storefront whose merchant account made the refund (SPEC 2.13): the \
                 notification is verified with its WeChat Pay keys. The bare route is \
                 `default`. An unknown storefront is 404.",
            ))
            .errors(404, &["unknown_storefront"]),
        Route::of(RouteId::RetryRefund, "refunds", "Retry a failed refund")
            .describe(
                "Support, admin (SPEC 2.12): sends a `failed` refund again. An `abnormal` \
                 one is applied for again under its number (WeChat's apply-abnormal-refund); \
                 a `closed` one goes under a new number (`<refund id>-<n>`: a closed refund \
                 never paid). The refund is `pending` again, its attention item ended. \
                 Another storefront's order is 404.",
            )
            .param(refund_param())
            .ok(200, json_response("The order, the refund pending again.", order()))
            .errors(404, &["refund_not_found"])
            .errors(409, &["refund_not_failed"]),
        Route::of(RouteId::RecordRefundOffline, "refunds", "Record a failed refund paid back offline")
            .describe(
                "Support, admin (SPEC 2.12): the money of a `failed` refund was paid back \
                 outside the provider (a bank transfer...): the refund is `succeeded` with \
                 `offline: true`, the note on the timeline, its attention item ended.",
            )
            .param(refund_param())
            .body(
                schema_ref::<domain::payment::refund::OfflineInput>(),
                true,
                Some(json!({ "note": "paid back by bank transfer, ref BT-2026-1125" })),
            )
            .ok(200, json_response("The order, the refund succeeded.", order()))
            .errors(400, &["invalid_json", "invalid_request"])
            .errors(404, &["refund_not_found"])
            .errors(409, &["refund_not_failed"]),
        // ---------------------------------------------------------------- packages
        Route::of(RouteId::SupplierPackageStatus, "packages", "Package status callback (supplier)",
        )
        .describe(
            "Signed by the supplier (`X-Signature`, no JWT). `{supplier}` is the dropship \
             supplier id, or `jd`; self-operated packages are shipped by staff, never by \
             callback. Statuses only move forward: a stale, duplicate or out-of-order \
             event is answered 200 with `applied: false`, as is any event for an unpaid \
             order, and an intercept answer while no intercept is pending. `at` is the \
             supplier's event time (a time in the future is taken as now; left out, now). \
             `rejected` refunds the package's goods and its freight share; `intercepted` \
             cancels the package (refund, stock back); `intercept_refused` puts it back \
             to `forwarded`. `awaiting_receipt` (JD) is taken as `shipped`.",
        )
        .param(path_param(
            "supplier",
            schema_ref::<SupplierId>(),
            "The dropship supplier id, or `jd`.",
        ))
        .body(
            json!({ "$ref": "#/components/schemas/PackageStatusCallback" }),
            true,
            Some(json!({
                "package_id": "01KB2R5TQ7X3M9Y0ZB1C2D3E4F-P02", "status": "shipped",
                "tracking_no": "SF1234567890", "at": "2026-11-26T08:00:00Z",
            })),
        )
        .ok(200, json_response("Where the package and its order stand now.", schema_ref::<Synced>()))
        .errors(400, &["invalid_json", "invalid_request"])
        .errors(403, &["wrong_supplier"])
        .errors(404, &["package_not_found"])
        .errors(409, &["invalid_state", "order_too_large"]),
        Route::of(RouteId::ShipPackage, "packages", "Mark a self-operated package shipped",
        )
        .describe(
            "For a package of our own warehouse, of a paid order, not cancelled; also \
             while still `pending` (inside the intercept window: the delayed forward then \
             drops it). A package already shipped changes nothing.",
        )
        .param(package_param())
        .body(
            json!({ "$ref": "#/components/schemas/ShipRequest" }),
            true,
            Some(json!({ "carrier": "SF Express", "tracking_no": "SF1234567890" })),
        )
        .ok(200, json_response("The order after the shipment.", order()))
        .errors(400, &["invalid_json", "invalid_request"])
        .errors(404, &["package_not_found"])
        .errors(
            409,
            &[
                "not_self_operated",
                "order_not_paid",
                "package_cancelled",
                "invalid_state",
                "order_too_large",
            ],
        ),
        Route::of(RouteId::ResolvePackage, "packages", "Resolve an intercept nobody answered, or a hand-over the queue gave up on",
        )
        .describe(
            "SPEC 2.11. `intercepted`: the supplier stopped (or never took) the package: \
             cancelled and refunded. `shipped`: it went out; the cancel fails. \
             `retry_forward`: a hand-over the queue gave up on is queued again. The \
             package's attention items end with the note, on the timeline.",
        )
        .param(package_param())
        .body(
            json!({ "$ref": "#/components/schemas/ResolveRequest" }),
            true,
            Some(json!({ "outcome": "intercepted", "note": "the supplier confirmed by phone" })),
        )
        .ok(200, json_response("The order after the resolution.", order()))
        .errors(400, &["invalid_json", "invalid_request"])
        .errors(404, &["package_not_found"])
        .errors(409, &["nothing_to_resolve", "invalid_state", "order_too_large"]),
        Route::of(RouteId::ConfirmReceipt, "packages", "Confirm receipt of a shipped package",
        )
        .describe(
            "By the order's owner (or staff; others get 404). A package already received \
             changes nothing. Receipt is also confirmed automatically `AUTO_CONFIRM_DAYS` \
             after shipping for sources that report none. No request body.",
        )
        .param(package_param())
        .ok(200, json_response("The order after the receipt.", order()))
        .errors(404, &["package_not_found"])
        .errors(409, &["package_not_shipped", "invalid_state", "order_too_large"]),
        // ---------------------------------------------------------------- after-sales
        Route::of(RouteId::UploadProof, "after-sales", "Get a URL to upload proof to")
            .describe(
                "For a case's evidence: a presigned S3 PUT (15 minutes) for one file of \
                 `content_type` (`image/jpeg`, `image/png`, `image/webp`, `image/heic`, \
                 `application/pdf`) and exactly `bytes` bytes (at most 10 MiB), sent with \
                 those `Content-Type` and `Content-Length`. The `key` is under the \
                 caller's own prefix (`uploads/<user>/`); cite it in the case's \
                 `evidence`. A case may cite only its owner's keys; staff see them as \
                 presigned GET URLs.",
            )
            .body(
                schema_ref::<domain::after_sales::uploads::UploadRequest>(),
                true,
                Some(json!({ "content_type": "image/jpeg", "bytes": 482133 })),
            )
            .ok(200, json_response("Where to upload, and the key.", schema_ref::<domain::after_sales::uploads::Upload>()))
            .errors(400, &["invalid_json", "invalid_request"]),
        Route::of(RouteId::OpenAfterSalesCase, "after-sales", "Open an after-sales case",
        )
        .describe(
            "By the order's owner only (staff who see the order get 403 `owner_only`), \
             on a `received` package (or a `rejected` one, a disputed refund) within `AFTER_SALES_DAYS` of that event. Lines are merged by \
             SKU; a line may claim at most what the package holds less what open or \
             completed cases already claim; one open case per package line. Evidence: 1 \
             to 9 items, each an `https://` URL (at most 1024 characters) or a storage key \
             (`[A-Za-z0-9/._-]`, at most 256, no `..`, not starting with `/`). The case \
             carries `customer_service_phone`.",
        )
        .param(order_param())
        .body(
            json!({ "$ref": "#/components/schemas/OpenCaseRequest" }),
            true,
            Some(json!({
                "package_id": "01KB2R5TQ7X3M9Y0ZB1C2D3E4F-P01", "kind": "return_refund",
                "lines": [{ "sku": "TEA-100", "qty": 1 }], "reason": "the tin was dented",
                "evidence": ["uploads/2026/11/dent.jpg"],
            })),
        )
        .ok(201, with_links(json_response("The new case (`requested`).", case()), case_links()))
        .errors(400, &["invalid_json", "invalid_request", "invalid_evidence"])
        .errors(403, &["owner_only"])
        .errors(404, &["order_not_found", "package_not_found"])
        .errors(
            409,
            &[
                "package_not_received",
                "after_sales_window_closed",
                "case_already_open",
                "exchange_of_refunded_package",
                "too_many_cases",
                "order_too_large",
            ],
        )
        .errors(422, &["quantity_exceeds_received"]),
        Route::of(RouteId::GetAfterSalesCase, "after-sales", "Read an after-sales case",
        )
        .describe("The owner's case, or any case for staff; others get 404. `history` keeps every step.")
        .param(case_param())
        .ok(200, json_response("The case.", case()))
        .errors(404, &["case_not_found"]),
        Route::of(RouteId::ReviewAfterSalesCase, "after-sales", "Approve or reject a case",
        )
        .describe("`requested` -> `approved` or `rejected`, with an optional note kept in the history. (The body is checked before the caller.)")
        .param(case_param())
        .body(
            json!({ "$ref": "#/components/schemas/ReviewRequest" }),
            true,
            Some(json!({ "decision": "approve", "note": "photo shows the damage" })),
        )
        .ok(200, json_response("The case after the review.", case()))
        .errors(400, &["invalid_json", "invalid_request"])
        .errors(404, &["case_not_found"])
        .errors(409, &["invalid_case_state", "order_too_large"]),
        Route::of(RouteId::ShipAfterSalesReturn, "after-sales", "Send the goods back",
        )
        .describe(
            "By the case's owner only (staff get 403 `owner_only`): an approved \
             `return_refund` or `exchange` case becomes `return_shipped` with the carrier \
             and tracking number. (The body is checked before the caller.)",
        )
        .param(case_param())
        .body(
            json!({ "$ref": "#/components/schemas/ReturnShipmentRequest" }),
            true,
            Some(json!({ "carrier": "SF Express", "tracking_no": "SF0987654321" })),
        )
        .ok(200, json_response("The case after the step.", case()))
        .errors(400, &["invalid_json", "invalid_request"])
        .errors(403, &["owner_only"])
        .errors(404, &["case_not_found"])
        .errors(409, &["invalid_case_state", "order_too_large"]),
        Route::of(RouteId::CompleteAfterSalesCase, "after-sales", "Complete a case",
        )
        .describe(
            "An approved `refund_only` case, or a `return_shipped` one, becomes \
             `completed`: a refund of the paid price of its lines (plus the package's \
             freight once every unit has come back), or, for an exchange, a replacement \
             package carrying the paid value of the lines it replaces, its stock taken \
             as a placement would, queued for forwarding at once. When that stock is \
             short (409 `out_of_stock`), complete it as a refund with \
             `{\"as\": \"refund\"}`. The body is optional.",
        )
        .param(case_param())
        .body(
            json!({ "$ref": "#/components/schemas/CompleteRequest" }),
            false,
            Some(json!({ "as": "refund", "note": "out of stock: refunded instead" })),
        )
        .ok(200, json_response("The completed case.", case()))
        .errors(400, &["invalid_json", "invalid_request"])
        .errors(404, &["case_not_found"])
        .errors(409, &["invalid_case_state", "out_of_stock", "exchange_too_large", "order_too_large"]),
        Route::of(RouteId::WithdrawAfterSalesCase, "after-sales", "Withdraw a case",
        )
        .describe(
            "By the case's owner only (staff get 403 `owner_only`), while `requested` or \
             `approved`. No request body.",
        )
        .param(case_param())
        .ok(200, json_response("The withdrawn case.", case()))
        .errors(403, &["owner_only"])
        .errors(404, &["case_not_found"])
        .errors(409, &["invalid_case_state", "order_too_large"]),
    ]
}
