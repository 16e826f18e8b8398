//! The WeChat Pay scenarios the WeChat Pay and reconciliation tests share:
//! a stack selling one dropship lamp (forwarded at once), an order of it
//! paid through WeChat and rejected by the supplier, a refund support sends
//! again.

use crate::answers::package_with_sku;
use crate::stack::Stack;
use domain::config::Config;
use serde_json::{json, Value};

pub const LAMP_CENTS: i64 = 2500;
/// `Config::default()`'s freight: the lamp is under the free-shipping line.
pub const FREIGHT: i64 = 1000;
pub const TOTAL: i64 = LAMP_CENTS + FREIGHT;

/// A stack of `cfg` without an interception window, selling the lamp.
pub async fn stack(cfg: Config) -> Stack {
    let s = Stack::spawn(Config {
        intercept_window_secs: 0,
        ..cfg
    })
    .await;
    s.t.put_sku("LAMP", json!({"name": "Lamp", "price_cents": LAMP_CENTS, "source": {"kind": "dropship", "supplier": "S-1"}, "stock_policy": "lock_on_place", "available": 100}))
        .await;
    s
}

/// One lamp placed by `user`, costing [`TOTAL`].
pub async fn lamp_order(s: &Stack, user: &str) -> Value {
    let order = s.placed(user, json!([{"sku": "LAMP", "qty": 1}])).await;
    assert_eq!(order["total_cents"].as_i64(), Some(TOTAL), "{order}");
    order
}

/// A lamp paid through WeChat Pay, forwarded, rejected by the supplier: its
/// goods and freight are to be refunded against the WeChat transaction.
/// (order id, refund number, transaction id).
pub async fn rejected(s: &Stack, user: &str) -> (String, String, String) {
    let order = lamp_order(s, user).await;
    let (status, transaction) = s.pay_wechat(user, &order, None).await;
    assert_eq!(status, 204);
    s.drain(1).await;
    let package = package_with_sku(&order, "LAMP");
    assert_eq!(s.report("S-1", &package, "rejected").await.0, 200);
    let id = order["id"].as_str().unwrap().to_owned();
    (id.clone(), format!("{id}-R01"), transaction)
}

/// Support sends the refund `rid` again; its message and WeChat's
/// notifications delivered.
pub async fn retry_refund(s: &Stack, rid: &str) {
    let (status, v) = s.refund_action("retry", rid, "sue", "support", None).await;
    assert_eq!(status, 200, "{v}");
    s.drain_refunds(1).await;
    s.wechat_notifications().await;
}
