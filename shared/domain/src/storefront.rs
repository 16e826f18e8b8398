//! Storefronts (SPEC 2.13): the mini-program, the app, the web mall, a second
//! brand, selling from one stock through one back end. Each has its own
//! terms (freight, time to pay, after-sales window, service phone) over the
//! environment's defaults, the app clients whose buyers it serves, and the
//! names of its secrets in the secret store (never key material).

use crate::config::Config;
use crate::config::FreightPolicy;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::money::Cents;
use crate::ports::Storefronts;
use crate::time::Timestamp;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A storefront's id: `[a-z0-9-]{1,32}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(example = "mini-program", pattern = "^[a-z0-9-]{1,32}$")
)]
pub struct StorefrontId(String);

impl StorefrontId {
    /// The storefront of a stack that configures none, and of every order
    /// and SKU written before storefronts existed.
    pub const DEFAULT: &'static str = "default";

    pub fn parse(s: &str) -> Result<Self, UnknownStorefront> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(UnknownStorefront(s.chars().take(64).collect()))
        }
    }

    pub fn default_id() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    pub fn is_default(&self) -> bool {
        self.0 == Self::DEFAULT
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for StorefrontId {
    fn default() -> Self {
        Self::default_id()
    }
}

impl fmt::Display for StorefrontId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for StorefrontId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// 404 `unknown_storefront`: a request names a storefront that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no storefront {0:?}")]
pub struct UnknownStorefront(pub String);

impl Problem for UnknownStorefront {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NotFound
    }
    fn code(&self) -> &'static str {
        "unknown_storefront"
    }
    fn details(&self) -> Option<serde_json::Value> {
        Some(serde_json::json!({ "storefront": self.0 }))
    }
}

/// How old a process's copy of the storefronts' settings may be.
pub const SETTINGS_FOR_SECS: u64 = 30;

/// The storefront `id` names: stored, or for `default` the environment's
/// terms when none is stored.
pub async fn find<S: Storefronts>(store: &S, id: &StorefrontId) -> Result<Storefront, LookupError> {
    match store.get_storefront(id).await? {
        Some(sf) => Ok(sf),
        None if id.is_default() => Ok(Storefront::implicit_default()),
        None => Err(LookupError::Unknown(UnknownStorefront(id.to_string()))),
    }
}

/// The storefront serving an app client (its `app_client_ids`); `default`
/// when none names it.
pub async fn of_app_client<S: Storefronts>(
    store: &S,
    client: &str,
) -> Result<StorefrontId, StoreError> {
    Ok(store
        .list_storefronts()
        .await?
        .into_iter()
        .find(|sf| sf.app_client_ids.iter().any(|c| c == client))
        .map(|sf| sf.id)
        .unwrap_or_default())
}

/// A storefront named by a request that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(transparent)]
    Unknown(#[from] UnknownStorefront),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Problem for LookupError {
    fn kind(&self) -> ErrorKind {
        match self {
            LookupError::Unknown(e) => e.kind(),
            LookupError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            LookupError::Unknown(e) => e.code(),
            LookupError::Store(e) => e.code(),
        }
    }
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            LookupError::Unknown(e) => e.details(),
            LookupError::Store(e) => e.details(),
        }
    }
}

/// The secrets a storefront may name, by purpose.
pub const SECRET_PURPOSES: [&str; 2] = ["payment_webhook", "wechatpay"];

/// A storefront as stored and shown. A setting left out takes the
/// environment's default (SPEC 2.2, 3) when an order is placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Storefront {
    pub id: StorefrontId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight_cents: Option<Cents>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub free_shipping_over_cents: Option<Cents>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freight_policy: Option<FreightPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_ttl_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_sales_days: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_service_phone: Option<String>,
    /// The app clients (JWT `client_id`) whose buyers this storefront serves.
    #[serde(default)]
    pub app_client_ids: Vec<String>,
    /// Names of its secrets in the secret store, by purpose
    /// (`payment_webhook`: the gateway's signing secret; `wechatpay`).
    #[serde(default)]
    pub secret_names: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
}

