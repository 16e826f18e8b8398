//! Secrets read once at cold start. Deployed, `<NAME>_ARN` names a Secrets
//! Manager secret whose string is the value, or a JSON object holding it
//! under `<NAME>` (one secret may hold several, e.g. JD's app secret and
//! access token). Locally (the dev stack, tests), `<NAME>` itself is the
//! value, as documented in README.

use crate::app::StartupError;
use std::collections::HashMap;

/// Settings whose value is a JSON object: the whole secret string, not a
/// key inside it.
const WHOLE: &[&str] = &["SUPPLIER_WEBHOOK_SECRETS", "WECHATPAY_CREDENTIALS"];

/// The values of the secrets a function asked for, by name.
#[derive(Clone, Default)]
pub struct Secrets {
    values: HashMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.values.keys().collect();
        names.sort();
        f.debug_struct("Secrets").field("names", &names).finish()
    }
}

impl Secrets {
    /// Loads `names`: each from the secret its `<NAME>_ARN` names, or else
    /// from the environment. A name found nowhere is left out.
    pub async fn load(
        sdk: &aws_config::SdkConfig,
        names: &[&'static str],
    ) -> Result<Self, StartupError> {
        Self::load_with(sdk, names, |k| std::env::var(k).ok()).await
    }

    pub async fn load_with(
        sdk: &aws_config::SdkConfig,
        names: &[&'static str],
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, StartupError> {
        let mut values = HashMap::new();
        let mut fetched: HashMap<String, String> = HashMap::new();
        let mut client = None;
        for &name in names {
            let Some(arn) = env(&format!("{name}_ARN")).filter(|a| !a.is_empty()) else {
                if let Some(v) = env(name).filter(|v| !v.is_empty()) {
                    values.insert(name.to_owned(), v);
                }
                continue;
            };
            if !fetched.contains_key(&arn) {
                let client = client.get_or_insert_with(|| aws_sdk_secretsmanager::Client::new(sdk));
                let out = client
                    .get_secret_value()
                    .secret_id(&arn)
                    .send()
                    .await
                    .map_err(|e| {
                        StartupError::Secret(
                            name,
                            aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                        )
                    })?;
                let text = out.secret_string().ok_or_else(|| {
                    StartupError::Secret(name, "the secret holds no string".into())
                })?;
                fetched.insert(arn.clone(), text.to_owned());
            }
            let text = &fetched[&arn];
            let value = match serde_json::from_str::<serde_json::Value>(text) {
                // A map-valued setting is the whole secret.
                Ok(serde_json::Value::Object(_)) if WHOLE.contains(&name) => text.clone(),
                Ok(serde_json::Value::Object(map)) => map
                    .get(name)
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        StartupError::Secret(name, format!("no {name} in the secret"))
                    })?,
                _ => text.clone(),
            };
            values.insert(name.to_owned(), value);
        }
        Ok(Self { values })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// A secret the function cannot run without.
    /// An empty value (an empty secret string) is missing: a key of nothing
    /// would verify anyone's signature.
    pub fn required(&self, name: &'static str) -> Result<String, StartupError> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or(StartupError::Missing(name))
    }

    /// `SUPPLIER_WEBHOOK_SECRETS`, each supplier's own key (SPEC 2.5).
    pub fn supplier_secrets(
        &self,
    ) -> Result<domain::payment::signature::SupplierSecrets, StartupError> {
        let text = self.required("SUPPLIER_WEBHOOK_SECRETS")?;
        domain::payment::signature::SupplierSecrets::parse(&text)
            .map_err(|e| StartupError::Secret("SUPPLIER_WEBHOOK_SECRETS", e))
    }
}

/// How long a storefront's secret read from the secret store is kept
/// (a rotated value is picked up after this).
const STOREFRONT_SECRET_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// Each storefront's payment-notification secret (SPEC 2.13): the secret its
/// settings name under `payment_webhook`, read from the secret store when
/// first needed (and again when the name changes, or after 5 minutes).
/// Naming none, `default` uses `PAYMENT_WEBHOOK_SECRET`; locally another
/// storefront uses `dev-payment-secret-<id>`, deployed it cannot be paid.
#[derive(Clone)]
pub struct PaymentSecrets {
    default: Option<String>,
    local: bool,
    client: Option<aws_sdk_secretsmanager::Client>,
    read: std::sync::Arc<std::sync::Mutex<HashMap<String, (std::time::Instant, String)>>>,
    /// The `default` storefront's WeChat Pay credentials (a JSON object of
    /// the `WECHATPAY_*` names), when configured.
    wechatpay_default: Option<String>,
    /// Credentials parsed, by the text they came from.
    parsed: std::sync::Arc<std::sync::Mutex<HashMap<String, Arc<Credentials>>>>,
}

use std::sync::Arc;
use suppliers::wechatpay::{Credentials, CREDENTIAL_NAMES};

/// The `default` storefront's WeChat Pay credentials as one JSON object:
/// the secret `WECHATPAY_CREDENTIALS_ARN` names (deployed), else the
/// `WECHATPAY_*` variables (the local stack). None when not configured.
pub async fn wechatpay_default(
    sdk: &aws_config::SdkConfig,
) -> Result<Option<String>, StartupError> {
    let secrets = Secrets::load(sdk, &["WECHATPAY_CREDENTIALS"]).await?;
    if let Some(text) = secrets.get("WECHATPAY_CREDENTIALS") {
        return Ok(Some(text.to_owned()));
    }
    let mut map = serde_json::Map::new();
    for name in CREDENTIAL_NAMES {
        if let Some(v) = std::env::var(name).ok().filter(|v| !v.is_empty()) {
            map.insert(name.to_owned(), serde_json::Value::String(v));
        }
    }
    Ok((!map.is_empty()).then(|| serde_json::Value::Object(map).to_string()))
}

/// Credentials from the JSON object `text` (None: it names no merchant).
pub fn parse_wechatpay(text: &str) -> Result<Option<Credentials>, String> {
    let map: HashMap<String, serde_json::Value> = serde_json::from_str(text)
        .map_err(|e| format!("the WeChat Pay credentials are not a JSON object: {e}"))?;
    Credentials::from_values(|name| match map.get(name)? {
        serde_json::Value::String(s) => Some(s.clone()),
        // The verification keys may be stored as an object, not a string.
        other @ serde_json::Value::Object(_) => Some(other.to_string()),
        _ => None,
    })
}

impl std::fmt::Debug for PaymentSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PaymentSecrets")
            .field("local", &self.local)
            .finish_non_exhaustive()
    }
}

