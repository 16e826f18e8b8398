//! Identifiers, parsed once at the edge.

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what}: {reason}")]
pub struct IdError {
    pub what: &'static str,
    pub reason: &'static str,
}

fn check_token(what: &'static str, s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError {
            what,
            reason: "empty",
        });
    }
    if s.len() > max {
        return Err(IdError {
            what,
            reason: "too long",
        });
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return Err(IdError {
            what,
            reason: "only letters, digits, '-', '_' and '.' are allowed",
        });
    }
    Ok(())
}

macro_rules! token_id {
    ($(#[$m:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn parse(s: &str) -> Result<Self, IdError> {
                check_token($what, s, $max)?;
                Ok(Self(s.to_owned()))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

token_id!(
    /// A catalog SKU id such as `TEA-100`.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = "TEA-100"))]
    SkuId, "sku", 64
);
token_id!(
    /// A warehouse of our own.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = "WH-1"))]
    WarehouseId, "warehouse", 64
);
token_id!(
    /// A dropship supplier.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = "S-1"))]
    SupplierId, "supplier", 64
);

/// The caller: JWT `sub` deployed, `x-user-id` locally.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(example = "alice")
)]
pub struct UserId(String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let what = "user id";
        if s.is_empty() {
            return Err(IdError {
                what,
                reason: "empty",
            });
        }
        if s.len() > 128 {
            return Err(IdError {
                what,
                reason: "too long",
            });
        }
        // `#` separates key parts in storage; control characters have no business here.
        if s.chars()
            .any(|c| c.is_control() || c == '#' || c.is_whitespace())
        {
            return Err(IdError {
                what,
                reason: "contains forbidden characters",
            });
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An order id: a ULID, so ids sort by creation time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(example = "01KB2R5TQ7X3M9Y0ZB1C2D3E4F")
)]
pub struct OrderId(String);

impl OrderId {
    /// The smallest id generated at `at`: ids sort by time, so ids from
    /// `at` on are at or above it.
    pub fn lower_bound(at: &crate::time::Timestamp) -> String {
        ulid::Ulid::from_parts(at.unix_millis().max(0) as u64, 0).to_string()
    }
    pub fn generate(at: &crate::time::Timestamp) -> Self {
        let ms = at.unix_millis().max(0) as u64;
        let ulid = ulid::Ulid::from_parts(ms, rand_u128());
        Self(ulid.to_string())
    }
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let what = "order id";
        if s.len() != 26 {
            return Err(IdError {
                what,
                reason: "must be a 26-character ULID",
            });
        }
        let u = ulid::Ulid::from_string(s).map_err(|_| IdError {
            what,
            reason: "must be a 26-character ULID",
        })?;
        Ok(Self(u.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn rand_u128() -> u128 {
    ulid::Ulid::new().random()
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An id of something an order holds: `<order id>-<letter><nn>`, so the
/// order is known from the id alone.
macro_rules! order_child_id {
    ($(#[$m:meta])* $name:ident, $what:literal, $tag:literal) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(order: &OrderId, n: usize) -> Self {
                Self(format!("{}-{}{:02}", order.as_str(), $tag, n))
            }
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let bad = IdError {
                    what: $what,
                    reason: concat!("must look like <order id>-", $tag, "<nn>"),
                };
                let (order, n) = s.split_once(concat!("-", $tag)).ok_or(bad.clone())?;
                OrderId::parse(order).map_err(|_| bad.clone())?;
                if n.len() != 2 || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad);
                }
                Ok(Self(s.to_owned()))
            }
            pub fn order_id(&self) -> OrderId {
                OrderId(self.0[..26].to_owned())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

order_child_id!(
    /// A package: `<order id>-P<nn>`.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = "01KB2R5TQ7X3M9Y0ZB1C2D3E4F-P01"))]
    PackageId, "package id", "P"
);
order_child_id!(
    /// An after-sales case: `<order id>-C<nn>`.
    #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = "01KB2R5TQ7X3M9Y0ZB1C2D3E4F-C01"))]
    CaseId, "case id", "C"
);

/// A client's `Idempotency-Key` header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let what = "Idempotency-Key";
        if s.is_empty() || s.len() > 128 {
            return Err(IdError {
                what,
                reason: "must be 1 to 128 characters",
            });
        }
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdError {
                what,
                reason: "must be printable ASCII without spaces",
            });
        }
        Ok(Self(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sku_ids_are_checked() {
        assert!(SkuId::parse("TEA-100").is_ok());
        assert!(SkuId::parse("").is_err());
        assert!(SkuId::parse("a#b").is_err());
        assert!(SkuId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn package_id_knows_its_order() {
        let order = OrderId::generate(&crate::time::Timestamp::from_unix(1_700_000_000));
        let p = PackageId::new(&order, 3);
        assert_eq!(PackageId::parse(p.as_str()).unwrap().order_id(), order);
        assert!(PackageId::parse("nope-P01").is_err());
        assert!(PackageId::parse(&format!("{order}-P1")).is_err());
    }

    #[test]
    fn order_ids_sort_by_time() {
        let a = OrderId::generate(&crate::time::Timestamp::from_unix(1_700_000_000));
        let b = OrderId::generate(&crate::time::Timestamp::from_unix(1_700_000_001));
        assert!(a < b);
        assert!(OrderId::parse("not-a-ulid").is_err());
    }

    #[test]
    fn user_ids_reject_separators() {
        assert!(UserId::parse("alice").is_ok());
        assert!(UserId::parse("a#b").is_err());
        assert!(UserId::parse("").is_err());
    }
}

/// A caller's staff roles (SPEC 2.11); a caller with several has the union
/// of their rights. None: a buyer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    /// Everything staff may do, and the catalog (`staff` is read as `admin`).
    pub admin: bool,
    /// Orders, cancelling, after-sales, the attention list, refunds.
    pub support: bool,
    /// Its own warehouse's pick list and shipping, nothing else.
    pub warehouse: Option<WarehouseId>,
}

impl Roles {
    /// From role names (`admin`, `staff`, `support`, `warehouse`; others
    /// are no role) and the warehouse claim, which counts only with the
    /// `warehouse` role.
    pub fn from_names<'a>(
        names: impl IntoIterator<Item = &'a str>,
        warehouse: Option<&str>,
    ) -> Self {
        let mut roles = Roles::default();
        for name in names {
            match name.trim().to_ascii_lowercase().as_str() {
                "admin" | "staff" => roles.admin = true,
                "support" => roles.support = true,
                "warehouse" => {
                    roles.warehouse = warehouse.and_then(|w| WarehouseId::parse(w.trim()).ok())
                }
                _ => {}
            }
        }
        roles
    }
}

/// Who is calling, as established by the edge (JWT claims or dev headers),
/// and through which storefront (SPEC 2.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub roles: Roles,
    /// The storefront of the request (a buyer's orders are placed and
    /// listed in it): from the JWT's app client deployed, `x-storefront` locally.
    pub storefront: crate::storefront::StorefrontId,
    /// The storefronts a staff user is limited to (`custom:storefronts`);
    /// None: all of them.
    pub staff_storefronts: Option<std::collections::BTreeSet<crate::storefront::StorefrontId>>,
}

impl Caller {
    /// A buyer in the `default` storefront.
    pub fn buyer(user: UserId) -> Self {
        Self {
            user,
            roles: Roles::default(),
            storefront: crate::storefront::StorefrontId::default_id(),
            staff_storefronts: None,
        }
    }

    /// An admin of every storefront.
    pub fn staff(user: UserId) -> Self {
        Self {
            roles: Roles {
                admin: true,
                ..Roles::default()
            },
            ..Self::buyer(user)
        }
    }

    /// Staff who handle orders: `admin` or `support` (not `warehouse` alone).
    pub fn is_staff(&self) -> bool {
        self.roles.admin || self.roles.support
    }

    /// May change the catalog and the storefronts: an `admin` limited to no storefront.
    pub fn is_admin_of_all(&self) -> bool {
        self.roles.admin && self.staff_storefronts.is_none()
    }

    /// May ship packages at all: an `admin`, or a `warehouse` user (its own
    /// warehouse's only: [`Caller::ships_from`]).
    pub fn may_ship(&self) -> bool {
        self.roles.admin || self.roles.warehouse.is_some()
    }

    /// May ship a package of `warehouse`: an admin, or that warehouse's user.
    pub fn ships_from(&self, warehouse: &WarehouseId) -> bool {
        self.roles.admin || self.roles.warehouse.as_ref() == Some(warehouse)
    }

    /// The same caller, in `storefront`.
    pub fn in_storefront(self, storefront: crate::storefront::StorefrontId) -> Self {
        Self { storefront, ..self }
    }

    /// True when this caller may see (and, as its role allows, act on) what
    /// `owner` placed in `storefront`: its owner, or staff serving that
    /// storefront. Everyone else is answered 404, as if it did not exist.
    pub fn may_see(&self, owner: &UserId, storefront: &crate::storefront::StorefrontId) -> bool {
        *owner == self.user || (self.is_staff() && self.serves(storefront))
    }

    /// True when this staff user may see and act on what belongs to
    /// `storefront` (always, for a user not limited to some).
    pub fn serves(&self, storefront: &crate::storefront::StorefrontId) -> bool {
        self.staff_storefronts
            .as_ref()
            .is_none_or(|set| set.contains(storefront))
    }

    /// Timeline actor label.
    pub fn actor(&self) -> String {
        if self.is_staff() || self.roles.warehouse.is_some() {
            format!("staff:{}", self.user)
        } else {
            format!("user:{}", self.user)
        }
    }
}
