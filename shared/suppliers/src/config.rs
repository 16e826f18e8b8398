//! Supplier endpoints and credentials, read from the environment.

use std::fmt;
use std::time::Duration;

/// Environment variable names.
pub(crate) mod var {
    pub const WAREHOUSE_API_URL: &str = "WAREHOUSE_API_URL";
    pub const DROPSHIP_API_URL: &str = "DROPSHIP_API_URL";
    pub const JD_API_URL: &str = "JD_API_URL";
    pub const JD_APP_KEY: &str = "JD_APP_KEY";
    pub const JD_APP_SECRET: &str = "JD_APP_SECRET";
    pub const JD_ACCESS_TOKEN: &str = "JD_ACCESS_TOKEN";
    pub const JD_FORWARD_METHOD: &str = "JD_FORWARD_METHOD";
    pub const JD_INTERCEPT_METHOD: &str = "JD_INTERCEPT_METHOD";
    pub const SUPPLIER_TIMEOUT_MS: &str = "SUPPLIER_TIMEOUT_MS";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("missing supplier configuration: set the environment variable(s) {}", .0.join(", "))]
    Missing(Vec<&'static str>),
    #[error("invalid {var}: {reason}")]
    Invalid { var: &'static str, reason: String },
    #[error("cannot set up TLS for the https supplier endpoints: {0}")]
    Tls(String),
}

/// JD open platform (JOS) credentials and method names.
#[derive(Clone, PartialEq, Eq)]
pub struct JdConfig {
    /// The `routerjson` endpoint, e.g. `https://api.jd.com/routerjson`.
    pub api_url: String,
    pub app_key: String,
    pub app_secret: String,
    pub access_token: String,
    pub forward_method: String,
    pub intercept_method: String,
}

impl JdConfig {
    pub const DEFAULT_FORWARD_METHOD: &'static str = "jingdong.kepler.order.submit";
    pub const DEFAULT_INTERCEPT_METHOD: &'static str = "jingdong.kepler.order.cancel";

    /// Default method names.
    pub fn new(
        api_url: impl Into<String>,
        app_key: impl Into<String>,
        app_secret: impl Into<String>,
        access_token: impl Into<String>,
    ) -> Self {
        Self {
            api_url: api_url.into(),
            app_key: app_key.into(),
            app_secret: app_secret.into(),
            access_token: access_token.into(),
            forward_method: Self::DEFAULT_FORWARD_METHOD.to_owned(),
            intercept_method: Self::DEFAULT_INTERCEPT_METHOD.to_owned(),
        }
    }
}

impl fmt::Debug for JdConfig {
    // The secret and the token never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JdConfig")
            .field("api_url", &self.api_url)
            .field("app_key", &self.app_key)
            .field("app_secret", &"<redacted>")
            .field("access_token", &"<redacted>")
            .field("forward_method", &self.forward_method)
            .field("intercept_method", &self.intercept_method)
            .finish()
    }
}

/// Where the three channels live and how long to wait for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupplierConfig {
    /// Base URL of the own-warehouse API (`/warehouses/...` is appended).
    pub warehouse_api_url: String,
    /// Base URL of the dropship API (`/suppliers/...` is appended).
    pub dropship_api_url: String,
    pub jd: JdConfig,
    /// Upper bound for one whole exchange (connect, send, read the answer).
    pub timeout: Duration,
}

impl SupplierConfig {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(5000);