/// The local secret of a storefront that names none.
pub fn dev_payment_secret(storefront: &domain::storefront::StorefrontId) -> String {
    format!("dev-payment-secret-{storefront}")
}

impl PaymentSecrets {
    /// `default`: `PAYMENT_WEBHOOK_SECRET`; `local`: the dev stack and tests.
    pub fn new(sdk: &aws_config::SdkConfig, default: Option<String>, local: bool) -> Self {
        Self {
            // An empty key would verify anyone's signature: none instead.
            default: default.filter(|d| !d.is_empty()),
            local,
            client: Some(aws_sdk_secretsmanager::Client::from_conf(
                aws_sdk_secretsmanager::config::Builder::from(sdk)
                    .interceptor(crate::xray::XRayInterceptor::default())
                    .build(),
            )),
            read: Default::default(),
            wechatpay_default: None,
            parsed: Default::default(),
        }
    }

    /// With the `default` storefront's WeChat Pay credentials (see
    /// [`wechatpay_default`]); locally every storefront naming none uses them.
    pub fn with_wechatpay(mut self, default: Option<String>) -> Self {
        self.wechatpay_default = default;
        self
    }

    /// No secret store: `default`'s secret, and the local ones.
    pub fn local(default: &str) -> Self {
        Self {
            default: Some(default.to_owned()).filter(|d| !d.is_empty()),
            local: true,
            client: None,
            read: Default::default(),
            wechatpay_default: None,
            parsed: Default::default(),
        }
    }

