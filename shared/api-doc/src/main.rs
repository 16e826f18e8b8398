//! Prints the OpenAPI document as YAML: `cargo run -p api-doc > openapi.yaml`;
//! with `--events`, the order events' JSON Schema:
//! `cargo run -p api-doc -- --events > docs/events.schema.json`.

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--events") {
        print!("{}", api_doc::events::text());
    } else {
        print!("{}", api_doc::yaml());
    }
}
