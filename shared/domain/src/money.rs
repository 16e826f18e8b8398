//! Money in integer minor units (CNY fen).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::iter::Sum;
use std::ops::Add;

/// An amount in minor units. Never negative; sums are checked by construction
/// limits (qty <= 999, <= 50 lines, price <= [`Cents::MAX_PRICE`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(example = 1990))]
pub struct Cents(pub u64);

impl Cents {
    pub const ZERO: Cents = Cents(0);
    /// The largest unit price the catalog accepts (100 million yuan).
    pub const MAX_PRICE: Cents = Cents(10_000_000_000);

    pub fn times(self, qty: u32) -> Cents {
        Cents(self.0 * u64::from(qty))
    }
    pub fn saturating_sub(self, other: Cents) -> Cents {
        Cents(self.0.saturating_sub(other.0))
    }
}

impl Add for Cents {
    type Output = Cents;
    fn add(self, rhs: Cents) -> Cents {
        Cents(self.0 + rhs.0)
    }
}

impl Sum for Cents {
    fn sum<I: Iterator<Item = Cents>>(iter: I) -> Cents {
        iter.fold(Cents::ZERO, Add::add)
    }
}

impl fmt::Display for Cents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}
