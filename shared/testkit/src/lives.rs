//! Random order lives (a model-based test): sequences of commands on a few
//! orders and SKUs, the invariants checked after every step. Commands name
//! orders, packages and cases by index, so a shrunk sequence stays valid;
//! the same sequences run on the memory store (fast, thousands) and on
//! DynamoDB Local (fewer), so the real store is held to the same model.

use crate::memory::{MemoryQueues, ScriptedSupplier, SupplierMode};
use domain::after_sales::case::{CaseKind, CaseLine};
use domain::after_sales::{self, CaseStep, OpenCase};
use domain::backoffice::queues::{self, Queue, QueueEntry, QueueQuery, WorkQueues};
use domain::catalog::{SkuUpdate, Source, StockPolicy};
use domain::checkout::place::{place_order, PlaceRequest};
use domain::config::Config;
use domain::error::{ErrorKind, Problem};
use domain::fulfilment::packages::{
    self, CallbackStatus, Resolution, Resolve, Shipment, StatusCallback,
};
use domain::ids::{Caller, CaseId, IdempotencyKey, OrderId, PackageId, SkuId, UserId};
use domain::messages::Message;
use domain::money::Cents;
use domain::order::{Address, Order, OrderStatus, PackageStatus};
use domain::payment::pay::{apply_payment, PaymentNotice};
use domain::ports::{Catalog, Ledger};
use domain::storefront::{Storefront, StorefrontId, StorefrontInput};
use domain::time::Timestamp;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::future::Future;

/// What the invariants read besides orders (a user's limit counter), and
/// the clock of what a store stamps itself.
pub trait LimitCounters {
    fn limit_held(&self, user: &UserId, sku: &SkuId) -> impl Future<Output = u64>;
    fn set_now(&self, _now: Timestamp) {}
}

impl LimitCounters for crate::memory::MemoryStore {
    async fn limit_held(&self, user: &UserId, sku: &SkuId) -> u64 {
        crate::memory::MemoryStore::limit_held(self, user, sku)
    }
    fn set_now(&self, now: Timestamp) {
        crate::memory::MemoryStore::set_now(self, now)
    }
}

/// One step of a life.
#[derive(Debug, Clone)]
pub enum Cmd {
    Place {
        user: u8,
        lines: Vec<(u8, u8)>,
        keyed: bool,
        /// 0: `default`; 1: `app` (its own prices and freight; FAN not sold there).
        storefront: u8,
    },
    /// Pays the order (`second`: with another payment id, a second payment).
    Pay {
        order: u8,
        second: bool,
        exact: bool,
    },
    /// The first payment's notification again.
    Replay {
        order: u8,
    },
    Cancel {
        order: u8,
        staff: bool,
    },
    /// Time passes (0: a minute, 1: an intercept retry, 2: a day and more,
    /// 3: eleven days), then the sweep runs.
    Tick {
        how_long: u8,
    },
    /// The forward queue delivers what it holds, the suppliers in `mode`;
    /// `give_up`: a failed message was its last receive.
    Deliver {
        mode: u8,
        give_up: bool,
    },
    Callback {
        order: u8,
        pkg: u8,
        status: u8,
        twice: bool,
    },
    Ship {
        order: u8,
        pkg: u8,
    },
    /// Does what the owner's `actions` say, or what they leave out: cancel,
    /// confirm receipt, open an after-sales case.
    Act {
        order: u8,
        pkg: u8,
        which: u8,
    },
    Open {
        order: u8,
        pkg: u8,
        kind: u8,
    },
    Step {
        case: u8,
        step: u8,
    },
    Resolve {
        order: u8,
        pkg: u8,
        outcome: u8,
    },
    Reshard {
        sku: u8,
        shards: u8,
    },
    /// Takes an order along its happy path: paid, handed over, shipped and
    /// received (so that later steps find after-sales open).
    Fulfil {
        order: u8,
    },
    /// Takes a case through approval and the return to its completion.
    Settle {
        case: u8,
        as_refund: bool,
    },
    /// The refund queue delivers what it holds (sends, queries), the
    /// gateway in `mode`; `notify`: then it notifies what it settled.
    Refunds {
        mode: u8,
        notify: bool,
    },
    /// Staff retry a failed refund of the order, or record it paid offline.
    StaffRefund {
        order: u8,
        retry: bool,
    },
}

pub fn cmd() -> impl Strategy<Value = Cmd> {
    prop_oneof![
        3 => (0..3u8, prop::collection::vec((0..4u8, 1..4u8), 1..4), any::<bool>(), 0..2u8)
            .prop_map(|(user, lines, keyed, storefront)| Cmd::Place { user, lines, keyed, storefront }),
        3 => (any::<u8>(), prop::bool::weighted(0.1), prop::bool::weighted(0.9))
            .prop_map(|(order, second, exact)| Cmd::Pay { order, second, exact }),
        1 => any::<u8>().prop_map(|order| Cmd::Replay { order }),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(order, staff)| Cmd::Cancel { order, staff }),
        2 => (0..4u8).prop_map(|how_long| Cmd::Tick { how_long }),
        3 => (0..4u8, prop::bool::weighted(0.2))
            .prop_map(|(mode, give_up)| Cmd::Deliver { mode, give_up }),
        4 => (any::<u8>(), 0..4u8, 0..5u8, prop::bool::weighted(0.2))
            .prop_map(|(order, pkg, status, twice)| Cmd::Callback { order, pkg, status, twice }),
        1 => (any::<u8>(), 0..4u8).prop_map(|(order, pkg)| Cmd::Ship { order, pkg }),
        3 => (any::<u8>(), 0..4u8, 0..3u8).prop_map(|(order, pkg, which)| Cmd::Act { order, pkg, which }),
        2 => (any::<u8>(), 0..4u8, 0..3u8).prop_map(|(order, pkg, kind)| Cmd::Open { order, pkg, kind }),
        3 => (any::<u8>(), 0..6u8).prop_map(|(case, step)| Cmd::Step { case, step }),
        1 => (any::<u8>(), 0..4u8, 0..3u8).prop_map(|(order, pkg, outcome)| Cmd::Resolve { order, pkg, outcome }),
        1 => (0..4u8, 0..4u8).prop_map(|(sku, shards)| Cmd::Reshard { sku, shards }),
        3 => any::<u8>().prop_map(|order| Cmd::Fulfil { order }),
        2 => (any::<u8>(), prop::bool::weighted(0.2)).prop_map(|(case, as_refund)| Cmd::Settle { case, as_refund }),
        3 => (0..4u8, any::<bool>()).prop_map(|(mode, notify)| Cmd::Refunds { mode, notify }),
        1 => (any::<u8>(), any::<bool>()).prop_map(|(order, retry)| Cmd::StaffRefund { order, retry }),
    ]
}

