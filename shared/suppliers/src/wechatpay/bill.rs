//! WeChat Pay's trade bill (`bill_type=ALL`), as downloaded: a CSV whose
//! first line names the columns (in Chinese), whose rows carry each field
//! behind a backtick (`` `4200...``) and amounts in yuan (`12.34`), and
//! which ends with a summary (`总交易单数,...` and its totals).

use domain::money::Cents;

/// One row of the bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillRow {
    /// Money taken (`交易状态` SUCCESS).
    Payment {
        transaction_id: String,
        out_trade_no: String,
        amount_cents: Cents,
    },
    /// Money given back (`交易状态` REFUND).
    Refund {
        transaction_id: String,
        out_trade_no: String,
        refund_id: String,
        out_refund_no: String,
        amount_cents: Cents,
        /// `SUCCESS`, `PROCESSING`, `ABNORMAL`, `CLOSED`.
        status: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the trade bill cannot be read: {0}")]
pub struct BillError(pub String);

const TRANSACTION_ID: &str = "微信订单号";
const OUT_TRADE_NO: &str = "商户订单号";
const TRADE_STATE: &str = "交易状态";
const ORDER_AMOUNT: &str = "订单金额";
const SETTLED_AMOUNT: &str = "应结订单金额";
const REFUND_ID: &str = "微信退款单号";
const OUT_REFUND_NO: &str = "商户退款单号";
const ASKED_REFUND: &str = "申请退款金额";
const REFUND_AMOUNT: &str = "退款金额";
const REFUND_STATUS: &str = "退款状态";
const SUMMARY: &str = "总交易单数";

/// The payments and refunds of a bill (rows of other states are skipped).
pub fn parse(file: &[u8]) -> Result<Vec<BillRow>, BillError> {
    let text = std::str::from_utf8(file)
        .map_err(|e| BillError(format!("not UTF-8: {e}")))?
        .trim_start_matches('\u{feff}');
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| BillError("empty".into()))?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let need = |name: &str| col(name).ok_or_else(|| BillError(format!("no column {name}")));
    let (tid, otn, state) = (
        need(TRANSACTION_ID)?,
        need(OUT_TRADE_NO)?,
        need(TRADE_STATE)?,
    );
    let amount = col(ORDER_AMOUNT)
        .or(col(SETTLED_AMOUNT))
        .ok_or_else(|| BillError(format!("no column {ORDER_AMOUNT}")))?;
    let (rid, orn, rstatus) = (need(REFUND_ID)?, need(OUT_REFUND_NO)?, need(REFUND_STATUS)?);
    let refunded = col(ASKED_REFUND)
        .or(col(REFUND_AMOUNT))
        .ok_or_else(|| BillError(format!("no column {REFUND_AMOUNT}")))?;
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        if line.starts_with(SUMMARY) {
            break;
        }
        let fields = fields(line);
        let get = |i: usize| {
            fields
                .get(i)
                .map(|f| f.as_str())
                .ok_or_else(|| BillError(format!("row {}: {} fields", n + 2, fields.len())))
        };
        let yuan = |i: usize| {
            let raw = get(i)?;
            parse_yuan(raw).ok_or_else(|| BillError(format!("row {}: amount {raw:?}", n + 2)))
        };
        match get(state)? {
            "SUCCESS" => rows.push(BillRow::Payment {
                transaction_id: get(tid)?.to_owned(),
                out_trade_no: get(otn)?.to_owned(),
                amount_cents: yuan(amount)?,
            }),
            "REFUND" => rows.push(BillRow::Refund {
                transaction_id: get(tid)?.to_owned(),
                out_trade_no: get(otn)?.to_owned(),
                refund_id: get(rid)?.to_owned(),
                out_refund_no: get(orn)?.to_owned(),
                amount_cents: yuan(refunded)?,
                status: get(rstatus)?.to_owned(),
            }),
            _ => {}
        }
    }
    Ok(rows)
}

/// A row's fields: each opens with a backtick, so a comma inside one (a
/// product name) does not split it.
fn fields(line: &str) -> Vec<String> {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix('`') {
        rest.split(",`").map(|f| f.trim().to_owned()).collect()
    } else {
        line.split(',')
            .map(|f| f.trim().trim_start_matches('`').to_owned())
            .collect()
    }
}

