//! `POST /orders/{id}/notes` (SPEC 2.11): a staff note on the order's
//! timeline (`note_added`, actor `staff:<id>`), by `support` or `admin`.

use crate::error::{ErrorKind, Problem, StoreError};
use crate::ids::{Caller, OrderId};
use crate::messages::Publisher;
use crate::order::Order;
use crate::ports::Ledger;
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
use serde::Deserialize;

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("only support and admin staff write notes")]
    StaffOnly,
    #[error("no such order")]
    NotFound,
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(NoteError);

impl Problem for NoteError {
    fn kind(&self) -> ErrorKind {
        match self {
            NoteError::InvalidJson(_) | NoteError::InvalidRequest(_) => ErrorKind::BadRequest,
            NoteError::StaffOnly => ErrorKind::Forbidden,
            NoteError::NotFound => ErrorKind::NotFound,
            NoteError::Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        match self {
            NoteError::InvalidJson(_) => "invalid_json",
            NoteError::InvalidRequest(_) => "invalid_request",
            NoteError::StaffOnly => "forbidden",
            NoteError::NotFound => "order_not_found",
            NoteError::Store(e) => e.code(),
        }
    }
}

/// Body of `POST /orders/{id}/notes`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NoteInput {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub text: String,
}

/// A note as written: 1 to [`MAX_NOTE_CHARS`] characters, trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(String);

impl Note {
    pub fn parse(body: &[u8]) -> Result<Self, NoteError> {
        let input: NoteInput = crate::body::parse(body)?;
        let text = input.text.trim();
        if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
            return Err(NoteError::InvalidRequest(format!(
                "text must be 1 to {MAX_NOTE_CHARS} characters"
            )));
        }
        Ok(Note(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Adds `note` to the order's timeline. Not staff (support, admin): 403
/// to the order's owner, 404 to anyone else; an order of a storefront the
/// caller does not serve: 404.
pub async fn add_note<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    caller: &Caller,
    id: &OrderId,
    note: &Note,
    now: Timestamp,
) -> Result<Order, NoteError> {
    let actor = caller.actor();
    let outcome = transition(store, publisher, Target::Order(id), now, |cur| {
        let order = cur.order.as_ref().ok_or(NoteError::NotFound)?;
        if !caller.is_staff() {
            // The owner is refused; anyone else does not see the order.
            return Err(if caller.may_see(&order.user_id, &order.storefront) {
                NoteError::StaffOnly
            } else {
                NoteError::NotFound
            });
        }
        if !caller.serves(&order.storefront) {
            return Err(NoteError::NotFound);
        }
        let mut next = order.next();
        next.log(now, "note_added", &actor).cause = Some(note.as_str().to_owned());
        let value = next.clone();
        Ok::<_, NoteError>(Decision::write(Write::order(next), value))
    })
    .await?;
    Ok(outcome.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_one_to_a_thousand_characters() {
        assert_eq!(
            Note::parse(br#"{"text": " called the buyer "}"#)
                .unwrap()
                .as_str(),
            "called the buyer"
        );
        for bad in [
            &br#"{"text": "   "}"#[..],
            br#"{"text": ""}"#,
            br#"{}"#,
            br#"{"text": "x", "more": 1}"#,
        ] {
            assert!(
                Note::parse(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!(r#"{{"text": "{}"}}"#, "é".repeat(1001));
        assert!(Note::parse(long.as_bytes()).is_err());
        let max = format!(r#"{{"text": "{}"}}"#, "é".repeat(1000));
        assert!(Note::parse(max.as_bytes()).is_ok());
    }
}