/// A life: 1 to `max` steps.
pub fn life(max: usize) -> impl Strategy<Value = Vec<Cmd>> {
    // Steps that need an order come after the first placement.
    prop::collection::vec(cmd(), 1..max)
}

/// The catalog every life starts from (SKU ids after `prefix`): both stock
/// policies, per-user limits, sharded and unsharded stock, all three sources.
pub fn catalog(prefix: &str) -> Vec<SkuUpdate> {
    let own = Source::SelfOperated {
        warehouse: domain::ids::WarehouseId::parse("WH-1").expect("warehouse"),
    };
    let dropship = |id: &str| Source::Dropship {
        supplier: domain::ids::SupplierId::parse(id).expect("supplier"),
    };
    let sku = |name: &str, source, stock_policy, price, per_user_limit, shards, stock| SkuUpdate {
        sku: SkuId::parse(&format!("{prefix}{name}")).expect("sku"),
        name: name.into(),
        price_cents: Cents(price),
        source,
        stock_policy,
        listed: true,
        per_user_limit,
        available: Some(stock),
        stock_shards: Some(shards),
        storefronts: None,
        prices: Default::default(),
    };
    let app = || StorefrontId::parse(APP).expect("storefront");
    let in_app = |mut u: SkuUpdate, price: Option<u64>, only_default: bool| {
        if let Some(p) = price {
            u.prices.insert(app(), Cents(p));
        }
        if only_default {
            u.storefronts = Some(vec![StorefrontId::default_id()]);
        }
        u
    };
    let mut skus = vec![
        sku("TEA", own, StockPolicy::LockOnPlace, 1300, Some(3), 1, 20),
        sku(
            "LAMP",
            dropship("S-1"),
            StockPolicy::DeductOnPay,
            2100,
            None,
            1,
            10,
        ),
        sku(
            "PHONE",
            Source::Jd,
            StockPolicy::LockOnPlace,
            1550,
            None,
            4,
            15,
        ),
        sku(
            "FAN",
            dropship("S-2"),
            StockPolicy::DeductOnPay,
            990,
            Some(5),
            8,
            12,
        ),
    ];
    skus[0] = in_app(skus[0].clone(), Some(APP_TEA_PRICE), false);
    skus[2] = in_app(skus[2].clone(), Some(APP_PHONE_PRICE), false);
    skus[3] = in_app(skus[3].clone(), None, true);
    skus
}

/// The second storefront of every life, and what it changes.
pub const APP: &str = "app";
const APP_TEA_PRICE: u64 = 1100;
const APP_PHONE_PRICE: u64 = 1750;
const APP_FREIGHT: u64 = 700;
const APP_FREE_OVER: u64 = 5000;

/// The `app` storefront's settings.
pub fn app_storefront(now: Timestamp) -> Storefront {
    let input: StorefrontInput = serde_json::from_value(serde_json::json!({
        "name": "App", "freight_cents": APP_FREIGHT, "free_shipping_over_cents": APP_FREE_OVER,
        "after_sales_days": 3,
    }))
    .expect("storefront input");
    input
        .validate(StorefrontId::parse(APP).expect("storefront"), now)
        .expect("storefront")
}

/// The settings of every life: freight below the threshold, short windows.
pub fn config() -> Config {
    Config {
        payment_ttl_secs: 3600,
        intercept_window_secs: 0,
        ..Config::default()
    }
}

/// A life under way on store `S`.
pub struct Life<S> {
    pub store: S,
    pub queues: MemoryQueues,
    pub supplier: ScriptedSupplier,
    pub cfg: Config,
    pub now: Timestamp,
    /// A prefix for SKU ids (one table may hold several lives).
    prefix: String,
    orders: Vec<OrderId>,
    cases: Vec<CaseId>,
    payments: BTreeMap<OrderId, u32>,
    initial: BTreeMap<SkuId, u64>,
    seen: BTreeMap<OrderId, (OrderStatus, Vec<PackageStatus>)>,
    pending: Vec<Message>,
    /// Refund-queue messages not yet handled.
    refund_pending: Vec<Message>,
    pub gateway: crate::memory::MemoryGateway,
    /// What the steps did, for a report.
    pub counts: BTreeMap<&'static str, u64>,
}

fn staff() -> Caller {
    Caller::staff(UserId::parse("staff-1").expect("user"))
}

fn address() -> Address {
    Address {
        name: "Li Lei".into(),
        phone: "13800000000".into(),
        line1: "1 Demo Road".into(),
        city: "Shanghai".into(),
        postcode: "200000".into(),
    }
}