impl Storefront {
    /// The storefront a stack runs as when none is configured: its terms
    /// are the environment's.
    pub fn implicit_default() -> Self {
        Self {
            id: StorefrontId::default_id(),
            name: "Default".to_owned(),
            freight_cents: None,
            free_shipping_over_cents: None,
            freight_policy: None,
            payment_ttl_secs: None,
            after_sales_days: None,
            customer_service_phone: None,
            app_client_ids: Vec::new(),
            secret_names: BTreeMap::new(),
            updated_at: None,
        }
    }

    /// The configuration an order placed here is held to: the environment's,
    /// with this storefront's settings over it.
    pub fn terms(&self, env: &Config) -> Config {
        let mut c = env.clone();
        if let Some(f) = self.freight_cents {
            c.freight = f;
        }
        if let Some(f) = self.free_shipping_over_cents {
            c.free_shipping_over = f;
        }
        if let Some(p) = self.freight_policy {
            c.freight_policy = p;
        }
        if let Some(t) = self.payment_ttl_secs {
            c.payment_ttl_secs = t;
        }
        if let Some(d) = self.after_sales_days {
            c.after_sales_days = d;
        }
        if let Some(p) = &self.customer_service_phone {
            c.customer_service_phone = p.clone();
        }
        c
    }
}

/// Body of `PUT /storefronts/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StorefrontInput {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub name: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100000000))]
    pub freight_cents: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 10000000000_i64))]
    pub free_shipping_over_cents: Option<i64>,
    #[serde(default)]
    pub freight_policy: Option<FreightPolicy>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 60, maximum = 2592000))]
    pub payment_ttl_secs: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 365))]
    pub after_sales_days: Option<i64>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 32))]
    pub customer_service_phone: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 20))]
    pub app_client_ids: Option<Vec<String>>,
    /// Purpose (`payment_webhook`, `wechatpay`) to the secret's name or ARN.
    #[serde(default)]
    pub secret_names: Option<BTreeMap<String, String>>,
}

/// 422 `invalid_storefront`, or 403 for a caller who may not manage them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorefrontError {
    #[error("{0}")]
    Invalid(String),
    #[error("only an admin may manage storefronts")]
    Forbidden,
}

impl Problem for StorefrontError {
    fn kind(&self) -> ErrorKind {
        match self {
            StorefrontError::Invalid(_) => ErrorKind::Unprocessable,
            StorefrontError::Forbidden => ErrorKind::Forbidden,
        }
    }
    fn code(&self) -> &'static str {
        match self {
            StorefrontError::Invalid(_) => "invalid_storefront",
            StorefrontError::Forbidden => "forbidden",
        }
    }
}

