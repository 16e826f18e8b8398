//! After-sales (SPEC 2.8): the owner opens a case on a received package with
//! proof, staff review it, the goods come back, and the case completes with a
//! refund or an exchange package. Each step is a transition of the case and
//! of its order, written together.

pub mod case;
pub mod uploads;

use crate::after_sales::case::{AfterSalesCase, CaseKind, CaseLine, CaseStatus, NewCase};
use crate::catalog::Sku;
use crate::checkout::place::MAX_ATOMIC_WRITES;
use crate::config::Config;
use crate::error::{ErrorKind, Problem, StoreError};
use crate::fulfilment::packages::token;
use crate::ids::{Caller, CaseId, OrderId, PackageId, SkuId};
use crate::messages::Publisher;
use crate::money::Cents;
use crate::order::{IllegalTransition, Order, PackageStatus};
use crate::ports::{Catalog, CommitError, Ledger, Shortage};
use crate::time::Timestamp;
use crate::transition::{transition, Decision, Target, Write};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

pub const MAX_EVIDENCE: usize = 9;
pub const MAX_EVIDENCE_URL: usize = 1024;
pub const MAX_STORAGE_KEY: usize = 256;
pub const MAX_REASON: usize = 500;
/// Cases one order may have, open or ended: each adds to the order's item.
pub const MAX_CASES_PER_ORDER: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("the body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    InvalidEvidence(String),
    #[error("no such order")]
    OrderNotFound,
    #[error("no such after-sales case")]
    NotFound,
    #[error("no such package in this order")]
    PackageNotFound,
    #[error("staff only")]
    StaffOnly,
    #[error("only the owner may do this")]
    OwnerOnly,
    #[error("the package is {0}: after-sales opens once it is received")]
    NotReceived(&'static str),
    #[error("the after-sales window closed at {0}")]
    WindowClosed(Timestamp),
    #[error("more than was received, less what other cases already claim")]
    TooMany(Vec<serde_json::Value>),
    #[error("another case is open on a line of this package")]
    AlreadyOpen,
    #[error(
        "the package was rejected and refunded already: it takes no exchange; open a refund case"
    )]
    ExchangeOfRefunded,
    #[error("out of stock for the exchange: complete the case as a refund (\"as\": \"refund\")")]
    OutOfStock(Vec<Shortage>),
    #[error("this exchange ({0} items) does not fit one transaction: complete the case as a refund (\"as\": \"refund\")")]
    ExchangeTooLarge(usize),
    #[error(
        "this order already has {MAX_CASES_PER_ORDER} after-sales cases; contact customer service"
    )]
    TooManyCases,
    #[error(transparent)]
    Illegal(#[from] IllegalTransition),
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::body_errors!(CaseError);

impl Problem for CaseError {
    fn kind(&self) -> ErrorKind {
        use CaseError::*;
        match self {
            InvalidJson(_) | InvalidRequest(_) | InvalidEvidence(_) => ErrorKind::BadRequest,
            OrderNotFound | NotFound | PackageNotFound => ErrorKind::NotFound,
            StaffOnly | OwnerOnly => ErrorKind::Forbidden,
            NotReceived(_) | WindowClosed(_) | AlreadyOpen | ExchangeOfRefunded | OutOfStock(_)
            | ExchangeTooLarge(_) | TooManyCases | Illegal(_) => ErrorKind::Conflict,
            TooMany(_) => ErrorKind::Unprocessable,
            Store(e) => e.kind(),
        }
    }
    fn code(&self) -> &'static str {
        use CaseError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            InvalidEvidence(_) => "invalid_evidence",
            OrderNotFound => "order_not_found",
            NotFound => "case_not_found",
            PackageNotFound => "package_not_found",
            StaffOnly => "forbidden",
            OwnerOnly => "owner_only",
            NotReceived(_) => "package_not_received",
            WindowClosed(_) => "after_sales_window_closed",
            TooMany(_) => "quantity_exceeds_received",
            AlreadyOpen => "case_already_open",
            ExchangeOfRefunded => "exchange_of_refunded_package",
            OutOfStock(_) => "out_of_stock",
            ExchangeTooLarge(_) => "exchange_too_large",
            TooManyCases => "too_many_cases",
            Illegal(_) => "invalid_case_state",
            Store(e) => e.code(),
        }
    }
    fn details(&self) -> Option<serde_json::Value> {
        match self {
            CaseError::TooMany(lines) => Some(json!({ "lines": lines })),
            CaseError::OutOfStock(skus) => Some(json!({ "skus": skus })),
            CaseError::Illegal(e) => Some(json!({ "from": e.from, "to": e.to })),
            _ => None,
        }
    }
}

fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, CaseError> {
    Ok(crate::body::parse(body)?)
}

fn text(name: &str, raw: &str, max: usize) -> Result<String, CaseError> {
    let v = raw.trim();
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        return Err(CaseError::InvalidRequest(format!(
            "{name} must be 1 to {max} printable characters"
        )));
    }
    Ok(v.to_owned())
}

/// Evidence is an https URL or a storage key (`uploads/2026/11/a.jpg`).
fn evidence_item(raw: &str) -> Result<String, CaseError> {
    let bad = |why: &str| CaseError::InvalidEvidence(format!("evidence {raw:.40?}: {why}"));
    if let Some(rest) = raw.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if raw.len() > MAX_EVIDENCE_URL {
            return Err(bad("URL too long"));
        }
        if host.is_empty() || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("not a valid https URL"));
        }
        return Ok(raw.to_owned());
    }
    let key_ok = !raw.is_empty()
        && raw.len() <= MAX_STORAGE_KEY
        && !raw.starts_with('/')
        && !raw.contains("..")
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if key_ok {
        Ok(raw.to_owned())
    } else {
        Err(bad("must be an https URL or a storage key"))
    }
}

/// A parsed `{package_id, kind, lines, reason, evidence}`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::OpenApi),
    openapi(components(schemas(RawOpen, RawReview, RawReturn, RawComplete)))
)]
pub struct OpenCase {
    pub package_id: PackageId,
    pub kind: CaseKind,
    pub lines: Vec<CaseLine>,
    pub reason: String,
    pub evidence: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CaseLineInput))]
struct RawLine {
    #[cfg_attr(feature = "openapi", schema(value_type = SkuId))]
    sku: String,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 999))]
    qty: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = OpenCaseRequest))]
struct RawOpen {
    #[cfg_attr(feature = "openapi", schema(value_type = PackageId))]
    package_id: String,
    kind: CaseKind,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50))]
    lines: Vec<RawLine>,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 500))]
    reason: String,
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 9))]
    evidence: Vec<String>,
}

impl OpenCase {
    pub fn parse(body: &[u8]) -> Result<Self, CaseError> {
        let raw: RawOpen = parse_json(body)?;
        let package_id = PackageId::parse(&raw.package_id)
            .map_err(|e| CaseError::InvalidRequest(e.to_string()))?;
        if raw.lines.is_empty() || raw.lines.len() > 50 {
            return Err(CaseError::InvalidRequest(
                "lines must hold 1 to 50 lines".into(),
            ));
        }
        let mut merged: BTreeMap<SkuId, u32> = BTreeMap::new();
        for l in raw.lines {
            let sku = SkuId::parse(&l.sku).map_err(|e| CaseError::InvalidRequest(e.to_string()))?;
            if !(1..=999).contains(&l.qty) {
                return Err(CaseError::InvalidRequest(
                    "qty must be between 1 and 999".into(),
                ));
            }
            *merged.entry(sku).or_default() += l.qty as u32;
        }
        if raw.evidence.is_empty() || raw.evidence.len() > MAX_EVIDENCE {
            return Err(CaseError::InvalidEvidence(format!(
                "evidence must hold 1 to {MAX_EVIDENCE} items, not {}",
                raw.evidence.len()
            )));
        }
        let evidence = raw
            .evidence
            .iter()
            .map(|e| evidence_item(e))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            package_id,
            kind: raw.kind,
            lines: merged
                .into_iter()
                .map(|(sku, qty)| CaseLine { sku, qty })
                .collect(),
            reason: text("reason", &raw.reason, MAX_REASON)?,
            evidence,
        })
    }
}

/// A later step of a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseStep {
    Review {
        approve: bool,
        note: Option<String>,
    },
    ReturnShipment {
        carrier: String,
        tracking_no: String,
    },
    /// `as_refund`: an exchange whose stock is short is completed as a refund.
    Complete {
        as_refund: bool,
        note: Option<String>,
    },
    Withdraw,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = CompleteRequest))]
struct RawComplete {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    note: Option<String>,
    /// `refund`: complete an exchange as a refund (its stock is short).
    #[serde(default, rename = "as")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, pattern = "^refund$"))]
    as_: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ReviewRequest))]
struct RawReview {
    decision: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 500))]
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = ReturnShipmentRequest))]
struct RawReturn {
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    carrier: String,
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    tracking_no: String,
}

