//! Secrets read once at cold start. Deployed, `<NAME>_ARN` names a Secrets
//! Manager secret whose string is the value, or a JSON object holding it
//! under `<NAME>` (one secret may hold several, e.g. JD's app secret and
//! access token). Locally (the dev stack, tests), `<NAME>` itself is the
//! value, as documented in README.

use crate::app::StartupError;
use std::collections::HashMap;

/// Settings whose value is a JSON object: the whole secret string, not a
/// key inside it.
const WHOLE: &[&str] = &["SUPPLIER_WEBHOOK_SECRETS"];

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
            client: Some(aws_sdk_secretsmanager::Client::new(sdk)),
            read: Default::default(),
        }
    }

    /// No secret store: `default`'s secret, and the local ones.
    pub fn local(default: &str) -> Self {
        Self {
            default: Some(default.to_owned()).filter(|d| !d.is_empty()),
            local: true,
            client: None,
            read: Default::default(),
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
        if let Some((at, v)) = self
            .read
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
        {
            if at.elapsed() < STOREFRONT_SECRET_FOR {
                return Ok(Some(v.clone()));
            }
        }
        let Some(client) = &self.client else {
            return Ok(None);
        };
        // A secret that cannot be read verifies nothing: the notification is
        // refused (401; the provider sends it again later) and the cause logged.
        let out = match client.get_secret_value().secret_id(name).send().await {
            Ok(out) => out,
            Err(e) => {
                tracing::error!(
                    storefront = %sf.id,
                    secret = %name,
                    error = %aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                    "the storefront's payment secret cannot be read"
                );
                return Ok(None);
            }
        };
        let text = out.secret_string().unwrap_or_default();
        // A JSON object holds it under `PAYMENT_WEBHOOK_SECRET`; else it is the string.
        let value = match serde_json::from_str::<serde_json::Value>(text) {
            Ok(serde_json::Value::Object(map)) => map
                .get("PAYMENT_WEBHOOK_SECRET")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            _ => Some(text.to_owned()),
        }
        .filter(|v| !v.is_empty());
        if let Some(v) = &value {
            self.read
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone(), (std::time::Instant::now(), v.clone()));
        }
        Ok(value)
    }
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