/// `12.34` yuan as 1234 cents, exactly (no floating point).
pub fn parse_yuan(s: &str) -> Option<Cents> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let yuan: u64 = whole.parse().ok()?;
    let cents: u64 = format!("{frac:0<2}").parse().ok()?;
    yuan.checked_mul(100)?.checked_add(cents).map(Cents)
}

/// The rows as the domain's [`Bill`](domain::payment::reconcile::Bill).
pub fn to_bill(rows: &[BillRow]) -> domain::payment::reconcile::Bill {
    use domain::payment::reconcile::{Bill, BillPayment, BillRefund};
    let mut bill = Bill::default();
    for row in rows {
        match row {
            BillRow::Payment {
                transaction_id,
                out_trade_no,
                amount_cents,
            } => bill.payments.push(BillPayment {
                payment_id: transaction_id.clone(),
                out_trade_no: out_trade_no.clone(),
                amount_cents: *amount_cents,
            }),
            BillRow::Refund {
                transaction_id,
                out_refund_no,
                amount_cents,
                status,
                ..
            } => bill.refunds.push(BillRefund {
                payment_id: transaction_id.clone(),
                refund_no: out_refund_no.clone(),
                amount_cents: *amount_cents,
                state: super::refund_state(status),
                status_text: status.clone(),
            }),
        }
    }
    bill
}

/// `1234` cents as `12.34` (the simulator's bill, the report).
pub fn format_yuan(c: Cents) -> String {
    format!("{}.{:02}", c.0 / 100, c.0 % 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape WeChat documents: header, backticked rows (a comma inside
    /// a product name), the summary.
    const BILL: &str = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
`2026-12-04 10:00:01,`wx1,`1900000001,`0,`,`4200000001,`ORD-1,`oX,`JSAPI,`SUCCESS,`OTHERS,`CNY,`110.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea, green,`,`0.66000,`0.60%,`110.00,`0.00,`
`2026-12-04 11:00:00,`wx1,`1900000001,`0,`,`4200000001,`ORD-1,`oX,`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`5030000001,`ORD-1-R01,`30.50,`0.00,`ORIGINAL,`SUCCESS,`Tea,`,`-0.18000,`0.60%,`0.00,`30.50,`
`2026-12-04 12:00:00,`wx1,`1900000001,`0,`,`4200000002,`ORD-2,`oY,`JSAPI,`REVOKED,`OTHERS,`CNY,`0.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Tea,`,`0.00000,`0.60%,`9.90,`0.00,`
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
`2,`110.00,`30.50,`0.00,`0.48000,`110.00,`30.50
";

    #[test]
    fn payments_and_refunds_are_read_in_cents() {
        let rows = parse(BILL.as_bytes()).unwrap();
        assert_eq!(
            rows,
            vec![
                BillRow::Payment {
                    transaction_id: "4200000001".into(),
                    out_trade_no: "ORD-1".into(),
                    amount_cents: Cents(11000),
                },
                BillRow::Refund {
                    transaction_id: "4200000001".into(),
                    out_trade_no: "ORD-1".into(),
                    refund_id: "5030000001".into(),
                    out_refund_no: "ORD-1-R01".into(),
                    amount_cents: Cents(3050),
                    status: "SUCCESS".into(),
                },
            ]
        );
    }

    #[test]
    fn yuan_are_exact() {
        assert_eq!(parse_yuan("0.01"), Some(Cents(1)));
        assert_eq!(parse_yuan("12.3"), Some(Cents(1230)));
        assert_eq!(parse_yuan("7"), Some(Cents(700)));
        assert_eq!(parse_yuan("1.234"), None);
        assert_eq!(parse_yuan("-1.00"), None);
        assert_eq!(parse_yuan(""), None);
        assert_eq!(format_yuan(Cents(1230)), "12.30");
        assert_eq!(
            parse_yuan(&format_yuan(Cents(99_999_999_999))),
            Some(Cents(99_999_999_999))
        );
    }

    #[test]
    fn a_bill_without_its_columns_is_refused() {
        assert!(parse("a,b,c\n`1,`2,`3\n".as_bytes()).is_err());
        assert!(parse(b"").is_err());
    }
}
