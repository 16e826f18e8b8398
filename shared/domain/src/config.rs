//! Business configuration (SPEC 3), read from a key lookup such as the environment.

use crate::money::Cents;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub payment_ttl_secs: u64,
    pub intercept_window_secs: u32,
    pub auto_confirm_days: u32,
    pub after_sales_days: u32,
    pub freight: Cents,
    pub free_shipping_over: Cents,
    pub freight_policy: FreightPolicy,
    pub customer_service_phone: String,
    /// Sources whose receipt is confirmed automatically (they report none of
    /// their own): `AUTO_CONFIRM_SOURCES`, default `self,dropship`.
    pub auto_confirm_sources: Vec<SourceKind>,
    /// An intercept answered `pending` or not at all is asked again this
    /// often (`INTERCEPT_RETRY_SECS`, SPEC 2.6) ...
    pub intercept_retry_secs: u64,
    /// ... and handed to staff this long after it was requested
    /// (`INTERCEPT_GIVE_UP_SECS`).
    pub intercept_give_up_secs: u64,
    /// A supplier's package not shipped this long after hand-over is overdue
    /// (`SHIP_OVERDUE_HOURS`, SPEC 2.11).
    pub ship_overdue_hours: u32,
    /// A refund the provider took is asked about when no notification came
    /// this long after its last word (`REFUND_QUERY_SECS`, SPEC 2.12).
    pub refund_query_secs: u64,
}

/// How an order's freight is spread over its packages (a shop setting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FreightPolicy {
    /// All freight on the package with the largest goods total (ties: first id).
    Single,
    /// Proportional to goods totals, largest remainder, parts add up exactly.
    Apportioned,
}

impl FreightPolicy {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(Self::Single),
            "apportioned" => Some(Self::Apportioned),
            _ => None,
        }
    }
}

/// The kind of a fulfilment source, without its warehouse or supplier id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    SelfOperated,
    Dropship,
    Jd,
}

impl SourceKind {
    pub fn of(source: &crate::catalog::Source) -> Self {
        match source {
            crate::catalog::Source::SelfOperated { .. } => SourceKind::SelfOperated,
            crate::catalog::Source::Dropship { .. } => SourceKind::Dropship,
            crate::catalog::Source::Jd => SourceKind::Jd,
        }
    }
    fn parse(s: &str) -> Option<Self> {
        match s {
            "self" => Some(SourceKind::SelfOperated),
            "dropship" => Some(SourceKind::Dropship),
            "jd" => Some(SourceKind::Jd),
            _ => None,
        }
    }
}

impl Config {
    /// When a package of `source` shipped at `shipped_at` is received
    /// automatically, if its source is confirmed that way.
    pub fn auto_confirm_at(
        &self,
        source: &crate::catalog::Source,
        shipped_at: crate::time::Timestamp,
    ) -> Option<crate::time::Timestamp> {
        self.auto_confirm_sources
            .contains(&SourceKind::of(source))
            .then(|| shipped_at.plus_secs(u64::from(self.auto_confirm_days) * 86_400))
    }

    /// The after-sales window, in seconds.
    pub fn after_sales_secs(&self) -> u64 {
        u64::from(self.after_sales_days) * 86_400
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            payment_ttl_secs: 86_400,
            intercept_window_secs: 600,
            auto_confirm_days: 10,
            after_sales_days: 7,
            freight: Cents(1000),
            free_shipping_over: Cents(9900),
            freight_policy: FreightPolicy::Single,
            customer_service_phone: "400-000-0000".to_owned(),
            auto_confirm_sources: vec![SourceKind::SelfOperated, SourceKind::Dropship],
            intercept_retry_secs: 600,
            intercept_give_up_secs: 86_400,
            ship_overdue_hours: 48,
            refund_query_secs: 300,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {name}={value:?}: {reason}")]
pub struct ConfigError {
    pub name: &'static str,
    pub value: String,
    pub reason: &'static str,
}

fn number(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n <= max => Ok(n),
            Ok(_) => Err(ConfigError {
                name,
                value: v,
                reason: "too large",
            }),
            Err(_) => Err(ConfigError {
                name,
                value: v,
                reason: "not a whole number",
            }),
        },
    }
}

impl Config {
    /// Reads every setting, falling back to SPEC defaults; a malformed value is an error.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let d = Config::default();
        let freight_policy = match get("FREIGHT_POLICY") {
            None => d.freight_policy,
            Some(v) => FreightPolicy::parse(v.trim()).ok_or(ConfigError {
                name: "FREIGHT_POLICY",
                value: v,
                reason: "must be single or apportioned",
            })?,
        };
        let auto_confirm_sources = match get("AUTO_CONFIRM_SOURCES") {
            None => d.auto_confirm_sources,
            Some(v) => v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    SourceKind::parse(s).ok_or(ConfigError {
                        name: "AUTO_CONFIRM_SOURCES",
                        value: v.clone(),
                        reason: "must list self, dropship or jd, comma-separated",
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Self {
            auto_confirm_sources,
            payment_ttl_secs: number(&get, "PAYMENT_TTL_SECS", d.payment_ttl_secs, 30 * 86_400)?,
            intercept_window_secs: number(&get, "INTERCEPT_WINDOW_SECS", 600, 900)? as u32,
            auto_confirm_days: number(&get, "AUTO_CONFIRM_DAYS", 10, 365)? as u32,
            after_sales_days: number(&get, "AFTER_SALES_DAYS", 7, 365)? as u32,
            freight: Cents(number(
                &get,
                "FREIGHT_CENTS",
                d.freight.0,
                Cents::MAX_PRICE.0,
            )?),
            free_shipping_over: Cents(number(
                &get,
                "FREE_SHIPPING_OVER_CENTS",
                d.free_shipping_over.0,
                u64::MAX / 4,
            )?),
            freight_policy,
            customer_service_phone: get("CUSTOMER_SERVICE_PHONE")
                .unwrap_or(d.customer_service_phone),
            intercept_retry_secs: number(
                &get,
                "INTERCEPT_RETRY_SECS",
                d.intercept_retry_secs,
                30 * 86_400,
            )?,
            intercept_give_up_secs: number(
                &get,
                "INTERCEPT_GIVE_UP_SECS",
                d.intercept_give_up_secs,
                365 * 86_400,
            )?,
            ship_overdue_hours: number(
                &get,
                "SHIP_OVERDUE_HOURS",
                u64::from(d.ship_overdue_hours),
                24 * 365,
            )? as u32,
            refund_query_secs: number(&get, "REFUND_QUERY_SECS", d.refund_query_secs, 30 * 86_400)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(c, Config::default());
        let c = Config::from_lookup(|k| match k {
            "FREIGHT_POLICY" => Some("apportioned".into()),
            "PAYMENT_TTL_SECS" => Some("5".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(c.freight_policy, FreightPolicy::Apportioned);
        assert_eq!(c.payment_ttl_secs, 5);
        assert!(
            Config::from_lookup(|k| (k == "INTERCEPT_WINDOW_SECS").then(|| "901".into())).is_err()
        );
        assert!(Config::from_lookup(|k| (k == "FREIGHT_POLICY").then(|| "free".into())).is_err());
        let c = Config::from_lookup(|k| (k == "AUTO_CONFIRM_SOURCES").then(|| "jd, self".into()))
            .unwrap();
        assert_eq!(
            c.auto_confirm_sources,
            [SourceKind::Jd, SourceKind::SelfOperated]
        );
        assert!(
            Config::from_lookup(|k| (k == "AUTO_CONFIRM_SOURCES").then(|| "mars".into())).is_err()
        );
    }
}