impl CaseStep {
    pub fn parse_review(body: &[u8]) -> Result<Self, CaseError> {
        let raw: RawReview = parse_json(body)?;
        let approve = match raw.decision.as_str() {
            "approve" => true,
            "reject" => false,
            _ => {
                return Err(CaseError::InvalidRequest(
                    "decision must be approve or reject".into(),
                ))
            }
        };
        let note = match raw.note.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(text("note", n, MAX_REASON)?),
        };
        Ok(CaseStep::Review { approve, note })
    }

    /// `complete`: no body, or `{"note"?, "as"?: "refund"}`.
    pub fn parse_complete(body: &[u8]) -> Result<Self, CaseError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(CaseStep::Complete {
                as_refund: false,
                note: None,
            });
        }
        let raw: RawComplete = parse_json(body)?;
        let as_refund = match raw.as_.as_deref() {
            None => false,
            Some("refund") => true,
            Some(_) => return Err(CaseError::InvalidRequest("as must be refund".into())),
        };
        let note = match raw.note.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(text("note", n, MAX_REASON)?),
        };
        Ok(CaseStep::Complete { as_refund, note })
    }

    pub fn parse_return(body: &[u8]) -> Result<Self, CaseError> {
        let raw: RawReturn = parse_json(body)?;
        Ok(CaseStep::ReturnShipment {
            carrier: token("carrier", &raw.carrier).map_err(CaseError::InvalidRequest)?,
            tracking_no: token("tracking_no", &raw.tracking_no)
                .map_err(CaseError::InvalidRequest)?,
        })
    }
}

/// Why a package is not open to a new case now, if it is not.
pub fn eligibility(
    order: &Order,
    package: &PackageId,
    cfg: &Config,
    now: Timestamp,
) -> Result<(), CaseError> {
    let p = order.package(package).ok_or(CaseError::PackageNotFound)?;
    let since = match p.status() {
        PackageStatus::Received => p.received_at(),
        PackageStatus::Rejected => p.rejected_at(),
        other => return Err(CaseError::NotReceived(other.as_str())),
    }
    .unwrap_or(now);
    let closes = since.plus_secs(order.after_sales_secs(cfg));
    if now > closes {
        return Err(CaseError::WindowClosed(closes));
    }
    Ok(())
}

/// `POST /orders/{id}/after-sales` by the owner: 201 with the case.
pub async fn open_case<S: Ledger, P: Publisher>(
    store: &S,
    publisher: &P,
    cfg: &Config,
    caller: &Caller,
    order_id: &OrderId,
    req: &OpenCase,
    now: Timestamp,
) -> Result<AfterSalesCase, CaseError> {
    let actor = caller.actor();
    let outcome = transition(store, publisher, Target::Order(order_id), now, |cur| {
        let order = match &cur.order {
            Some(o) if o.user_id == caller.user => o,
            // Staff who may see it: the owner opens cases, not staff.
            Some(o) if caller.may_see(&o.user_id, &o.storefront) => {
                return Err(CaseError::OwnerOnly)
            }
            _ => return Err(CaseError::OrderNotFound),
        };
        if matches!(cur.refusal, Some(CommitError::CaseLineTaken)) {
            return Err(CaseError::AlreadyOpen);
        }
        // Uploaded proof is cited from its owner's own prefix only.
        let own = uploads::prefix(&order.user_id);
        if let Some(other) = req
            .evidence
            .iter()
            .find(|e| uploads::is_key(e) && !e.starts_with(&own))
        {
            return Err(CaseError::InvalidEvidence(format!(
                "evidence {other:.60?}: a key must be one of your uploads ({own}...)"
            )));
        }
        eligibility(order, &req.package_id, cfg, now)?;
        if order.cases().len() >= MAX_CASES_PER_ORDER {
            return Err(CaseError::TooManyCases);
        }
        let package = order
            .package(&req.package_id)
            .ok_or(CaseError::PackageNotFound)?;
        if req.kind == CaseKind::Exchange && package.status() == PackageStatus::Rejected {
            return Err(CaseError::ExchangeOfRefunded);
        }
        let open_on_line = |sku: &SkuId| {
            order.cases().iter().any(|c| {
                c.package_id == req.package_id
                    && c.status.is_open()
                    && c.lines.iter().any(|l| &l.sku == sku)
            })
        };
        let mut too_many = Vec::new();
        for line in &req.lines {
            let received: u32 = package
                .lines
                .iter()
                .filter(|l| l.sku == line.sku)
                .map(|l| l.qty)
                .sum();
            if received == 0 {
                return Err(CaseError::InvalidRequest(format!(
                    "{} is not in package {}",
                    line.sku, req.package_id
                )));
            }
            if open_on_line(&line.sku) {
                return Err(CaseError::AlreadyOpen);
            }
            let room = received.saturating_sub(order.claimed_by_cases(&req.package_id, &line.sku));
            if line.qty > room {
                too_many.push(json!({"sku": line.sku, "requested": line.qty, "claimable": room}));
            }
        }
        if !too_many.is_empty() {
            return Err(CaseError::TooMany(too_many));
        }
        let case = AfterSalesCase::open(
            NewCase {
                id: order.next_case_id(),
                package_id: req.package_id.clone(),
                user_id: order.user_id.clone(),
                kind: req.kind,
                lines: req.lines.clone(),
                reason: req.reason.clone(),
                evidence: req.evidence.clone(),
                customer_service_phone: order.service_phone(cfg).to_owned(),
                storefront: order.storefront.clone(),
            },
            &actor,
            now,
        );
        let mut next = order.next();
        next.track_case(case.summary(), case.last_note(), &actor, now);
        let value = case.clone();
        Ok(Decision::write(
            Write {
                order: next,
                payment: None,
                case: Some(case),
            },
            value,
        ))
    })
    .await?;
    Ok(outcome.value)
}

