//! The committed `openapi.yaml` is what the code generates, and the document
//! covers exactly the routes the local router and template.yaml serve, with the
//! authentication template.yaml gives them.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

fn repo_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name)
}

#[test]
fn committed_openapi_yaml_is_the_generated_one() {
    let path = repo_file("openapi.yaml");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    let generated = api_doc::yaml();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "openapi.yaml differs from the document the code generates (first at line {}: \
             committed {:?}, generated {:?}).\nRegenerate it from the repository root:\n\n    \
             cargo run -p api-doc > openapi.yaml\n",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end of file>"),
            generated.lines().nth(line).unwrap_or("<end of file>"),
        );
    }
}

/// (METHOD, path) of every documented operation.
#[test]
fn committed_event_schema_is_the_generated_one() {
    let committed =
        std::fs::read_to_string(repo_file("docs/events.schema.json")).unwrap_or_default();
    assert!(
        committed == api_doc::events::text(),
        "docs/events.schema.json differs from the schema the code generates. Regenerate it:\n\n    \
         cargo run -p api-doc -- --events > docs/events.schema.json\n"
    );
}

fn documented() -> BTreeSet<(String, String)> {
    let doc = api_doc::document();
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// The routes of `[workspace.metadata.lambda.watch.router]` in Cargo.toml:
/// (METHOD, path, function).
fn local_router() -> BTreeSet<(String, String, String)> {
    let text = std::fs::read_to_string(repo_file("Cargo.toml")).expect("Cargo.toml");
    let section = text
        .split("[workspace.metadata.lambda.watch.router]")
        .nth(1)
        .expect("the router section");
    let section = section.split("\n[").next().unwrap_or(section);
    let mut out = BTreeSet::new();
    let mut path = String::new();
    for line in section.lines() {
        if let Some(rest) = line.strip_prefix('"') {
            path = rest.split('"').next().unwrap_or_default().to_owned();
        }
        for entry in line.split("function = \"").skip(1) {
            let function = entry.split('"').next().unwrap_or_default();
            let method = entry
                .split("method = \"")
                .nth(1)
                .and_then(|m| m.split('"').next())
                .unwrap_or_default();
            out.insert((method.to_owned(), path.clone(), function.to_owned()));
        }
    }
    assert!(!out.is_empty(), "no routes read from Cargo.toml");
    out
}

/// The route table (`shared/routes`): (METHOD, path, function).
fn table() -> BTreeSet<(String, String, String)> {
    routes::ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.function.to_owned(),
            )
        })
        .collect()
}

fn without_function(set: &BTreeSet<(String, String, String)>) -> BTreeSet<(String, String)> {
    set.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect()
}

#[test]
fn the_document_and_the_local_router_are_the_route_table() {
    assert_eq!(documented(), without_function(&table()), "openapi.yaml");
    assert_eq!(local_router(), table(), "Cargo.toml's local router");
}

/// Every route has a sample event in `events/` whose route key and path are
/// the route's (its path resolves to it), and every sample API event names a
/// route of the table.
#[test]
fn every_route_has_a_sample_event_and_every_sample_is_a_route() {
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(repo_file("events")).expect("events/") {
        let path = entry.expect("an entry").path();
        let text = std::fs::read_to_string(&path).expect("an event file");
        let event: Value = serde_json::from_str(&text).expect("events are JSON");
        let Some(key) = event["routeKey"].as_str() else {
            continue; // not an HTTP API event (SQS, schedule)
        };
        let route = routes::ROUTES
            .iter()
            .find(|r| r.key() == key)
            .unwrap_or_else(|| {
                panic!(
                    "{}: route key {key:?} is not in the route table",
                    path.display()
                )
            });
        let raw = event["rawPath"].as_str().expect("rawPath");
        assert_eq!(
            routes::resolve(route.function, route.method, raw),
            routes::Resolved::Route(route.id),
            "{}: {raw} does not resolve to {key}",
            path.display()
        );
        covered.insert(route.id);
    }
    let missing: Vec<String> = routes::ROUTES
        .iter()
        .filter(|r| !covered.contains(&r.id))
        .map(|r| r.key())
        .collect();
    assert!(
        missing.is_empty(),
        "routes with no sample event in events/: {missing:?}"
    );
}

#[test]
fn routes_and_authentication_match_template_yaml() {
    let text = std::fs::read_to_string(repo_file("template.yaml")).expect("template.yaml");
    let template: serde_yaml::Value = serde_yaml::from_str(&text).expect("template.yaml parses");
    let mut deployed = BTreeSet::new();
    let mut open = BTreeSet::new();
    let mut served = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().expect("Resources") {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        let binary = resource["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        for (_, event) in events {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let p = &event["Properties"];
            let route = (
                p["Method"].as_str().expect("Method").to_uppercase(),
                p["Path"].as_str().expect("Path").to_owned(),
            );
            if p["Auth"]["Authorizer"].as_str() == Some("NONE") {
                open.insert(route.clone());
            }
            served.insert((route.0.clone(), route.1.clone(), binary.clone()));
            deployed.insert(route);
        }
    }
    assert_eq!(documented(), deployed, "template.yaml routes");
    assert_eq!(
        served,
        table(),
        "template.yaml: each route on the table's function"
    );
    for r in routes::ROUTES {
        assert_eq!(
            open.contains(&(r.method.to_owned(), r.path.to_owned())),
            !r.access.needs_jwt(),
            "{}: the JWT authorizer guards exactly the User and Staff routes",
            r.key()
        );
    }
    let doc = api_doc::document();
    for (method, path) in documented() {
        let op = &doc["paths"][&path][method.to_lowercase()];
        let schemes: BTreeSet<&str> = op["security"]
            .as_array()
            .expect("every operation says its security")
            .iter()
            .flat_map(|req| req.as_object().expect("a requirement").keys())
            .map(String::as_str)
            .collect();
        let jwt = schemes.contains("JwtBearer");
        let route = (method.clone(), path.clone());
        assert_eq!(
            !jwt,
            open.contains(&route),
            "{method} {path}: JwtBearer in the document iff the JWT authorizer guards it in template.yaml"
        );
    }
}

