//! Prints the OpenAPI document as YAML: `cargo run -p api-doc > openapi.yaml`.

fn main() {
    print!("{}", api_doc::yaml());
}
