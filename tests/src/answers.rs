//! Reading order answers in tests.

use serde_json::Value;

/// The package with id `id`.
pub fn package<'a>(order: &'a Value, id: &str) -> &'a Value {
    order["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("no package {id} in {order}"))
}

/// The id of the (first) package whose source is of `kind`.
pub fn package_of(order: &Value, kind: &str) -> String {
    order["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["source"]["kind"] == kind)
        .and_then(|p| p["id"].as_str())
        .unwrap_or_else(|| panic!("no {kind} package in {order}"))
        .to_owned()
}

/// Package ids of a mixed order: (self, dropship, jd).
pub fn mixed_ids(order: &Value) -> (String, String, String) {
    (
        package_of(order, "self"),
        package_of(order, "dropship"),
        package_of(order, "jd"),
    )
}

/// Every refund recorded on the order, summed.
pub fn refunded(order: &Value) -> i64 {
    order["refunds"]
        .as_array()
        .expect("refunds")
        .iter()
        .map(|r| r["amount_cents"].as_i64().expect("amount"))
        .sum()
}

/// The timeline's event codes, oldest first.
pub fn events(order: &Value) -> Vec<String> {
    order["timeline"]
        .as_array()
        .expect("timeline")
        .iter()
        .map(|e| e["event"].as_str().expect("event").to_owned())
        .collect()
}

/// The id of the package of `order` whose first line is `sku`.
pub fn package_with_sku(order: &Value, sku: &str) -> String {
    order["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["lines"][0]["sku"] == sku)
        .unwrap_or_else(|| panic!("no package of {sku}: {order}"))["id"]
        .as_str()
        .expect("a package id")
        .to_owned()
}

/// The refund with id `id`.
pub fn refund<'a>(order: &'a Value, id: &str) -> &'a Value {
    order["refunds"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["id"] == id))
        .unwrap_or_else(|| panic!("no refund {id} in {order}"))
}

/// How many timeline entries are `event`.
pub fn count_events(order: &Value, event: &str) -> usize {
    order["timeline"]
        .as_array()
        .expect("a timeline")
        .iter()
        .filter(|e| e["event"] == event)
        .count()
}
