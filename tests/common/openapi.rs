//! Checks JSON bodies against the OpenAPI document's schemas: a validator
//! for the subset of JSON Schema the document uses, and nothing more:
//! `$ref` (local), `allOf`, `anyOf`, `type` (a name or a list of names),
//! `enum`, `required`, `properties`, `items`, `minimum`/`maximum`, and
//! `format: date-time` (an RFC 3339 time with an offset). Objects are
//! closed: a key the schema does not list is an error (unless it says
//! `additionalProperties: true`), so a field the daemon adds without
//! documenting it fails the test. A keyword outside this subset is an error
//! too, so the document cannot use one this validator would ignore.

use serde_json::Value;

/// The keywords understood; anything else in a schema is reported.
const KEYWORDS: [&str; 13] = [
    "$ref",
    "allOf",
    "anyOf",
    "type",
    "enum",
    "required",
    "properties",
    "items",
    "minimum",
    "maximum",
    "format",
    "description",
    "additionalProperties",
];

pub struct OpenApi {
    pub doc: Value,
}

impl OpenApi {
    pub fn new(text: &str) -> OpenApi {
        OpenApi {
            doc: serde_json::from_str(text).expect("the OpenAPI document is JSON"),
        }
    }

    /// The document's paths, each with its methods (lower case).
    pub fn operations(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (path, item) in self.doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                out.push((path.clone(), method.clone()));
            }
        }
        out.sort();
        out
    }

    /// The JSON schema of the answer to `method path` with `status`.
    pub fn response_schema(&self, path: &str, method: &str, status: u16) -> &Value {
        let response = &self.doc["paths"][path][method]["responses"][status.to_string()];
        assert!(
            !response.is_null(),
            "the document has no {status} answer for {method} {path}"
        );
        let schema = &response["content"]["application/json"]["schema"];
        assert!(
            !schema.is_null(),
            "the document's {status} answer for {method} {path} has no JSON schema"
        );
        schema
    }

    /// Every mismatch of `value` with `schema`, each as `JSON-PATH: problem`.
    pub fn check(&self, schema: &Value, value: &Value) -> Vec<String> {
        let mut errors = Vec::new();
        self.walk(schema, value, "$", true, &mut errors);
        errors
    }

    /// `#/components/schemas/X` → that schema.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("{r}: only local schema references are supported"));
                let target = &self.doc["components"]["schemas"][name];
                assert!(!target.is_null(), "{r} is not defined");
                self.resolve(target)
            }
            None => schema,
        }
    }

    /// The properties an object schema lists, through `allOf` and `$ref`.
    fn listed(&self, schema: &Value) -> Vec<String> {
        let schema = self.resolve(schema);
        let mut out: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            out.extend(self.listed(part));
        }
        out
    }

    /// `closed`: unlisted keys of an object are reported here (false inside
    /// an `allOf`, whose parts each list only some of the keys).
    fn walk(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        closed: bool,
        errors: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        let map = schema.as_object().expect("a schema is an object");
        for key in map.keys() {
            if !KEYWORDS.contains(&key.as_str()) {
                errors.push(format!(
                    "{at}: the schema uses `{key}`, which this validator does not check"
                ));
            }
        }
        if let Some(parts) = map.get("allOf").and_then(Value::as_array) {
            for part in parts {
                self.walk(part, value, at, false, errors);
            }
        }
        if let Some(alternatives) = map.get("anyOf").and_then(Value::as_array) {
            let fits = alternatives.iter().any(|alt| {
                let mut e = Vec::new();
                self.walk(alt, value, at, closed, &mut e);
                e.is_empty()
            });
            if !fits {
                errors.push(format!("{at}: {value} matches none of anyOf"));
            }
        }
        if let Some(ty) = map.get("type") {
            let names: Vec<&str> = match ty {
                Value::String(s) => vec![s.as_str()],
                Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                _ => panic!("{at}: type must be a name or a list of names"),
            };
            if !names.iter().any(|n| is_type(n, value)) {
                errors.push(format!(
                    "{at}: expected {}, found {value}",
                    names.join(" or ")
                ));
                return;
            }
        }
        if let Some(allowed) = map.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        if let Some(n) = value.as_f64() {
            if let Some(min) = map.get("minimum").and_then(Value::as_f64) {
                if n < min {
                    errors.push(format!("{at}: {n} is below the minimum {min}"));
                }
            }
            if let Some(max) = map.get("maximum").and_then(Value::as_f64) {
                if n > max {
                    errors.push(format!("{at}: {n} is above the maximum {max}"));
                }
            }
        }
        if let (Some("date-time"), Some(text)) =
            (map.get("format").and_then(Value::as_str), value.as_str())
        {
            if text.parse::<jiff::Timestamp>().is_err() {
                errors.push(format!(
                    "{at}: {text:?} is not an RFC 3339 time with an offset"
                ));
            }
        }
        if let Value::Object(object) = value {
            for key in map
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = key.as_str().expect("required lists names");
                if !object.contains_key(key) {
                    errors.push(format!("{at}: `{key}` is required but missing"));
                }
            }
            if let Some(properties) = map.get("properties").and_then(Value::as_object) {
                for (key, sub) in properties {
                    if let Some(v) = object.get(key) {
                        self.walk(sub, v, &format!("{at}.{key}"), true, errors);
                    }
                }
            }
            let open = map.get("additionalProperties") == Some(&Value::Bool(true));
            if closed && !open {
                let listed = self.listed(schema);
                for key in object.keys() {
                    if !listed.contains(key) {
                        errors.push(format!("{at}: `{key}` is not in the document"));
                    }
                }
            }
        }
        if let (Some(items), Value::Array(values)) = (map.get("items"), value) {
            for (i, v) in values.iter().enumerate() {
                self.walk(items, v, &format!("{at}[{i}]"), true, errors);
            }
        }
    }
}

fn is_type(name: &str, value: &Value) -> bool {
    match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => panic!("unknown type name {other:?}"),
    }
}
