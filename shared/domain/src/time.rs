//! Instants, serialised as RFC 3339 UTC.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = DateTime, example = "2026-11-25T03:11:38.123Z"))]
pub struct Timestamp(OffsetDateTime);

/// The clock's setting: `CLOCK_OFFSET_SECS` (whole seconds, may be negative)
/// moves every `now` of this process, so a whole stack and its tests can run
/// a year ahead (CI does) and show that nothing depends on today's date. Read
/// once; a malformed value stops the process at its first `now`.
fn clock_offset_millis() -> i64 {
    static OFFSET: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *OFFSET.get_or_init(|| match std::env::var("CLOCK_OFFSET_SECS") {
        Err(_) => 0,
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|s| s.unsigned_abs() <= 100 * 365 * 86_400)
            .map(|s| s * 1000)
            .unwrap_or_else(|| {
                panic!("CLOCK_OFFSET_SECS={v:?} is not a whole number of seconds within 100 years")
            }),
    })
}

impl Timestamp {
    /// Now, by the system clock moved by `CLOCK_OFFSET_SECS` (unset: 0).
    pub fn now() -> Self {
        // Millisecond precision: what we store and show.
        Self::from_unix_millis(
            (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
                + clock_offset_millis(),
        )
    }
    pub fn from_unix(secs: i64) -> Self {
        Self::from_unix_millis(secs.saturating_mul(1000))
    }
    pub fn from_unix_millis(ms: i64) -> Self {
        let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self(t)
    }
    pub fn parse(s: &str) -> Result<Self, time::error::Parse> {
        let t = OffsetDateTime::parse(s, &Rfc3339)?;
        Ok(Self::from_unix_millis(
            (t.unix_timestamp_nanos() / 1_000_000) as i64,
        ))
    }
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }
    pub fn plus_secs(&self, secs: u64) -> Self {
        Self::from_unix_millis(
            self.unix_millis()
                .saturating_add((secs as i64).saturating_mul(1000)),
        )
    }
    /// The calendar day in Asia/Shanghai (UTC+8, no daylight saving):
    /// `YYYY-MM-DD`, the day a WeChat Pay bill counts this instant in.
    pub fn shanghai_date(&self) -> String {
        let t = self.0 + time::Duration::hours(8);
        format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
    }

    /// Fixed-width RFC 3339 (`2026-11-25T03:11:38.123Z`): sorts as text in time order.
    pub fn to_rfc3339(&self) -> String {
        let t = self.0;
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        )
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_sorts_as_text() {
        let a = Timestamp::from_unix_millis(1_764_040_298_123);
        assert_eq!(a.to_rfc3339(), "2025-11-25T03:11:38.123Z");
        assert_eq!(Timestamp::parse(&a.to_rfc3339()).unwrap(), a);
        let b = a.plus_secs(1);
        assert!(a.to_rfc3339() < b.to_rfc3339());
    }
}
