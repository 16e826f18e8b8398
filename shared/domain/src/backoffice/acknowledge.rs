//! `POST /staff/attention/{item_id}/acknowledge` (SPEC 2.11): support or
//! admin settle an attention item outside the system (an event that could
//! not apply); the ending is on the timeline with the note. Items ended by
//! their own route (`resolve`) are not acknowledged.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId};
use crate::messages::Publisher;
use crate::order::Order;
use crate::ports::Ledger;
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum AcknowledgeError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("only support and admin staff acknowledge attention items")]
    StaffOnly,
    #[error("no such open attention item")]
    NotFound,
    #[error("this item ends by its own route: {0}")]
    NotAcknowledgeable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(AcknowledgeError);

impl Problem for AcknowledgeError {
    fn kind(&self) -> ErrorKind {
        match self {
            AcknowledgeError::InvalidJson(_) | AcknowledgeError::InvalidRequest(_) => {
                ErrorKind::BadRequest
            }
            AcknowledgeError::StaffOnly => ErrorKind::Forbidden,
            AcknowledgeError::NotFound => ErrorKind::NotFound,
            AcknowledgeError::NotAcknowledgeable(_) => ErrorKind::Conflict,
            AcknowledgeError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            AcknowledgeError::InvalidJson(_) => "invalid_json",
            AcknowledgeError::InvalidRequest(_) => "invalid_request",
            AcknowledgeError::StaffOnly => "forbidden",
            AcknowledgeError::NotFound => "attention_item_not_found",
            AcknowledgeError::NotAcknowledgeable(_) => "not_acknowledgeable",
            AcknowledgeError::Store(e) => e.code(),
        }
    }
}

/// Body of the acknowledgement.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcknowledgeInput {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub note: String,
}

impl AcknowledgeInput {
    /// The note, trimmed, 1 to 1000 characters.
    pub fn parse(body: &[u8]) -> Result<String, AcknowledgeError> {
        let input: AcknowledgeInput = crate::body::parse(body)?;
        let note = input.note.trim();
        if note.is_empty() || note.chars().count() > super::notes::MAX_NOTE_CHARS {
            return Err(AcknowledgeError::InvalidRequest(format!(
                "note must be 1 to {} characters",
                super::notes::MAX_NOTE_CHARS
            )));
        }
        Ok(note.to_owned())
    }
}

/// The order an attention item id (`<order id>-A<nn>`) belongs to.
pub fn order_of_item(item_id: &str) -> Option<OrderId> {
    let (order, n) = item_id.rsplit_once("-A")?;
    (n.len() >= 2 && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| OrderId::parse(order).ok())
        .flatten()
}

/// Ends the item with `note`. Acknowledging an item already acknowledged
/// answers the order as it is (a retried request changes nothing).
pub async fn acknowledge<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    caller: &Caller,
    item_id: &str,
    note: &str,
    now: Timestamp,
) -> Result<Order, AcknowledgeError> {
    let id = order_of_item(item_id).ok_or(AcknowledgeError::NotFound)?;
    let actor = caller.actor();
    let outcome = transition(store, publisher, Target::Order(&id), now, |cur| {
        let order = cur.order.as_ref().ok_or(AcknowledgeError::NotFound)?;
        if !caller.is_staff() {
            // The owner is refused; anyone else does not see the order.
            return Err(if caller.may_see(&order.user_id, &order.storefront) {
                AcknowledgeError::StaffOnly
            } else {
                AcknowledgeError::NotFound
            });
        }
        if !caller.serves(&order.storefront) {
            return Err(AcknowledgeError::NotFound);
        }
        let Some(item) = order.attention().iter().find(|a| a.id == item_id) else {
            let ended = order.timeline().iter().any(|t| {
                t.event == "attention_ended"
                    && t.cause
                        .as_deref()
                        .is_some_and(|c| c == item_id || c.starts_with(&format!("{item_id}: ")))
            });
            return if ended {
                Ok(Decision::Done(order.clone()))
            } else {
                Err(AcknowledgeError::NotFound)
            };
        };
        if !item.actions.iter().any(|a| a == "acknowledge") {
            return Err(AcknowledgeError::NotAcknowledgeable(
                item.actions.join(", "),
            ));
        }
        let mut next = order.next();
        next.end_attention(|a| a.id == item_id, &actor, Some(note), now);
        let value = next.clone();
        Ok(Decision::write(Write::order(next), value))
    })
    .await?;
    Ok(outcome.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_id_names_its_order() {
        let id = OrderId::generate(&Timestamp::from_unix(1_800_000_000));
        assert_eq!(order_of_item(&format!("{id}-A03")), Some(id.clone()));
        assert_eq!(order_of_item(&format!("{id}-P03")), None);
        assert_eq!(order_of_item(&format!("{id}-A")), None);
        assert_eq!(order_of_item("nonsense-A01"), None);
    }
}
