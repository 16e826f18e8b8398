//! Request bodies: JSON objects, parsed once, with the two ways they fail.

use serde::de::DeserializeOwned;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON at all (400 `invalid_json`).
    Json(String),
    /// JSON of the wrong shape: not an object, a missing, unknown or
    /// mistyped field (400 `invalid_request`).
    Shape(String),
}

/// Parses a JSON object into `T`. Anything but an object is refused, so a
/// struct is never filled from an array by position.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, BodyError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| BodyError::Json(format!("the body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(BodyError::Shape("the body must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| BodyError::Shape(e.to_string()))
}

/// `From<BodyError>` for an operation error with `InvalidJson(String)` and
/// `InvalidRequest(String)` variants.
#[macro_export]
macro_rules! body_errors {
    ($error:ty) => {
        impl From<$crate::body::BodyError> for $error {
            fn from(e: $crate::body::BodyError) -> Self {
                match e {
                    $crate::body::BodyError::Json(m) => <$error>::InvalidJson(m),
                    $crate::body::BodyError::Shape(m) => <$error>::InvalidRequest(m),
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Two {
        a: Option<u32>,
        b: Option<u32>,
    }

    #[test]
    fn only_objects_fill_a_struct() {
        assert!(parse::<Two>(br#"{"a": 1}"#).is_ok());
        assert!(matches!(parse::<Two>(b"[1, 2]"), Err(BodyError::Shape(_))));
        assert!(matches!(
            parse::<Two>(b"[null, null]"),
            Err(BodyError::Shape(_))
        ));
        assert!(matches!(parse::<Two>(b"{"), Err(BodyError::Json(_))));
        assert!(matches!(parse::<Two>(b"null"), Err(BodyError::Shape(_))));
    }
}
