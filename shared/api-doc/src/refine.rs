//! What the Rust types cannot say as schema attributes: the shapes of ids
//! (their parsers in `shared/domain/src/ids.rs`; the crate's tests hold these
//! patterns to the parsers) and codes the domain writes as `&'static str`.
//! Every patch names its target; a target that no longer exists panics, so a
//! renamed type or field fails the drift test instead of silently dropping a rule.

use serde_json::{json, Value};

/// `check_token` in ids.rs: 1 to 64 of `[A-Za-z0-9._-]`.
pub const TOKEN_PATTERN: &str = "^[A-Za-z0-9._-]{1,64}$";
/// A ULID as `OrderId::parse` accepts and `OrderId` prints it (Crockford base32, at most `7ZZ...`).
pub const ORDER_ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$";
pub const PACKAGE_ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}-P[0-9]{2}$";
pub const CASE_ID_PATTERN: &str = "^[0-7][0-9A-HJKMNP-TV-Z]{25}-C[0-9]{2}$";
/// `evidence_item` in after_sales.rs, less what a pattern cannot say simply
/// (no `..`; a storage key at most 256 characters).
pub const EVIDENCE_PATTERN: &str = "^(https://[^/?#\\s]\\S*|[A-Za-z0-9._-][A-Za-z0-9/._-]*)$";

fn schema<'a>(doc: &'a mut Value, name: &str) -> &'a mut Value {
    doc.pointer_mut(&format!("/components/schemas/{name}"))
        .unwrap_or_else(|| panic!("refine: no schema {name}"))
}

fn property<'a>(doc: &'a mut Value, name: &str, prop: &str) -> &'a mut Value {
    schema(doc, name)
        .pointer_mut(&format!("/properties/{prop}"))
        .unwrap_or_else(|| panic!("refine: no property {name}.{prop}"))
}

fn set(target: &mut Value, key: &str, value: Value) {
    target
        .as_object_mut()
        .expect("refine: a schema object")
        .insert(key.to_owned(), value);
}

pub fn apply(doc: &mut Value) {
    for name in ["SkuId", "WarehouseId", "SupplierId"] {
        set(schema(doc, name), "pattern", json!(TOKEN_PATTERN));
    }
    set(schema(doc, "OrderId"), "pattern", json!(ORDER_ID_PATTERN));
    set(
        schema(doc, "PackageId"),
        "pattern",
        json!(PACKAGE_ID_PATTERN),
    );
    set(schema(doc, "CaseId"), "pattern", json!(CASE_ID_PATTERN));

    // view.rs `actions`: the codes it pushes.
    let action = property(doc, "Action", "action");
    set(action, "enum", json!(domain::view::ACTIONS));
    set(
        action,
        "description",
        json!(
            "`pay` (owner, unpaid, before the deadline), `cancel` (owner or staff, nothing \
             shipped), `cancel_package` (staff, a paid package the queue gave up \
             forwarding), `resolve` (staff, an intercept or a hand-over waiting for a \
             person), `confirm_receipt` (owner or staff, a shipped package), \
             `after_sales` (owner, a package open to a new case), `repurchase` (owner, \
             once paid), `note` (staff). Package actions carry `package_id`."
        ),
    );
    // repurchase.rs `Unavailable::reason`.
    set(
        property(doc, "Unavailable", "reason"),
        "enum",
        json!(domain::checkout::repurchase::UNAVAILABLE_REASONS),
    );
    // place.rs: the one warning placing gives.
    set(property(doc, "Warning", "code"), "enum", json!(["scarce"]));
    // after_sales.rs `CaseStep::parse_review`.
    set(
        property(doc, "ReviewRequest", "decision"),
        "enum",
        json!(["approve", "reject"]),
    );
    // packages.rs: `#[serde(alias = "awaiting_receipt")]` on `Shipped`.
    let status = schema(doc, "CallbackStatus");
    status["enum"]
        .as_array_mut()
        .expect("refine: CallbackStatus is an enum")
        .push(json!("awaiting_receipt"));
    set(
        status,
        "description",
        json!(
            "What a supplier may report. `awaiting_receipt` (JD's wording) is taken as `shipped`."
        ),
    );
    let evidence = property(doc, "OpenCaseRequest", "evidence")
        .pointer_mut("/items")
        .expect("refine: evidence items");
    set(evidence, "maxLength", json!(1024));
    set(evidence, "pattern", json!(EVIDENCE_PATTERN));
    set(
        evidence,
        "description",
        json!(
            "An `https://` URL (at most 1024 characters) or a storage key such as \
             `uploads/2026/11/a.jpg` (at most 256 characters, no `..`)."
        ),
    );
}