/// `GET /after-sales/{case_id}`: the owner's or, for staff, any; others 404.
pub async fn get_case<S: Ledger>(
    store: &S,
    caller: &Caller,
    id: &CaseId,
) -> Result<AfterSalesCase, CaseError> {
    match store.get_case(id).await? {
        Some(c) if caller.may_see(&c.user_id, &c.storefront) => Ok(c),
        _ => Err(CaseError::NotFound),
    }
}

/// The paid amount of a case's lines, and the freight when, with this case,
/// the whole package has come back.
fn case_refund(order: &Order, case: &AfterSalesCase) -> Cents {
    let Some(package) = order.package(&case.package_id) else {
        return Cents::ZERO;
    };
    // What the package's lines were paid (an exchange package: the value of
    // the lines it replaced).
    let goods: Cents = case
        .lines
        .iter()
        .map(|l| package.paid_value(&l.sku, l.qty))
        .sum();
    let returned: u32 = order
        .cases()
        .iter()
        .filter(|c| c.package_id == case.package_id && c.id != case.id)
        .filter(|c| c.status == CaseStatus::Completed && c.kind != CaseKind::Exchange)
        .flat_map(|c| &c.lines)
        .map(|l| l.qty)
        .sum::<u32>()
        + case.lines.iter().map(|l| l.qty).sum::<u32>();
    let whole: u32 = package.lines.iter().map(|l| l.qty).sum();
    if returned >= whole {
        goods + package.freight_cents
    } else {
        goods
    }
}

/// Where an exchange takes the stock of its lines: `(sku, shard, units)`
/// per stock item, from the SKUs as read; short lines are refused.
fn exchange_stock(
    case: &AfterSalesCase,
    read: &[Sku],
) -> Result<Vec<(SkuId, Option<u8>, u32)>, CaseError> {
    let mut stock = Vec::new();
    let mut short = Vec::new();
    for line in &case.lines {
        let sku = read.iter().find(|s| s.sku == line.sku);
        let shortage = |available: u64| Shortage {
            sku: line.sku.clone(),
            shard: None,
            requested: line.qty,
            available,
        };
        match sku {
            None => short.push(shortage(0)),
            Some(s) if s.is_sharded() => match s.plan_takes(line.qty) {
                Some(takes) => stock.extend(
                    takes
                        .into_iter()
                        .map(|(k, q)| (line.sku.clone(), Some(k), q)),
                ),
                None => short.push(shortage(s.available)),
            },
            Some(s) if s.available < u64::from(line.qty) => short.push(shortage(s.available)),
            Some(_) => stock.push((line.sku.clone(), None, line.qty)),
        }
    }
    if short.is_empty() {
        Ok(stock)
    } else {
        Err(CaseError::OutOfStock(short))
    }
}