impl StorefrontInput {
    pub fn validate(self, id: StorefrontId, now: Timestamp) -> Result<Storefront, StorefrontError> {
        let invalid = |m: &str| Err(StorefrontError::Invalid(m.to_owned()));
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 100 {
            return invalid("name must be 1 to 100 characters");
        }
        let cents = |v: Option<i64>, max: u64, what: &str| match v {
            None => Ok(None),
            Some(n) if n >= 0 && n as u64 <= max => Ok(Some(Cents(n as u64))),
            Some(_) => Err(StorefrontError::Invalid(format!(
                "{what} must be between 0 and {max}"
            ))),
        };
        let freight_cents = cents(self.freight_cents, 100_000_000, "freight_cents")?;
        let free_shipping_over_cents = cents(
            self.free_shipping_over_cents,
            Cents::MAX_PRICE.0,
            "free_shipping_over_cents",
        )?;
        let payment_ttl_secs = match self.payment_ttl_secs {
            None => None,
            Some(n) if (60..=2_592_000).contains(&n) => Some(n as u64),
            Some(_) => return invalid("payment_ttl_secs must be between 60 and 2592000"),
        };
        let after_sales_days = match self.after_sales_days {
            None => None,
            Some(n) if (0..=365).contains(&n) => Some(n as u32),
            Some(_) => return invalid("after_sales_days must be between 0 and 365"),
        };
        let customer_service_phone = match self.customer_service_phone.map(|p| p.trim().to_owned())
        {
            None => None,
            Some(p) if (1..=32).contains(&p.chars().count()) => Some(p),
            Some(_) => return invalid("customer_service_phone must be 1 to 32 characters"),
        };
        let app_client_ids = self.app_client_ids.unwrap_or_default();
        if app_client_ids.len() > 20
            || app_client_ids
                .iter()
                .any(|c| c.is_empty() || c.len() > 128 || !c.bytes().all(|b| b.is_ascii_graphic()))
        {
            return invalid("app_client_ids: at most 20 ids of 1 to 128 visible characters");
        }
        let secret_names = self.secret_names.unwrap_or_default();
        for (purpose, name) in &secret_names {
            if !SECRET_PURPOSES.contains(&purpose.as_str()) {
                return Err(StorefrontError::Invalid(format!(
                    "secret_names: unknown purpose {purpose:?} (known: {})",
                    SECRET_PURPOSES.join(", ")
                )));
            }
            if name.is_empty()
                || name.len() > 2048
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-:".contains(&b))
            {
                return invalid(
                    "secret_names: a secret's name or ARN (letters, digits and /_+=.@-:), never its value",
                );
            }
        }
        Ok(Storefront {
            id,
            name,
            freight_cents,
            free_shipping_over_cents,
            freight_policy: self.freight_policy,
            payment_ttl_secs,
            after_sales_days,
            customer_service_phone,
            app_client_ids,
            secret_names,
            updated_at: Some(now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: serde_json::Value) -> Result<Storefront, StorefrontError> {
        let i: StorefrontInput = serde_json::from_value(v).unwrap();
        i.validate(StorefrontId::parse("app").unwrap(), Timestamp::from_unix(0))
    }

    #[test]
    fn ids_are_lowercase_tokens() {
        for ok in ["default", "mini-program", "brand2", "a"] {
            assert!(StorefrontId::parse(ok).is_ok(), "{ok}");
        }
        let long = "x".repeat(33);
        for bad in ["", "App", "web_mall", "a b", "é", long.as_str()] {
            assert!(StorefrontId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn terms_take_the_storefront_over_the_environment() {
        let env = Config::default();
        let sf = input(serde_json::json!({
            "name": "App", "freight_cents": 500, "free_shipping_over_cents": 20000,
            "freight_policy": "apportioned", "payment_ttl_secs": 900,
            "after_sales_days": 15, "customer_service_phone": "400-111-2222"
        }))
        .unwrap();
        let t = sf.terms(&env);
        assert_eq!(t.freight, Cents(500));
        assert_eq!(t.free_shipping_over, Cents(20000));
        assert_eq!(t.freight_policy, FreightPolicy::Apportioned);
        assert_eq!(t.payment_ttl_secs, 900);
        assert_eq!(t.after_sales_days, 15);
        assert_eq!(t.customer_service_phone, "400-111-2222");
        assert_eq!(
            t.intercept_window_secs, env.intercept_window_secs,
            "not a storefront's"
        );
        let bare = input(serde_json::json!({"name": "Bare"})).unwrap();
        assert_eq!(bare.terms(&env), env, "nothing set: the environment's");
        assert_eq!(Storefront::implicit_default().terms(&env), env);
    }

    #[test]
    fn settings_are_validated_one_by_one() {
        let bad = [
            serde_json::json!({"name": ""}),
            serde_json::json!({"name": "x", "freight_cents": -1}),
            serde_json::json!({"name": "x", "payment_ttl_secs": 10}),
            serde_json::json!({"name": "x", "after_sales_days": 400}),
            serde_json::json!({"name": "x", "customer_service_phone": ""}),
            serde_json::json!({"name": "x", "app_client_ids": [""]}),
            serde_json::json!({"name": "x", "secret_names": {"payment_webhook": "-----BEGIN PRIVATE KEY-----"}}),
            serde_json::json!({"name": "x", "secret_names": {"bank": "orders/app/bank"}}),
        ];
        for b in bad {
            assert!(
                matches!(input(b.clone()), Err(StorefrontError::Invalid(_))),
                "{b}"
            );
        }
        let ok = input(
            serde_json::json!({"name": "x", "secret_names": {"payment_webhook": "arn:aws:secretsmanager:us-east-1:1:secret:orders/app-AbC"}}),
        );
        assert!(ok.is_ok(), "{ok:?}");
    }
}
