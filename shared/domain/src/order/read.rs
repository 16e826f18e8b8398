//! Reading orders (SPEC 2.10): owners see their own, staff see any, and
//! another user's order is "not found", never "forbidden".

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId};
use crate::order::Order;
use crate::ports::{ListError, OrderPage, Orders};
use crate::storefront::{StorefrontId, UnknownStorefront};

pub const DEFAULT_PAGE: u32 = 20;
pub const MAX_PAGE: u32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no such order")]
    NotFound,
    #[error("limit must be between 1 and 100")]
    InvalidLimit,
    #[error("the cursor is not valid")]
    InvalidCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Problem for ReadError {
    fn kind(&self) -> ErrorKind {
        match self {
            ReadError::NotFound => ErrorKind::NotFound,
            ReadError::InvalidLimit | ReadError::InvalidCursor => ErrorKind::BadRequest,
            ReadError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            ReadError::NotFound => "order_not_found",
            ReadError::InvalidLimit => "invalid_limit",
            ReadError::InvalidCursor => "invalid_cursor",
            ReadError::Store(e) => e.code(),
        }
    }
}

/// Parses `?limit=`; absent means the default page size.
pub fn parse_limit(raw: Option<&str>) -> Result<u32, ReadError> {
    match raw {
        None => Ok(DEFAULT_PAGE),
        Some(s) => match s.parse::<u32>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(ReadError::InvalidLimit),
        },
    }
}

/// An order id from a path; anything malformed is simply not found.
pub fn parse_order_id(raw: Option<&str>) -> Result<OrderId, ReadError> {
    raw.and_then(|s| OrderId::parse(s).ok())
        .ok_or(ReadError::NotFound)
}

/// `?storefront=`: left out, the request's storefront; `all`, every one;
/// else that storefront (a malformed or empty id is 404 `unknown_storefront`).
pub fn parse_list_scope(
    raw: Option<&str>,
    caller: &Caller,
) -> Result<Option<StorefrontId>, UnknownStorefront> {
    match raw {
        None => Ok(Some(caller.storefront.clone())),
        Some("all") => Ok(None),
        Some(id) => StorefrontId::parse(id).map(Some),
    }
}

pub async fn get_order<S: Orders>(
    store: &S,
    caller: &Caller,
    id: &OrderId,
) -> Result<Order, ReadError> {
    match store.get_order(id).await? {
        Some(order) if caller.may_see(&order.user_id, &order.storefront) => Ok(order),
        _ => Err(ReadError::NotFound),
    }
}

/// The caller's orders in `storefront` (None: in every storefront).
pub async fn list_orders<S: Orders>(
    store: &S,
    caller: &Caller,
    storefront: Option<&StorefrontId>,
    limit: u32,
    cursor: Option<&str>,
) -> Result<OrderPage, ReadError> {
    store
        .list_orders(&caller.user, storefront, limit, cursor)
        .await
        .map_err(|e| match e {
            ListError::BadCursor => ReadError::InvalidCursor,
            ListError::Store(s) => ReadError::Store(s),
        })
}