/// Review, return shipment, completion or withdrawal of a case.
pub async fn step_case<S: Ledger + Catalog, P: Publisher>(
    store: &S,
    publisher: &P,
    caller: &Caller,
    id: &CaseId,
    step: &CaseStep,
    now: Timestamp,
) -> Result<AfterSalesCase, CaseError> {
    let actor = caller.actor();
    // An exchange takes stock for its lines as a placement would: its SKUs
    // as they are now (a sharded one's shards).
    let mut read: Vec<Sku> = Vec::new();
    if matches!(
        step,
        CaseStep::Complete {
            as_refund: false,
            ..
        }
    ) {
        if let Some(case) = store.get_case(id).await? {
            if case.kind == CaseKind::Exchange {
                let skus: Vec<SkuId> = case.lines.iter().map(|l| l.sku.clone()).collect();
                read = store.get_skus(&skus).await?;
            }
        }
    }
    let outcome = transition(store, publisher, Target::Case(id), now, |cur| {
        let (Some(case), Some(order)) = (&cur.case, &cur.order) else {
            return Err(CaseError::NotFound);
        };
        let owner = case.user_id == caller.user;
        if !caller.may_see(&case.user_id, &order.storefront) {
            return Err(CaseError::NotFound);
        }
        let staff_step = matches!(step, CaseStep::Review { .. } | CaseStep::Complete { .. });
        if staff_step && !caller.is_staff() {
            return Err(CaseError::StaffOnly);
        }
        if !staff_step && !owner {
            return Err(CaseError::OwnerOnly);
        }
        let mut next_order = order.next();
        let next_case = match step {
            CaseStep::Review { approve, note } => {
                let to = if *approve {
                    CaseStatus::Approved
                } else {
                    CaseStatus::Rejected
                };
                case.advance(to, &actor, note.clone(), now)?
            }
            CaseStep::ReturnShipment {
                carrier,
                tracking_no,
            } => {
                let mut c = case.advance(
                    CaseStatus::ReturnShipped,
                    &actor,
                    Some(format!("{carrier} {tracking_no}")),
                    now,
                )?;
                c.set_return(carrier.clone(), tracking_no.clone());
                c
            }
            CaseStep::Withdraw => case.advance(CaseStatus::Withdrawn, &actor, None, now)?,
            CaseStep::Complete { as_refund, note } => {
                let mut c = case.advance(CaseStatus::Completed, &actor, note.clone(), now)?;
                if c.kind == CaseKind::Exchange && !as_refund {
                    if let Some(CommitError::OutOfStock(short)) = &cur.refusal {
                        return Err(CaseError::OutOfStock(short.clone()));
                    }
                    let stock = exchange_stock(&c, &read)?;
                    // The order, the case, a lock per line given back, a
                    // take per stock item, and the case's queue entry (with
                    // room for one more): all in one transaction.
                    let items = 2 + c.lines.len() + stock.len() + 2;
                    if items > MAX_ATOMIC_WRITES {
                        return Err(CaseError::ExchangeTooLarge(items));
                    }
                    let package = next_order.add_exchange_package(&c.summary(), stock, now)?;
                    c.set_outcome(None, Some(package));
                } else {
                    let amount = case_refund(order, &c);
                    let refunded = next_order.refund(
                        now,
                        amount,
                        "after_sales",
                        Some(&c.package_id),
                        Some(&c.id),
                    );
                    let refund_id = (refunded > Cents::ZERO)
                        .then(|| next_order.refunds().last().map(|r| r.id.clone()))
                        .flatten();
                    c.set_outcome(refund_id, None);
                }
                c
            }
        };
        next_order.track_case(next_case.summary(), next_case.last_note(), &actor, now);
        let value = next_case.clone();
        Ok(Decision::write(
            Write {
                order: next_order,
                payment: None,
                case: Some(next_case),
            },
            value,
        ))
    })
    .await?;
    Ok(outcome.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_is_an_https_url_or_a_storage_key() {
        assert!(evidence_item("https://cdn.example.com/a.jpg").is_ok());
        assert!(evidence_item("uploads/2026/11/a-1.jpg").is_ok());
        assert!(evidence_item("http://example.com/a.jpg").is_err());
        assert!(evidence_item("https:///nohost").is_err());
        assert!(evidence_item("../etc/passwd").is_err());
        assert!(evidence_item("/abs/key").is_err());
        assert!(evidence_item(&format!("https://x.com/{}", "a".repeat(1100))).is_err());
    }

    #[test]
    fn open_body_counts_evidence() {
        let body = |n: usize| {
            let ev: Vec<String> = (0..n).map(|i| format!("uploads/{i}.jpg")).collect();
            serde_json::to_vec(&json!({
                "package_id": "01JDEM00000000000000000000-P01", "kind": "refund_only",
                "lines": [{"sku": "TEA", "qty": 1}, {"sku": "TEA", "qty": 2}],
                "reason": "broken", "evidence": ev,
            }))
            .unwrap()
        };
        assert!(matches!(
            OpenCase::parse(&body(0)),
            Err(CaseError::InvalidEvidence(_))
        ));
        assert!(matches!(
            OpenCase::parse(&body(10)),
            Err(CaseError::InvalidEvidence(_))
        ));
        let ok = OpenCase::parse(&body(9)).unwrap();
        assert_eq!(
            ok.lines,
            [CaseLine {
                sku: SkuId::parse("TEA").unwrap(),
                qty: 3
            }]
        );
    }
}
