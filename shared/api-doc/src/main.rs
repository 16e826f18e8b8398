//! Prints the OpenAPI document as YAML: `cargo run -p api-doc > openapi.yaml`;
//! with `--events`, the order events' JSON Schema:
//! `cargo run -p api-doc -- --events > docs/events.schema.json`;
//! with `--operations`, rewrites template.yaml's generated section (log
//! groups, alarms, dashboard: [`api_doc::operations`]) in place.

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--events") => print!("{}", api_doc::events::text()),
        Some("--operations") => {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml");
            let text = std::fs::read_to_string(&path).expect("template.yaml");
            std::fs::write(&path, api_doc::operations::rewrite(&text))
                .expect("template.yaml written");
            eprintln!("template.yaml: generated section rewritten");
        }
        _ => print!("{}", api_doc::yaml()),
    }
}
