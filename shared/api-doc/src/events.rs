//! The order events' JSON Schema (`docs/events.schema.json`): the `detail`
//! of each EventBridge event EventsFunction publishes, from the domain's
//! types ([`domain::order::events`]), its `change` tied to its `type`.

use domain::order::events::{EventType, OrderEvent};
use serde_json::{json, Map, Value};
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(components(schemas(OrderEvent)))]
struct EventSchemas;

/// The schema of a `change` for each event type.
fn change_of(t: EventType) -> &'static str {
    let name = t.as_str();
    match name {
        "order.placed" => "PlacedChange",
        "order.paid" => "PaidChange",
        _ if name.starts_with("order.") => "OrderChange",
        _ if name.starts_with("package.") => "PackageChange",
        _ if name.starts_with("refund.") => "RefundChange",
        _ => "CaseChange",
    }
}

fn to_defs(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get_mut("$ref") {
                *r = r.replace("#/components/schemas/", "#/$defs/");
            }
            o.values_mut().for_each(to_defs);
        }
        Value::Array(a) => a.iter_mut().for_each(to_defs),
        _ => {}
    }
}

/// The document, as committed.
pub fn schema() -> Value {
    let doc = serde_json::to_value(EventSchemas::openapi()).expect("schemas serialize");
    let mut defs: Value = doc["components"]["schemas"].clone();
    to_defs(&mut defs);
    let by_type: Vec<Value> = EventType::ALL
        .iter()
        .map(|t| {
            json!({
                "if": {"properties": {"type": {"const": t.as_str()}}},
                "then": {"properties": {"change": {"$ref": format!("#/$defs/{}", change_of(*t))}}},
            })
        })
        .collect();
    let mut out = Map::new();
    out.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    out.insert(
        "$id".into(),
        json!("https://order-system.example/events.schema.json"),
    );
    out.insert(
        "title".into(),
        json!("Order event: the detail of an EventBridge event with source `order-system` and detail-type equal to its `type`"),
    );
    out.insert("$ref".into(), json!("#/$defs/OrderEvent"));
    out.insert("allOf".into(), Value::Array(by_type));
    out.insert("$defs".into(), defs);
    Value::Object(out)
}

/// The document as written to `docs/events.schema.json`.
pub fn text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).expect("JSON");
    s.push('\n');
    s
}
