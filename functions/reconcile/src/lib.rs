//! Reconciliation with WeChat Pay's trade bill (SPEC 2.12): a day's bill of
//! each merchant account against the payments its storefronts kept and the
//! orders' refunds. Run daily by the schedule (the day before, in
//! Asia/Shanghai: the bill is ready after 10:00 the next day) and by
//! `scripts/reconcile --date YYYY-MM-DD`.

use adapters::secrets::PaymentSecrets;
use adapters::sqs::SqsPublisher;
use adapters::App;
use domain::payment::reconcile::{self, Report};
use domain::payment::refund::PaymentChannel;
use domain::ports::Storefronts;
use domain::storefront::{Storefront, StorefrontId};
use domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use suppliers::wechatpay::{bill, Credentials, WechatPay};

#[derive(Clone)]
pub struct Reconcile {
    pub app: App,
    pub publisher: SqsPublisher,
    pub secrets: PaymentSecrets,
    pub wechatpay: WechatPay,
}

/// What to reconcile: a day (default: yesterday in Asia/Shanghai) and one
/// storefront's account (default: every account).
#[derive(Debug, Default, Deserialize)]
pub struct Ask {
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub storefront: Option<String>,
    /// Only the plan: which merchant accounts would be reconciled (their
    /// credentials read), asking the provider nothing and changing nothing
    /// (the deployment's pre-traffic check).
    #[serde(default)]
    pub plan: bool,
}

impl Ask {
    /// From an invocation: `{"date"?, "storefront"?}`, or the schedule's
    /// event (which names neither).
    pub fn from_event(event: &serde_json::Value) -> Self {
        match event.get("detail-type") {
            Some(_) => Self::default(),
            None => serde_json::from_value(event.clone()).unwrap_or_default(),
        }
    }
}

/// One account's outcome.
#[derive(Debug, Serialize)]
pub struct AccountOutcome {
    pub mchid: String,
    #[serde(flatten)]
    pub report: Option<Report>,
    /// Why it could not be reconciled (the bill not ready, WeChat down...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub date: String,
    pub accounts: Vec<AccountOutcome>,
    pub differences: usize,
    pub errors: usize,
}

impl Outcome {
    /// Something for staff: a difference, or an account not reconciled.
    pub fn is_clean(&self) -> bool {
        self.differences == 0 && self.errors == 0
    }
}

/// Reconciles `ask` as of `now`.
pub async fn run(f: &Reconcile, ask: &Ask, now: Timestamp) -> Result<Outcome, String> {
    let date = match &ask.date {
        Some(d) if suppliers::wechatpay::valid_date(d) => d.clone(),
        Some(d) => return Err(format!("--date {d:?} is not YYYY-MM-DD")),
        None => Timestamp::from_unix(now.unix() - 86_400).shanghai_date(),
    };
    let mut storefronts: Vec<Storefront> = f
        .app
        .store
        .list_storefronts()
        .await
        .map_err(|e| format!("storefronts: {e}"))?;
    if !storefronts.iter().any(|s| s.id.is_default()) {
        storefronts.push(Storefront::implicit_default());
    }
    let only = match &ask.storefront {
        Some(raw) => {
            let id = StorefrontId::parse(raw).map_err(|e| e.to_string())?;
            if !storefronts.iter().any(|s| s.id == id) {
                return Err(format!("no storefront {id}"));
            }
            Some(id)
        }
        None => None,
    };
    // One bill per merchant account, whichever storefronts share it.
    let mut accounts: Vec<(Arc<Credentials>, Vec<StorefrontId>)> = Vec::new();
    // A storefront naming credentials that cannot be read is not reconciled:
    // an error in the outcome, not a silently clean day.
    let mut unreadable = Vec::new();
    for sf in &storefronts {
        let Some(c) = f.secrets.wechatpay(sf).await.map_err(|e| e.to_string())? else {
            if sf.secret_names.contains_key("wechatpay") {
                unreadable.push(sf.id.clone());
            }
            continue;
        };
        match accounts.iter_mut().find(|(a, _)| a.mchid == c.mchid) {
            Some((_, ids)) => ids.push(sf.id.clone()),
            None => accounts.push((c, vec![sf.id.clone()])),
        }
    }
    // One storefront asked for: its whole merchant account (the bill holds
    // every storefront that shares it).
    if let Some(id) = &only {
        accounts.retain(|(_, ids)| ids.contains(id));
        unreadable.retain(|u| u == id);
    }
    let mut out = Outcome {
        date: date.clone(),
        accounts: Vec::new(),
        differences: 0,
        errors: 0,
    };
    for id in unreadable {
        tracing::error!(storefront = %id, "not reconciled: its WeChat Pay credentials cannot be read or parsed");
        out.errors += 1;
        out.accounts.push(AccountOutcome {
            mchid: String::new(),
            report: None,
            error: Some(format!(
                "storefront {id}: its WeChat Pay credentials cannot be read or parsed"
            )),
        });
    }
    if ask.plan {
        out.accounts
            .extend(accounts.iter().map(|(c, _)| AccountOutcome {
                mchid: c.mchid.clone(),
                report: None,
                error: None,
            }));
        return Ok(out);
    }
    for (creds, ids) in accounts {
        let result = async {
            let file = f
                .wechatpay
                .client
                .trade_bill(&creds, &date)
                .await
                .map_err(|e| e.to_string())?;
            let parsed = match file {
                Some(bytes) => Some(bill::to_bill(
                    &bill::parse(&bytes).map_err(|e| e.to_string())?,
                )),
                None => None,
            };
            reconcile::reconcile(
                &f.app.store,
                &f.publisher,
                &ids,
                PaymentChannel::Wechatpay,
                &date,
                parsed.as_ref(),
                now,
            )
            .await
            .map_err(|e| e.to_string())
        }
        .await;
        match result {
            Ok(report) => {
                for d in &report.differences {
                    tracing::error!(mchid = %creds.mchid, difference = %d.describe(&date), "reconciliation difference");
                }
                out.differences += report.differences.len();
                out.accounts.push(AccountOutcome {
                    mchid: creds.mchid.clone(),
                    report: Some(report),
                    error: None,
                });
            }
            Err(e) => {
                tracing::error!(mchid = %creds.mchid, error = %e, "not reconciled");
                out.errors += 1;
                out.accounts.push(AccountOutcome {
                    mchid: creds.mchid.clone(),
                    report: None,
                    error: Some(e),
                });
            }
        }
    }
    tracing::info!(date = %out.date, accounts = out.accounts.len(), differences = out.differences, errors = out.errors, "reconciled");
    // What the alarms watch: a day reconciled, its differences, the
    // accounts that could not be (absent metrics read as none).
    metrics::counter!("ReconciliationRuns").increment(1);
    metrics::counter!("ReconciliationDifferences").increment(out.differences as u64);
    metrics::counter!("ReconciliationErrors").increment(out.errors as u64);
    Ok(out)
}
