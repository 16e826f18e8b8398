//! A JSON Schema (2020-12) check for the keywords the generated documents
//! use (docs/events.schema.json); any other keyword fails loudly rather
//! than passing unchecked.

use serde_json::Value;

pub struct Schema {
    root: Value,
}

impl Schema {
    pub fn new(root: Value) -> Schema {
        Schema { root }
    }

    /// Every way `v` breaks the schema (empty: it conforms).
    pub fn errors(&self, v: &Value) -> Vec<String> {
        let mut out = Vec::new();
        self.check(&self.root, v, "$", &mut out);
        out
    }

    fn resolve<'a>(&'a self, r: &str) -> &'a Value {
        let path = r
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("only local references: {r}"));
        self.root
            .pointer(path)
            .unwrap_or_else(|| panic!("unresolved reference {r}"))
    }

    fn check(&self, s: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
        let Some(s) = s.as_object() else {
            panic!("a schema is an object at {at}")
        };
        for (k, rule) in s {
            match k.as_str() {
                "$schema" | "$id" | "$defs" | "title" | "description" | "example" | "format"
                | "then" => {}
                "$ref" => self.check(self.resolve(rule.as_str().expect("$ref")), v, at, out),
                "allOf" => rule
                    .as_array()
                    .expect("allOf")
                    .iter()
                    .for_each(|r| self.check(r, v, at, out)),
                "if" => {
                    let mut probe = Vec::new();
                    self.check(rule, v, at, &mut probe);
                    if probe.is_empty() {
                        if let Some(then) = s.get("then") {
                            self.check(then, v, at, out);
                        }
                    }
                }
                "oneOf" | "anyOf" => {
                    let passing = rule
                        .as_array()
                        .expect("oneOf")
                        .iter()
                        .filter(|r| {
                            let mut e = Vec::new();
                            self.check(r, v, at, &mut e);
                            e.is_empty()
                        })
                        .count();
                    let ok = if k == "oneOf" {
                        passing == 1
                    } else {
                        passing >= 1
                    };
                    if !ok {
                        out.push(format!("{at}: {passing} of {k} match {v}"));
                    }
                }
                "type" => {
                    let types: Vec<&str> = match rule {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(a) => a.iter().filter_map(|t| t.as_str()).collect(),
                        _ => panic!("type at {at}"),
                    };
                    let fits = |t: &str| match t {
                        "object" => v.is_object(),
                        "array" => v.is_array(),
                        "string" => v.is_string(),
                        "integer" => v.is_i64() || v.is_u64(),
                        "number" => v.is_number(),
                        "boolean" => v.is_boolean(),
                        "null" => v.is_null(),
                        other => panic!("type {other} at {at}"),
                    };
                    if !types.iter().any(|t| fits(t)) {
                        out.push(format!("{at}: {v} is not {types:?}"));
                    }
                }
                "properties" => {
                    if let Some(o) = v.as_object() {
                        for (name, sub) in rule.as_object().expect("properties") {
                            if let Some(x) = o.get(name) {
                                self.check(sub, x, &format!("{at}.{name}"), out);
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(o) = v.as_object() {
                        for name in rule.as_array().expect("required") {
                            let name = name.as_str().expect("a name");
                            if !o.contains_key(name) {
                                out.push(format!("{at}: {name} is required"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if rule == &Value::Bool(false) {
                        if let Some(o) = v.as_object() {
                            let known = s.get("properties").and_then(|p| p.as_object());
                            for name in o.keys() {
                                if !known.is_some_and(|p| p.contains_key(name)) {
                                    out.push(format!("{at}: {name} is not in the schema"));
                                }
                            }
                        }
                    } else {
                        panic!("additionalProperties other than false at {at}");
                    }
                }
                "enum" => {
                    if !rule.as_array().expect("enum").contains(v) {
                        out.push(format!("{at}: {v} is not one of {rule}"));
                    }
                }
                "const" => {
                    if rule != v {
                        out.push(format!("{at}: {v} is not {rule}"));
                    }
                }
                "items" => {
                    if let Some(a) = v.as_array() {
                        for (i, x) in a.iter().enumerate() {
                            self.check(rule, x, &format!("{at}[{i}]"), out);
                        }
                    }
                }
                "minimum" => {
                    if let (Some(x), Some(m)) = (v.as_f64(), rule.as_f64()) {
                        if x < m {
                            out.push(format!("{at}: {x} is below {m}"));
                        }
                    }
                }
                "pattern" => {
                    if let Some(text) = v.as_str() {
                        let re = regex_lite::Regex::new(rule.as_str().expect("pattern"))
                            .expect("a pattern");
                        if !re.is_match(text) {
                            out.push(format!("{at}: {text:?} does not match {rule}"));
                        }
                    }
                }
                other => panic!("schema keyword {other} at {at} is not checked here"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_check_catches_what_it_claims() {
        let s = Schema::new(json!({
            "$ref": "#/$defs/E",
            "allOf": [{"if": {"properties": {"t": {"const": "a"}}}, "then": {"properties": {"n": {"type": "integer", "minimum": 0}}}}],
            "$defs": {"E": {"type": "object", "required": ["t"], "additionalProperties": false,
                "properties": {"t": {"enum": ["a", "b"]}, "n": {"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^x+$"}]}}}}
        }));
        assert!(s.errors(&json!({"t": "a", "n": 3})).is_empty());
        assert!(s.errors(&json!({"t": "b", "n": "xx"})).is_empty());
        assert_eq!(
            s.errors(&json!({"t": "a", "n": -1})).len(),
            1,
            "minimum under if/then"
        );
        assert_eq!(
            s.errors(&json!({"t": "a", "n": "xx"})).len(),
            1,
            "then's type"
        );
        assert_eq!(s.errors(&json!({"t": "b", "n": "y"})).len(), 1, "pattern");
        assert_eq!(s.errors(&json!({"t": "c"})).len(), 1, "enum");
        assert_eq!(
            s.errors(&json!({"n": 1, "z": 0})).len(),
            2,
            "required, additional"
        );
    }
}
