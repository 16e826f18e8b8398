//! The opaque cursor of a user's order list: the last order id shown.

use domain::ids::OrderId;

pub fn encode_cursor(id: &OrderId) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{id}"))
}

pub fn decode_cursor(cursor: &str) -> Option<OrderId> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    OrderId::parse(text.strip_prefix("v1:")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::time::Timestamp;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let id = OrderId::generate(&Timestamp::from_unix(1_800_000_000));
        assert_eq!(decode_cursor(&encode_cursor(&id)), Some(id));
        assert_eq!(decode_cursor("nonsense!"), None);
        assert_eq!(decode_cursor(""), None);
    }
}