    /// The secret notifications for `sf` are signed with; None when it has none.
    pub async fn for_storefront(
        &self,
        sf: &domain::storefront::Storefront,
    ) -> Result<Option<String>, domain::error::StoreError> {
        let Some(name) = sf.secret_names.get("payment_webhook") else {
            return Ok(if sf.id.is_default() {
                self.default.clone()
            } else if self.local {
                Some(dev_payment_secret(&sf.id))
            } else {
                None
            });
        };
        let Some(text) = self.read_secret(name, &sf.id, "payment_webhook").await else {
            return Ok(None);
        };
        // A JSON object holds it under `PAYMENT_WEBHOOK_SECRET`; else it is the string.
        Ok(match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(map)) => map
                .get("PAYMENT_WEBHOOK_SECRET")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            _ => Some(text),
        }
        .filter(|v| !v.is_empty()))
    }

    /// The WeChat Pay credentials of `sf`: the secret its settings name
    /// under `wechatpay` (a JSON object of the `WECHATPAY_*` names), else
    /// for `default` (and locally any storefront) the configured default.
    /// None: `sf` takes no WeChat Pay (or its credentials do not parse,
    /// which is logged).
    pub async fn wechatpay(
        &self,
        sf: &domain::storefront::Storefront,
    ) -> Result<Option<Arc<Credentials>>, domain::error::StoreError> {
        let text = match sf.secret_names.get("wechatpay") {
            Some(name) => self.read_secret(name, &sf.id, "wechatpay").await,
            None if sf.id.is_default() || self.local => self.wechatpay_default.clone(),
            None => None,
        };
        let Some(text) = text else { return Ok(None) };
        if let Some(c) = lock(&self.parsed).get(&text) {
            return Ok(Some(c.clone()));
        }
        match parse_wechatpay(&text) {
            Ok(Some(c)) => {
                let c = Arc::new(c);
                lock(&self.parsed).insert(text, c.clone());
                Ok(Some(c))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::error!(storefront = %sf.id, error = %e, "the storefront's WeChat Pay credentials do not parse");
                Ok(None)
            }
        }
    }

    /// The string of the secret `name` (cached for 5 minutes); None when it
    /// cannot be read (logged: what it verifies is refused, the provider
    /// sends it again later).
    async fn read_secret(
        &self,
        name: &str,
        sf: &domain::storefront::StorefrontId,
        purpose: &str,
    ) -> Option<String> {
        if let Some((at, v)) = lock(&self.read).get(name) {
            if at.elapsed() < STOREFRONT_SECRET_FOR {
                return Some(v.clone());
            }
        }
        let client = self.client.as_ref()?;
        let out = match client.get_secret_value().secret_id(name).send().await {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(
                    storefront = %sf,
                    secret = %name,
                    purpose,
                    error = %aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                    "the storefront's secret cannot be read"
                );
                return None;
            }
        };
        let text = out.secret_string().unwrap_or_default().to_owned();
        if text.is_empty() {
            return None;
        }
        lock(&self.read).insert(name.to_owned(), (std::time::Instant::now(), text.clone()));
        Some(text)
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An empty secret (an empty string in the secret store) would let
    /// anyone sign: it counts as none, and the notification is refused.
    #[tokio::test]
    async fn an_empty_default_secret_verifies_nothing() {
        let default = domain::storefront::Storefront::implicit_default();
        assert_eq!(
            PaymentSecrets::local("")
                .for_storefront(&default)
                .await
                .unwrap(),
            None
        );
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build();
        let none = PaymentSecrets::new(&sdk, Some(String::new()), false);
        assert_eq!(none.for_storefront(&default).await.unwrap(), None);
        let set = PaymentSecrets::local("k");
        assert_eq!(
            set.for_storefront(&default).await.unwrap().as_deref(),
            Some("k")
        );
    }
}