/// An answer that is a bug, whatever the input: an internal error or busy.
fn fatal(e: &impl Problem) -> bool {
    matches!(e.kind(), ErrorKind::Internal | ErrorKind::Busy)
}

impl<S: Catalog + Ledger + LimitCounters + domain::ports::Storefronts + WorkQueues> Life<S> {
    /// Sets up the catalog on `store` at `now`.
    pub async fn start(store: S, prefix: &str, now: Timestamp) -> Self {
        let mut initial = BTreeMap::new();
        store
            .put_storefront(&app_storefront(now))
            .await
            .expect("storefront");
        for u in catalog(prefix) {
            store.put_sku(&u).await.expect("catalog");
            initial.insert(u.sku.clone(), u.available.unwrap_or(0));
        }
        Self {
            store,
            queues: MemoryQueues::default(),
            supplier: ScriptedSupplier::default(),
            cfg: config(),
            now,
            prefix: prefix.to_owned(),
            orders: Vec::new(),
            cases: Vec::new(),
            payments: BTreeMap::new(),
            initial,
            seen: BTreeMap::new(),
            pending: Vec::new(),
            refund_pending: Vec::new(),
            gateway: Default::default(),
            counts: BTreeMap::new(),
        }
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn user(&self, i: u8) -> UserId {
        UserId::parse(&format!("{}u{}", self.prefix.to_lowercase(), i % 3)).expect("user")
    }

    fn owner_of(&self, order: &Order) -> Caller {
        Caller::buyer(order.user_id.clone())
    }

    /// Mostly one of the three newest orders, so that an order sees many steps.
    fn order_id(&self, i: u8) -> Option<OrderId> {
        let n = self.orders.len();
        if n == 0 {
            return None;
        }
        let i = usize::from(i);
        let k = if i % 4 == 0 {
            i / 4 % n
        } else {
            n - 1 - (i % 3).min(n - 1)
        };
        Some(self.orders[k].clone())
    }

    async fn order(&self, i: u8) -> Option<Order> {
        let id = self.order_id(i)?;
        self.store.get_order(&id).await.expect("read")
    }

    fn package(order: &Order, i: u8) -> Option<PackageId> {
        let n = order.packages().len();
        (n > 0).then(|| order.packages()[usize::from(i) % n].id.clone())
    }

    fn sku(&self, i: u8) -> SkuId {
        let names = ["TEA", "LAMP", "PHONE", "FAN"];
        SkuId::parse(&format!("{}{}", self.prefix, names[usize::from(i) % 4])).expect("sku")
    }

    /// Runs one step; an error is a broken rule.
    pub async fn step(&mut self, c: &Cmd) -> Result<(), String> {
        let now = self.now;
        match c {
            Cmd::Place {
                user,
                lines,
                keyed,
                storefront,
            } => {
                let mut merged: BTreeMap<SkuId, u32> = BTreeMap::new();
                for (sku, qty) in lines {
                    *merged.entry(self.sku(*sku)).or_default() += u32::from(*qty);
                }
                let req = PlaceRequest {
                    lines: merged.into_iter().collect(),
                    address: address(),
                    note: None,
                };
                let sf = if *storefront == 1 {
                    StorefrontId::parse(APP).expect("storefront")
                } else {
                    StorefrontId::default_id()
                };
                // FAN is sold in `default` only.
                let elsewhere = *storefront == 1 && lines.iter().any(|(s, _)| s % 4 == 3);
                let caller = Caller::buyer(self.user(*user)).in_storefront(sf.clone());
                let key = keyed.then(|| {
                    IdempotencyKey::parse(&format!("k-{}", self.orders.len())).expect("key")
                });
                match place_order(&self.store, &self.cfg, &caller, key, &req, now).await {
                    Ok(placed) if elsewhere => {
                        return Err(format!("placed FAN in {sf}: {:?}", placed.order.id))
                    }
                    Err(e) if elsewhere && e.code() != "not_listed_here" && !fatal(&e) => {
                        // A key replayed from an earlier request answers first.
                        if e.code() != "idempotency_key_reused" {
                            return Err(format!(
                                "FAN in {sf}: {} instead of not_listed_here",
                                e.code()
                            ));
                        }
                    }
                    Ok(placed) => {
                        self.count("placed");
                        if placed.order.storefront != sf && !placed.replayed {
                            return Err(format!(
                                "placed in {sf}, recorded in {}",
                                placed.order.storefront
                            ));
                        }
                        self.check_totals(&placed.order)?;
                        if !self.orders.contains(&placed.order.id) {
                            self.orders.push(placed.order.id.clone());
                        }
                    }
                    Err(e) if fatal(&e) => return Err(format!("place: {e}")),
                    Err(_) => self.count("place refused"),
                }
            }
            Cmd::Pay {
                order,
                second,
                exact,
            } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let n = self.payments.entry(o.id.clone()).or_default();
                if *second || *n == 0 {
                    *n += 1;
                }
                let notice = PaymentNotice {
                    order_id: o.id.clone(),
                    payment_id: format!("{}-pay-{}", o.id, n),
                    amount_cents: if *exact {
                        o.total_cents
                    } else {
                        o.total_cents + Cents(1)
                    },
                    paid_at: now,
                    storefront: o.storefront.clone(),
                    channel: domain::payment::refund::PaymentChannel::Gateway,
                };
                self.pay(&notice).await?;
            }
            Cmd::Replay { order } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let notice = PaymentNotice {
                    order_id: o.id.clone(),
                    payment_id: format!("{}-pay-1", o.id),
                    amount_cents: o.total_cents,
                    paid_at: now,
                    storefront: o.storefront.clone(),
                    channel: domain::payment::refund::PaymentChannel::Gateway,
                };
                self.pay(&notice).await?;
            }
            Cmd::Cancel {
                order,
                staff: by_staff,
            } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let caller = if *by_staff {
                    staff()
                } else {
                    self.owner_of(&o)
                };
                let r = domain::order::cancel::cancel_order(
                    &self.store,
                    &self.queues,
                    &self.cfg,
                    &caller,
                    &o.id,
                    None,
                    now,
                )
                .await;
                match r {
                    Err(e) if fatal(&e) => return Err(format!("cancel: {e}")),
                    Err(_) => self.count("cancel refused"),
                    Ok(_) => self.count("cancelled"),
                }
            }
            Cmd::Tick { how_long } => {
                let secs = [60, self.cfg.intercept_retry_secs + 1, 90_000, 11 * 86_400];
                self.now = now.plus_secs(secs[usize::from(*how_long) % 4]);
                let summary = domain::order::sweep::sweep(
                    &self.store,
                    &self.queues,
                    &self.cfg,
                    1000,
                    self.now,
                )
                .await
                .map_err(|e| format!("sweep: {e}"))?;
                if summary.failed > 0 {
                    return Err(format!("the sweep failed on an order: {summary:?}"));
                }
                self.count("ticks");
            }
            Cmd::Deliver { mode, give_up } => {
                let mode = [
                    SupplierMode::Accept,
                    SupplierMode::Refuse,
                    SupplierMode::Pending,
                    SupplierMode::Down,
                ][usize::from(*mode) % 4];
                self.supplier.set(mode);
                self.pending.extend(self.queues.take());
                let messages = std::mem::take(&mut self.pending);
                for m in messages {
                    if m.queue() == domain::messages::Queue::Refund {
                        self.refund_pending.push(m);
                        continue;
                    }
                    let r = domain::fulfilment::fulfil::handle(
                        &self.store,
                        &self.queues,
                        &self.supplier,
                        &m,
                        now,
                    )
                    .await;
                    match r {
                        Ok(_) => self.count("delivered"),
                        Err(domain::fulfilment::fulfil::FulfilError::Illegal(e)) => {
                            return Err(format!("deliver {m:?}: {e}"))
                        }
                        Err(domain::fulfilment::fulfil::FulfilError::Store(e)) => {
                            return Err(format!("deliver {m:?}: {e}"))
                        }
                        Err(_) if *give_up => {
                            domain::fulfilment::fulfil::give_up(
                                &self.store,
                                &self.queues,
                                &m,
                                "gave up",
                                now,
                            )
                            .await
                            .map_err(|e| format!("give up: {e}"))?;
                            self.count("given up");
                        }
                        // Left on the queue for a later delivery.
                        Err(_) => self.pending.push(m),
                    }
                }
                self.supplier.set(SupplierMode::Accept);
            }
            Cmd::Callback {
                order,
                pkg,
                status,
                twice,
            } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let Some(p) = Self::package(&o, *pkg) else {
                    return Ok(());
                };
                let source = o.package(&p).expect("package").source.clone();
                let supplier = match source {
                    Source::Dropship { supplier } => supplier.as_str().to_owned(),
                    Source::Jd => "jd".to_owned(),
                    Source::SelfOperated { .. } => return Ok(()),
                };
                let status = [
                    CallbackStatus::Shipped,
                    CallbackStatus::Received,
                    CallbackStatus::Rejected,
                    CallbackStatus::Intercepted,
                    CallbackStatus::InterceptRefused,
                ][usize::from(*status) % 5];
                let cb = StatusCallback {
                    package_id: p,
                    status,
                    tracking_no: None,
                    at: Some(now),
                };
                for _ in 0..if *twice { 2 } else { 1 } {
                    match packages::supplier_status(
                        &self.store,
                        &self.queues,
                        &self.cfg,
                        &supplier,
                        &cb,
                        now,
                    )
                    .await
                    {
                        Err(e) if fatal(&e) => return Err(format!("callback: {e}")),
                        Err(_) => self.count("callback refused"),
                        Ok(s) if s.applied => self.count("callback applied"),
                        Ok(_) => self.count("callback ignored"),
                    }
                }
            }
            Cmd::Ship { order, pkg } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let Some(p) = Self::package(&o, *pkg) else {
                    return Ok(());
                };
                let shipment = Shipment {
                    carrier: "SF".into(),
                    tracking_no: "SF1".into(),
                };
                let r = packages::ship(
                    &self.store,
                    &self.queues,
                    &self.cfg,
                    &staff(),
                    &p,
                    &shipment,
                    now,
                )
                .await;
                match r {
                    Err(e) if fatal(&e) => return Err(format!("ship: {e}")),
                    Err(_) => self.count("ship refused"),
                    Ok(_) => self.count("shipped by staff"),
                }
            }
            Cmd::Act { order, pkg, which } => self.act(*order, *pkg, *which).await?,
            Cmd::Open { order, pkg, kind } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let Some(p) = Self::package(&o, *pkg) else {
                    return Ok(());
                };
                let kind = [
                    CaseKind::RefundOnly,
                    CaseKind::ReturnRefund,
                    CaseKind::Exchange,
                ][usize::from(*kind) % 3];
                self.open(&o, &p, kind).await?;
            }
            Cmd::Step { case, step } => {
                if self.cases.is_empty() {
                    return Ok(());
                }
                let n = self.cases.len();
                let i = usize::from(*case);
                let id = self.cases[if i % 3 == 0 { i % n } else { n - 1 }].clone();
                let (caller, step) = match step % 6 {
                    0 => (
                        staff(),
                        CaseStep::Review {
                            approve: true,
                            note: None,
                        },
                    ),
                    1 => (
                        staff(),
                        CaseStep::Review {
                            approve: false,
                            note: None,
                        },
                    ),
                    2 => (
                        staff(),
                        CaseStep::ReturnShipment {
                            carrier: "SF".into(),
                            tracking_no: "R1".into(),
                        },
                    ),
                    3 => (
                        staff(),
                        CaseStep::Complete {
                            as_refund: false,
                            note: None,
                        },
                    ),
                    4 => (
                        staff(),
                        CaseStep::Complete {
                            as_refund: true,
                            note: None,
                        },
                    ),
                    _ => (staff(), CaseStep::Withdraw),
                };
                // The owner ships returns and withdraws.
                let caller = match step {
                    CaseStep::ReturnShipment { .. } | CaseStep::Withdraw => {
                        let c = self.store.get_case(&id).await.expect("read").expect("case");
                        Caller::buyer(c.user_id)
                    }
                    _ => caller,
                };
                let r = after_sales::step_case(&self.store, &self.queues, &caller, &id, &step, now)
                    .await;
                match r {
                    Err(e) if fatal(&e) => return Err(format!("case step: {e}")),
                    Err(_) => self.count("case step refused"),
                    Ok(_) => self.count("case step"),
                }
            }
            Cmd::Resolve {
                order,
                pkg,
                outcome,
            } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let Some(p) = Self::package(&o, *pkg) else {
                    return Ok(());
                };
                let r = Resolve {
                    outcome: [
                        Resolution::Intercepted,
                        Resolution::Shipped,
                        Resolution::RetryForward,
                    ][usize::from(*outcome) % 3],
                    note: "checked with the supplier".into(),
                };
                match packages::resolve(&self.store, &self.queues, &self.cfg, &staff(), &p, &r, now)
                    .await
                {
                    Err(e) if fatal(&e) => return Err(format!("resolve: {e}")),
                    Err(_) => self.count("resolve refused"),
                    Ok(_) => self.count("resolved"),
                }
            }
            Cmd::Fulfil { order } => {
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                if o.status() == OrderStatus::PendingPayment {
                    let notice = PaymentNotice {
                        order_id: o.id.clone(),
                        payment_id: format!("{}-pay-1", o.id),
                        amount_cents: o.total_cents,
                        paid_at: now,
                        storefront: o.storefront.clone(),
                        channel: domain::payment::refund::PaymentChannel::Gateway,
                    };
                    self.pay(&notice).await?;
                }
                Box::pin(self.step(&Cmd::Deliver {
                    mode: 0,
                    give_up: false,
                }))
                .await?;
                let o = self
                    .store
                    .get_order(&o.id)
                    .await
                    .expect("read")
                    .expect("order");
                for (i, p) in o.packages().iter().enumerate() {
                    let i = i as u8;
                    if matches!(p.source, Source::SelfOperated { .. }) {
                        Box::pin(self.step(&Cmd::Ship {
                            order: *order,
                            pkg: i,
                        }))
                        .await?;
                        Box::pin(self.step(&Cmd::Act {
                            order: *order,
                            pkg: i,
                            which: 1,
                        }))
                        .await?;
                    } else {
                        let cb = Cmd::Callback {
                            order: *order,
                            pkg: i,
                            status: 1,
                            twice: false,
                        };
                        Box::pin(self.step(&cb)).await?;
                    }
                }
            }
            Cmd::Refunds { mode, notify } => {
                use crate::memory::GatewayMode;
                use domain::payment::refund::{self, RefundError};
                let mode = [
                    GatewayMode::Succeed,
                    GatewayMode::Process,
                    GatewayMode::Fail,
                    GatewayMode::Down,
                ][usize::from(*mode) % 4];
                self.gateway.set(mode);
                let (refunds, other): (Vec<_>, Vec<_>) = self
                    .queues
                    .take()
                    .into_iter()
                    .partition(|m| m.queue() == domain::messages::Queue::Refund);
                self.pending.extend(other);
                self.refund_pending.extend(refunds);
                // Some deliveries twice: a refund is sent once however often.
                let mut messages = std::mem::take(&mut self.refund_pending);
                if let Some(first) = messages.first().cloned() {
                    messages.push(first);
                }
                let query_secs = self.cfg.refund_query_secs;
                for m in messages {
                    let r = refund::execute(
                        &self.store,
                        &self.queues,
                        &self.gateway,
                        query_secs,
                        &m,
                        now,
                    )
                    .await;
                    match r {
                        Ok(refund::Executed::Recorded(_)) => self.count("refunds recorded"),
                        Ok(refund::Executed::Skipped) => self.count("refund messages skipped"),
                        Err(RefundError::Provider(_)) => self.refund_pending.push(m),
                        Err(e) => return Err(format!("refund {m:?}: {e}")),
                    }
                }
                self.gateway.set(GatewayMode::Succeed);
                if *notify {
                    for (no, g) in self.gateway.settle() {
                        let word = domain::payment::refund::ProviderRefund {
                            state: g.state,
                            provider_refund_id: None,
                        };
                        refund::notified(
                            &self.store,
                            &self.queues,
                            &g.storefront,
                            &no,
                            &word,
                            query_secs,
                            now,
                        )
                        .await
                        .map_err(|e| format!("refund notification {no}: {e}"))?;
                        self.count("refunds notified");
                    }
                }
            }
            Cmd::StaffRefund { order, retry } => {
                use domain::payment::refund::{self, StaffRefundAction};
                let Some(o) = self.order(*order).await else {
                    return Ok(());
                };
                let Some(r) = o
                    .refunds()
                    .iter()
                    .find(|r| r.status == domain::order::RefundStatus::Failed)
                else {
                    return Ok(());
                };
                let action = if *retry {
                    StaffRefundAction::Retry
                } else {
                    StaffRefundAction::RecordOffline {
                        note: "paid by bank transfer".into(),
                    }
                };
                refund::staff_action(&self.store, &self.queues, &staff(), &r.id, &action, now)
                    .await
                    .map_err(|e| format!("staff refund {}: {e}", r.id))?;
                self.count(if *retry {
                    "refunds retried"
                } else {
                    "refunds paid offline"
                });
            }
            Cmd::Settle { case, as_refund } => {
                let steps = [0, 2, if *as_refund { 4 } else { 3 }];
                for step in steps {
                    Box::pin(self.step(&Cmd::Step { case: *case, step })).await?;
                }
            }
            Cmd::Reshard { sku, shards } => {
                let id = self.sku(*sku);
                let s = self.store.get_sku(&id).await.expect("read").expect("sku");
                let u = domain::catalog::SkuUpdate {
                    sku: id,
                    name: s.name,
                    price_cents: s.price_cents,
                    source: s.source,
                    stock_policy: s.stock_policy,
                    listed: true,
                    per_user_limit: s.per_user_limit,
                    available: None,
                    stock_shards: Some([1, 2, 4, 8][usize::from(*shards) % 4]),
                    storefronts: s.storefronts,
                    prices: s.prices,
                };
                self.store
                    .put_sku(&u)
                    .await
                    .map_err(|e| format!("reshard: {e}"))?;
                self.count("reshards");
            }
        }
        self.check().await
    }

    async fn pay(&mut self, notice: &PaymentNotice) -> Result<(), String> {
        match apply_payment(&self.store, &self.queues, &self.cfg, notice, self.now).await {
            Ok(p) if p.replayed => self.count("payment replayed"),
            Ok(_) => self.count("paid"),
            Err(e) if fatal(&e) => return Err(format!("pay: {e}")),
            Err(_) => self.count("payment refused or refunded"),
        }
        Ok(())
    }

    async fn open(&mut self, o: &Order, p: &PackageId, kind: CaseKind) -> Result<bool, String> {
        let package = o.package(p).expect("package");
        let Some(line) = package
            .lines
            .iter()
            .find(|l| o.claimed_by_cases(p, &l.sku) < l.qty)
            .or(package.lines.first())
        else {
            return Ok(false);
        };
        let req = OpenCase {
            package_id: p.clone(),
            kind,
            lines: vec![CaseLine {
                sku: line.sku.clone(),
                qty: 1,
            }],
            reason: "arrived broken".into(),
            evidence: vec!["https://img.example.com/1.jpg".into()],
        };
        let r = after_sales::open_case(
            &self.store,
            &self.queues,
            &self.cfg,
            &self.owner_of(o),
            &o.id,
            &req,
            self.now,
        )
        .await;
        match r {
            Ok(case) => {
                self.cases.push(case.id);
                self.count("cases opened");
                Ok(true)
            }
            Err(e) if fatal(&e) => Err(format!("open case: {e}")),
            Err(_) => {
                self.count("case refused");
                Ok(false)
            }
        }
    }

    /// What the owner's `actions` list is accepted; what they leave out is
    /// refused or changes nothing.
    async fn act(&mut self, order: u8, pkg: u8, which: u8) -> Result<(), String> {
        let Some(o) = self.order(order).await else {
            return Ok(());
        };
        let owner = self.owner_of(&o);
        let actions = domain::view::actions(&o, &owner, &self.cfg, self.now);
        let listed = |name: &str, p: Option<&PackageId>| {
            actions
                .iter()
                .any(|a| a.action == name && (p.is_none() || a.package_id.as_ref() == p))
        };
        let before = o.version();
        let (name, listed, ok) = match which % 3 {
            0 => {
                let r = domain::order::cancel::cancel_order(
                    &self.store,
                    &self.queues,
                    &self.cfg,
                    &owner,
                    &o.id,
                    None,
                    self.now,
                )
                .await;
                if let Err(e) = &r {
                    if fatal(e) {
                        return Err(format!("cancel: {e}"));
                    }
                }
                ("cancel", listed("cancel", None), r.is_ok())
            }
            1 => {
                let Some(p) = Self::package(&o, pkg) else {
                    return Ok(());
                };
                let r = packages::confirm_receipt(&self.store, &self.queues, &owner, &p, self.now)
                    .await;
                if let Err(e) = &r {
                    if fatal(e) {
                        return Err(format!("confirm: {e}"));
                    }
                }
                (
                    "confirm_receipt",
                    listed("confirm_receipt", Some(&p)),
                    r.is_ok(),
                )
            }
            _ => {
                let Some(p) = Self::package(&o, pkg) else {
                    return Ok(());
                };
                let listed = listed("after_sales", Some(&p));
                let opened = self.open(&o, &p, CaseKind::RefundOnly).await?;
                ("after_sales", listed, opened)
            }
        };
        let after = self
            .store
            .get_order(&o.id)
            .await
            .expect("read")
            .expect("order");
        let changed = after.version() != before;
        match (listed, ok) {
            (true, false) => Err(format!("{name} was listed but refused on {}", o.id)),
            (false, true) if changed => Err(format!(
                "{name} was not listed but changed {}: {:?}",
                o.id, actions
            )),
            _ => {
                self.count("actions tried");
                Ok(())
            }
        }
    }

    /// A new order's money adds up from the catalog's prices in its
    /// storefront and that storefront's freight settings.
    fn check_totals(&self, o: &Order) -> Result<(), String> {
        let catalog = catalog(&self.prefix);
        let mut goods = 0;
        for l in &o.lines {
            let def = catalog
                .iter()
                .find(|u| u.sku == l.sku)
                .ok_or_else(|| format!("{} is not in the catalog", l.sku))?;
            let price = def
                .prices
                .get(&o.storefront)
                .copied()
                .unwrap_or(def.price_cents);
            if l.unit_price_cents != price {
                return Err(format!(
                    "{} in {}: {} instead of {price:?}",
                    l.sku, o.storefront, l.unit_price_cents.0
                ));
            }
            goods += price.0 * u64::from(l.qty);
        }
        let (flat, over) = if o.storefront.as_str() == APP {
            (APP_FREIGHT, APP_FREE_OVER)
        } else {
            (self.cfg.freight.0, self.cfg.free_shipping_over.0)
        };
        let freight = if goods >= over { 0 } else { flat };
        let parts: u64 = o.packages().iter().map(|p| p.freight_cents.0).sum();
        if o.goods_cents.0 != goods || o.freight_cents.0 != freight || parts != freight {
            return Err(format!(
                "totals of {}: goods {goods}, freight {freight}: {o:?}",
                o.id
            ));
        }
        if o.total_cents.0 != goods + freight {
            return Err(format!("total of {}", o.id));
        }
        Ok(())
    }

    /// The store's work queues hold exactly what the orders' states say
    /// (each entry joined and left with its transition), read page by page.
    async fn check_queues(&self, orders: &[Order]) -> Result<(), String> {
        let mut expected: Vec<QueueEntry> = orders.iter().flat_map(queues::entries).collect();
        let mut stored: Vec<QueueEntry> = Vec::new();
        let storefronts = vec![
            StorefrontId::default_id(),
            StorefrontId::parse(APP).expect("storefront"),
        ];
        for queue in Queue::ALL {
            let mut cursor = None;
            loop {
                let page = self
                    .store
                    .queue_page(&QueueQuery {
                        queue,
                        scope: None,
                        storefronts: storefronts.clone(),
                        before: None,
                        limit: 50,
                        cursor,
                    })
                    .await
                    .map_err(|e| format!("reading {}: {e}", queue.as_str()))?;
                stored.extend(
                    page.entries
                        .into_iter()
                        .filter(|e| self.orders.contains(&e.order_id)),
                );
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
        }
        let key = |e: &QueueEntry| (e.queue, e.scope.clone(), e.since, e.subject.clone());
        expected.sort_by_key(key);
        stored.sort_by_key(key);
        if expected != stored {
            let show = |l: &[QueueEntry]| {
                l.iter()
                    .map(|e| format!("{} {} {}", e.queue.as_str(), e.scope, e.subject))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(format!(
                "queues hold [{}], the orders say [{}]",
                show(&stored),
                show(&expected)
            ));
        }
        Ok(())
    }

    /// Every invariant, on the store as it is now.
    /// SPEC 2.12 at the provider: what it paid (or is paying) against one
    /// payment never exceeds that payment; one refund moves money under one
    /// number at most; an order's refund says what its provider says.
    fn check_gateway(&self, orders: &[Order]) -> Result<(), String> {
        use domain::payment::refund::{ProviderState, RefundNo};
        let made = self.gateway.refunds();
        let mut paid: BTreeMap<String, u64> = BTreeMap::new();
        let mut moving: BTreeMap<String, u32> = BTreeMap::new();
        for (no, g) in &made {
            if matches!(
                g.state,
                ProviderState::Processing | ProviderState::Succeeded
            ) {
                *paid.entry(g.payment_id.clone()).or_default() += g.amount.0;
                let id = RefundNo::parse(no).map_or(no.clone(), |n| n.refund_id);
                *moving.entry(id).or_default() += 1;
            }
        }
        if let Some((id, n)) = moving.iter().find(|(_, n)| **n > 1) {
            return Err(format!("refund {id} moves money under {n} numbers"));
        }
        let mut payments: BTreeMap<String, u64> = BTreeMap::new();
        for o in orders {
            if let Some(p) = o.payment() {
                payments.insert(p.payment_id.clone(), p.amount_cents.0);
            }
            for r in o.refunds() {
                if let Some(pid) = &r.payment_id {
                    payments.entry(pid.clone()).or_insert(r.payment_cents.0);
                }
                let at_gateway = made.get(&r.provider_no()).map(|g| g.state);
                let agrees = match r.status {
                    domain::order::RefundStatus::Succeeded => {
                        r.offline || at_gateway == Some(ProviderState::Succeeded)
                    }
                    domain::order::RefundStatus::Failed => {
                        matches!(at_gateway, Some(ProviderState::Failed(_)))
                    }
                    domain::order::RefundStatus::Processing => at_gateway.is_some(),
                    domain::order::RefundStatus::Pending => true,
                };
                if !agrees {
                    return Err(format!(
                        "refund {} is {:?} on its order, {at_gateway:?} at the gateway",
                        r.provider_no(),
                        r.status
                    ));
                }
            }
        }
        for (pid, cents) in &paid {
            let of = payments.get(pid).copied().unwrap_or(0);
            if *cents > of {
                return Err(format!(
                    "payment {pid} of {of} had {cents} refunded at the gateway"
                ));
            }
        }
        Ok(())
    }

    pub async fn check(&mut self) -> Result<(), String> {
        let mut orders = Vec::new();
        for id in &self.orders {
            orders.push(
                self.store
                    .get_order(id)
                    .await
                    .expect("read")
                    .expect("stored"),
            );
        }
        let mut held: BTreeMap<SkuId, i64> = BTreeMap::new();
        let mut limits: BTreeMap<(UserId, SkuId), u64> = BTreeMap::new();
        for o in &orders {
            let refunded = o.refunded_cents();
            if refunded > o.received_cents() {
                return Err(format!(
                    "{} refunds {refunded} of {}",
                    o.id,
                    o.received_cents()
                ));
            }
            // SPEC 2.12: every refund returns a named payment, and what is
            // refunded against the kept payment never exceeds it.
            if o.refunds().iter().any(|r| r.payment_id.is_none()) {
                return Err(format!("{} has a refund against no payment", o.id));
            }
            if let Some(p) = o.payment() {
                let against: Cents = o
                    .refunds()
                    .iter()
                    .filter(|r| r.payment_id.as_deref() == Some(p.payment_id.as_str()))
                    .map(|r| r.amount_cents)
                    .sum();
                if against > p.amount_cents {
                    return Err(format!(
                        "{} refunds {against} against {} of {}",
                        o.id, p.payment_id, p.amount_cents
                    ));
                }
            }
            for p in o.packages() {
                if o.refunded_for(&p.id) > p.goods_cents + p.freight_cents {
                    return Err(format!("package {} refunded more than it holds", p.id));
                }
            }
            if matches!(o.status(), OrderStatus::Cancelled | OrderStatus::Closed)
                && refunded != o.received_cents()
            {
                return Err(format!(
                    "{} is {} with {refunded} of {} given back",
                    o.id,
                    o.status().as_str(),
                    o.received_cents()
                ));
            }
            let statuses: Vec<PackageStatus> = o.packages().iter().map(|p| p.status()).collect();
            if let Some((was, packages)) = self.seen.get(&o.id) {
                if *was != o.status() && !was.can_become(o.status()) {
                    return Err(format!(
                        "{} went back from {} to {}",
                        o.id,
                        was.as_str(),
                        o.status().as_str()
                    ));
                }
                for (a, b) in packages.iter().zip(&statuses) {
                    if a != b && !a.can_become(*b) {
                        return Err(format!("a package of {} went from {a:?} to {b:?}", o.id));
                    }
                }
            }
            self.seen.insert(o.id.clone(), (o.status(), statuses));
            // What the order holds, counted here from its lines and packages
            // (not by the code under test): a line's units while its package
            // is not cancelled (reserved at placement, or deducted once
            // paid), an exchange package's units while it is not cancelled;
            // limit units while the order lives.
            let live_order = !matches!(o.status(), OrderStatus::Cancelled | OrderStatus::Closed);
            for l in &o.lines {
                let live = o
                    .package(&l.package_id)
                    .is_some_and(|p| p.status() != PackageStatus::Cancelled);
                if live && (l.stock_policy == StockPolicy::LockOnPlace || o.is_paid()) {
                    *held.entry(l.sku.clone()).or_default() += i64::from(l.qty);
                }
                if live && live_order && l.per_user_limit.is_some() {
                    *limits
                        .entry((o.user_id.clone(), l.sku.clone()))
                        .or_default() += u64::from(l.qty);
                }
            }
            for p in o.packages() {
                if p.exchange_for().is_some() && p.status() != PackageStatus::Cancelled {
                    for l in &p.lines {
                        *held.entry(l.sku.clone()).or_default() += i64::from(l.qty);
                    }
                }
            }
        }
        for (sku, initial) in &self.initial {
            let s = self.store.get_sku(sku).await.expect("read").expect("sku");
            let total = s.available as i64 + held.get(sku).copied().unwrap_or(0);
            if total != *initial as i64 {
                return Err(format!(
                    "{sku}: {} available + {} held != {initial}",
                    s.available,
                    held.get(sku).copied().unwrap_or(0)
                ));
            }
        }
        self.check_queues(&orders).await?;
        self.check_gateway(&orders)?;
        for u in 0..3 {
            let user = self.user(u);
            for i in 0..4 {
                let sku = self.sku(i);
                let counted = self.store.limit_held(&user, &sku).await;
                let live = limits
                    .get(&(user.clone(), sku.clone()))
                    .copied()
                    .unwrap_or(0);
                if counted != live {
                    return Err(format!(
                        "{user} {sku}: limit counter {counted}, live orders {live}"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Runs `life` on `store` from `now`; the first broken rule, with the step.
pub async fn run<S: Catalog + Ledger + LimitCounters + domain::ports::Storefronts + WorkQueues>(
    store: S,
    prefix: &str,
    now: Timestamp,
    life: &[Cmd],
) -> Result<BTreeMap<&'static str, u64>, String> {
    let mut l = Life::start(store, prefix, now).await;
    for (i, c) in life.iter().enumerate() {
        l.store.set_now(l.now);
        l.step(c)
            .await
            .map_err(|e| format!("step {i} {c:?}: {e}"))?;
    }
    Ok(l.counts)
}

/// The real store: its limit counters read straight from the table.
impl LimitCounters for adapters::DynamoStore {
    async fn limit_held(&self, user: &UserId, sku: &SkuId) -> u64 {
        use aws_sdk_dynamodb::types::AttributeValue;
        let (pk, sk) = adapters::dynamo::keys::limit(user, sku);
        let out = self
            .client()
            .get_item()
            .table_name(self.table())
            .key("pk", AttributeValue::S(pk))
            .key("sk", AttributeValue::S(sk))
            .consistent_read(true)
            .send()
            .await
            .expect("read a limit counter");
        out.item
            .and_then(|i| {
                i.get("held")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0)
    }
}