    pub fn new(
        warehouse_api_url: impl Into<String>,
        dropship_api_url: impl Into<String>,
        jd: JdConfig,
    ) -> Self {
        Self {
            warehouse_api_url: warehouse_api_url.into(),
            dropship_api_url: dropship_api_url.into(),
            jd,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// Everything pointed at one local simulator (`scripts/supplier-sim`):
    /// warehouse and dropship at `base_url`, JD at `{base_url}/jd/routerjson`,
    /// app key `dev-app-key`, access token `dev-access-token`.
    pub fn local(base_url: &str, jd_app_secret: &str) -> Self {
        let base = base_url.trim_end_matches('/');
        Self::new(
            base,
            base,
            JdConfig::new(
                format!("{base}/jd/routerjson"),
                "dev-app-key",
                jd_app_secret,
                "dev-access-token",
            ),
        )
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Reads `WAREHOUSE_API_URL`, `DROPSHIP_API_URL`, `JD_API_URL`,
    /// `JD_APP_KEY`, `JD_APP_SECRET`, `JD_ACCESS_TOKEN` (required),
    /// `JD_FORWARD_METHOD`, `JD_INTERCEPT_METHOD`, `SUPPLIER_TIMEOUT_MS`
    /// (optional). An empty value counts as unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) over any lookup (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut missing = Vec::new();
        let mut required = |name: &'static str| {
            get(name).unwrap_or_else(|| {
                missing.push(name);
                String::new()
            })
        };
        let warehouse = required(var::WAREHOUSE_API_URL);
        let dropship = required(var::DROPSHIP_API_URL);
        let jd_url = required(var::JD_API_URL);
        let app_key = required(var::JD_APP_KEY);
        let app_secret = required(var::JD_APP_SECRET);
        let access_token = required(var::JD_ACCESS_TOKEN);
        if !missing.is_empty() {
            return Err(ConfigError::Missing(missing));
        }
        let mut jd = JdConfig::new(jd_url.trim(), app_key, app_secret, access_token);
        if let Some(m) = get(var::JD_FORWARD_METHOD) {
            jd.forward_method = m.trim().to_owned();
        }
        if let Some(m) = get(var::JD_INTERCEPT_METHOD) {
            jd.intercept_method = m.trim().to_owned();
        }
        let mut config = Self::new(warehouse.trim(), dropship.trim(), jd);
        if let Some(ms) = get(var::SUPPLIER_TIMEOUT_MS) {
            let ms: u64 = ms.trim().parse().ok().filter(|ms| *ms > 0).ok_or_else(|| {
                ConfigError::Invalid {
                    var: var::SUPPLIER_TIMEOUT_MS,
                    reason: format!("{ms:?} is not a positive number of milliseconds"),
                }
            })?;
            config.timeout = Duration::from_millis(ms);
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks URLs, method names and the timeout; [`SupplierRouter::new`](crate::SupplierRouter::new)
    /// calls it too.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_base_url(var::WAREHOUSE_API_URL, &self.warehouse_api_url)?;
        check_base_url(var::DROPSHIP_API_URL, &self.dropship_api_url)?;
        check_base_url(var::JD_API_URL, &self.jd.api_url)?;
        for (name, value) in [
            (var::JD_APP_KEY, &self.jd.app_key),
            (var::JD_APP_SECRET, &self.jd.app_secret),
            (var::JD_ACCESS_TOKEN, &self.jd.access_token),
        ] {
            if value.is_empty() {
                return Err(ConfigError::Missing(vec![name]));
            }
        }
        for (name, method) in [
            (var::JD_FORWARD_METHOD, &self.jd.forward_method),
            (var::JD_INTERCEPT_METHOD, &self.jd.intercept_method),
        ] {
            if method.is_empty()
                || !method
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_'))
            {
                return Err(ConfigError::Invalid {
                    var: name,
                    reason: format!("{method:?} is not a JOS method name"),
                });
            }
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Invalid {
                var: var::SUPPLIER_TIMEOUT_MS,
                reason: "must be positive".to_owned(),
            });
        }
        Ok(())
    }

    pub(crate) fn any_https(&self) -> bool {
        [
            &self.warehouse_api_url,
            &self.dropship_api_url,
            &self.jd.api_url,
        ]
        .iter()
        .any(|u| u.to_ascii_lowercase().starts_with("https://"))
    }
}

fn check_base_url(var: &'static str, url: &str) -> Result<(), ConfigError> {
    let invalid = |reason: &str| ConfigError::Invalid {
        var,
        reason: format!("{url:?} {reason}"),
    };
    let uri: http::Uri = url
        .parse()
        .map_err(|_| invalid("is not a URL (expected http(s)://host[:port][/path])"))?;
    match uri.scheme_str() {
        Some("http") | Some("https") => {}
        _ => return Err(invalid("must start with http:// or https://")),
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(invalid("has no host"));
    }
    if uri.query().is_some() || url.contains('#') {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("WAREHOUSE_API_URL", "http://127.0.0.1:9100"),
        ("DROPSHIP_API_URL", "https://dropship.example.com/v1/"),
        ("JD_API_URL", "https://api.jd.com/routerjson"),
        ("JD_APP_KEY", "key"),
        ("JD_APP_SECRET", "secret"),
        ("JD_ACCESS_TOKEN", "token"),
    ];

    #[test]
    fn defaults_apply() {
        let c = SupplierConfig::from_lookup(env(FULL)).unwrap();
        assert_eq!(c.timeout, Duration::from_millis(5000));
        assert_eq!(c.jd.forward_method, "jingdong.kepler.order.submit");
        assert_eq!(c.jd.intercept_method, "jingdong.kepler.order.cancel");
        assert!(c.any_https());
    }

    #[test]
    fn overrides_apply() {
        let mut pairs = FULL.to_vec();
        pairs.push(("SUPPLIER_TIMEOUT_MS", "250"));
        pairs.push(("JD_FORWARD_METHOD", "jingdong.x.submit"));
        pairs.push(("JD_INTERCEPT_METHOD", "jingdong.x.cancel"));
        let c = SupplierConfig::from_lookup(env(&pairs)).unwrap();
        assert_eq!(c.timeout, Duration::from_millis(250));
        assert_eq!(c.jd.forward_method, "jingdong.x.submit");
        assert_eq!(c.jd.intercept_method, "jingdong.x.cancel");
    }

    #[test]
    fn every_missing_variable_is_named() {
        let err = SupplierConfig::from_lookup(env(&[
            ("WAREHOUSE_API_URL", "http://x"),
            ("JD_APP_KEY", ""),
        ]))
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Missing(vec![
                "DROPSHIP_API_URL",
                "JD_API_URL",
                "JD_APP_KEY",
                "JD_APP_SECRET",
                "JD_ACCESS_TOKEN"
            ])
        );
        assert!(err.to_string().contains("DROPSHIP_API_URL, JD_API_URL"));
    }

    #[test]
    fn bad_values_are_refused() {
        for (var, value) in [
            ("SUPPLIER_TIMEOUT_MS", "0"),
            ("SUPPLIER_TIMEOUT_MS", "soon"),
            ("WAREHOUSE_API_URL", "ftp://x"),
            ("WAREHOUSE_API_URL", "127.0.0.1:9000"),
            ("JD_API_URL", "http://x/routerjson?a=1"),
            ("JD_FORWARD_METHOD", "a b"),
        ] {
            let mut pairs: Vec<_> = FULL.iter().filter(|(k, _)| *k != var).copied().collect();
            pairs.push((var, value));
            match SupplierConfig::from_lookup(env(&pairs)) {
                Err(ConfigError::Invalid { var: v, .. }) => assert_eq!(v, var, "{value}"),
                other => panic!("{var}={value}: {other:?}"),
            }
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let c = SupplierConfig::local("http://127.0.0.1:1", "very-secret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("dev-access-token"), "{shown}");
    }
}