#[test]
fn every_reference_resolves() {
    let doc = api_doc::document();
    fn walk(v: &Value, doc: &Value, at: &str) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    let pointer = r.strip_prefix('#').expect("a local $ref");
                    assert!(doc.pointer(pointer).is_some(), "{at}: {r} does not resolve");
                }
                for (k, child) in map {
                    walk(child, doc, &format!("{at}/{k}"));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, doc, &format!("{at}/{i}"));
                }
            }
            _ => {}
        }
    }
    walk(&doc, &doc, "");
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn webhooks_are_signed_and_staff_routes_say_so() {
    let doc = api_doc::document();
    for route in api_doc::routes() {
        let op = &doc["paths"][route.path][route.method];
        let description = op["description"].as_str().unwrap_or_default();
        match route.access {
            api_doc::Access::Staff => {
                assert!(description.starts_with("**Staff only.**"), "{}", route.id);
                assert_eq!(op["x-required-role"], "staff", "{}", route.id);
            }
            api_doc::Access::PaymentWebhook | api_doc::Access::SupplierWebhook => {
                assert!(op["responses"]["401"].is_object(), "{}", route.id);
            }
            _ => {}
        }
    }
    let signed: BTreeSet<&str> = api_doc::routes()
        .iter()
        .filter(|r| {
            matches!(
                r.access,
                api_doc::Access::PaymentWebhook | api_doc::Access::SupplierWebhook
            )
        })
        .map(|r| r.path)
        .collect();
    assert_eq!(
        signed,
        BTreeSet::from([
            "/payments/notify",
            "/payments/notify/{storefront}",
            "/payments/refund-notify",
            "/payments/refund-notify/{storefront}",
            "/payments/wechatpay/notify",
            "/payments/wechatpay/notify/{storefront}",
            "/payments/wechatpay/refund-notify",
            "/payments/wechatpay/refund-notify/{storefront}",
            "/suppliers/{supplier}/package-status"
        ])
    );
}

/// The id patterns in the document accept what the domain's parsers accept,
/// in the form the API gives ids out. The parsers are more lenient in two
/// ways the document does not advertise (marked `lenient` below): a ULID in
/// lower case, and one whose first character is above `7`.
#[test]
fn id_patterns_agree_with_the_parsers() {
    use domain::ids::{CaseId, OrderId, PackageId, SkuId};
    let doc = api_doc::document();
    let pattern = |name: &str| {
        let p = doc["components"]["schemas"][name]["pattern"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has a pattern"));
        regex_lite::Regex::new(p).expect("a valid pattern")
    };
    let order = OrderId::generate(&domain::time::Timestamp::now());
    let lenient = [
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ".to_owned(),
        order.to_string().to_lowercase(),
    ];
    let cases: Vec<(&str, String)> = vec![
        ("SkuId", "TEA-100".into()),
        ("SkuId", "a.b_c-9".into()),
        ("SkuId", "x".repeat(64)),
        ("SkuId", "x".repeat(65)),
        ("SkuId", "".into()),
        ("SkuId", "a#b".into()),
        ("SkuId", "a b".into()),
        ("SkuId", "é".into()),
        ("OrderId", order.to_string()),
        ("OrderId", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ".into()),
        ("OrderId", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ".into()),
        ("OrderId", order.to_string().to_lowercase()),
        ("OrderId", "01KB2R5TQ7X3M9Y0ZB1C2D3E4I".into()),
        ("OrderId", "01KB2R5TQ7X3M9Y0ZB1C2D3E4U".into()),
        ("OrderId", "01KB2R5TQ7X3M9Y0ZB1C2D3E4".into()),
        ("OrderId", "not-a-ulid".into()),
        ("PackageId", format!("{order}-P01")),
        ("PackageId", format!("{order}-P1")),
        ("PackageId", format!("{order}-C01")),
        ("CaseId", format!("{order}-C07")),
        ("CaseId", format!("{order}-C007")),
        ("CaseId", "nope-C01".into()),
    ];
    for (name, s) in cases {
        let parsed = match name {
            "SkuId" => SkuId::parse(&s).is_ok(),
            "OrderId" => OrderId::parse(&s).is_ok(),
            "PackageId" => PackageId::parse(&s).is_ok(),
            "CaseId" => CaseId::parse(&s).is_ok(),
            _ => unreachable!(),
        };
        let matches = pattern(name).is_match(&s);
        if lenient.contains(&s) {
            assert!(
                parsed && !matches,
                "{name} {s:?}: lenient parse, not in the pattern"
            );
        } else {
            assert_eq!(matches, parsed, "{name} {s:?}: pattern vs parser");
        }
    }
}
