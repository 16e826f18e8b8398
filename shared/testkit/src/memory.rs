//! The ports in memory. Every write is checked against the same conditions
//! as the DynamoDB adapter's (a stock item holding the quantity, a limit
//! counter with room, the order and case versions, a payment recorded once,
//! a case line held by one open case) and applied whole or not at all; a
//! refused change names its conflict as the adapter does.

use domain::after_sales::case::AfterSalesCase;
use domain::backoffice::queues::{
    OrderSearch, Queue, QueueEntry, QueuePage, QueueQuery, SearchBy, WorkQueues,
};
use domain::catalog::{Sku, SkuUpdate};
use domain::error::StoreError;
use domain::ids::{CaseId, IdempotencyKey, OrderId, PackageId, SkuId, UserId};
use domain::messages::{Message, Publisher};
use domain::order::Order;
use domain::ports::Storefronts;
use domain::ports::{
    Catalog, Change, CommitError, CreateOrderError, ForwardRequest, IdempotencyRecord,
    InterceptOutcome, Ledger, LimitBreach, ListError, OrderPage, Orders, PaymentRecord, Shortage,
    Supplier, SupplierError,
};
use domain::storefront::{Storefront, StorefrontId};
use domain::time::Timestamp;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A SKU as stored: its catalog entry, its own stock item and its shards.
#[derive(Debug, Clone)]
struct SkuRow {
    sku: Sku,
    base: u64,
    shards: BTreeMap<u8, u64>,
    restocks: u64,
    sold_out_at: Option<u64>,
}

impl SkuRow {
    fn hinted(&self) -> bool {
        self.sku.stock_shards > 1 && self.sold_out_at == Some(self.restocks)
    }
    /// As read: a SKU whose sold-out hint holds shows no shards (unread).
    fn view(&self) -> Sku {
        let mut s = self.sku.clone();
        s.restocks = self.restocks;
        s.sold_out = self.hinted();
        if s.sold_out {
            s.available = self.base;
            s.shard_stock = Vec::new();
            return s;
        }
        s.available = self.base + self.shards.values().sum::<u64>();
        s.shard_stock = if s.stock_shards > 1 {
            self.shards.iter().map(|(k, a)| (*k, *a)).collect()
        } else {
            Vec::new()
        };
        s
    }
    fn item(&mut self, shard: Option<u8>) -> Option<&mut u64> {
        match shard {
            None => Some(&mut self.base),
            Some(k) => self.shards.get_mut(&k),
        }
    }
}

#[derive(Debug, Default, Clone)]
struct State {
    skus: BTreeMap<SkuId, SkuRow>,
    orders: BTreeMap<OrderId, Order>,
    limits: BTreeMap<(UserId, SkuId), u64>,
    idempotency: BTreeMap<(UserId, String), IdempotencyRecord>,
    payments: BTreeMap<String, PaymentRecord>,
    cases: BTreeMap<CaseId, AfterSalesCase>,
    locks: BTreeMap<(PackageId, SkuId), CaseId>,
    storefronts: BTreeMap<StorefrontId, Storefront>,
    /// Work-queue entries by (queue, storefront, sort key `scope#since#subject`).
    queues: BTreeMap<(Queue, StorefrontId, String), QueueEntry>,
    now: Option<Timestamp>,
    /// Every write of an order, old and new image, as a DynamoDB stream
    /// with NEW_AND_OLD_IMAGES shows them.
    stream: Vec<(Option<Order>, Order)>,
}

fn queue_key(e: &QueueEntry) -> (Queue, StorefrontId, String) {
    (
        e.queue,
        e.storefront.clone(),
        format!("{}#{}#{}", e.scope, e.since, e.subject),
    )
}

/// The store in memory; clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The clock of writes the store stamps itself (a late outbox clear).
    pub fn set_now(&self, now: Timestamp) {
        self.lock().now = Some(now);
    }

    /// Every work-queue entry stored.
    pub fn queue_entries(&self) -> Vec<QueueEntry> {
        self.lock().queues.values().cloned().collect()
    }

    /// Every write of an order so far (old image, new image), in order.
    pub fn stream(&self) -> Vec<(Option<Order>, Order)> {
        self.lock().stream.clone()
    }

    /// Every stored order.
    pub fn orders(&self) -> Vec<Order> {
        self.lock().orders.values().cloned().collect()
    }

    /// The units a user's limit counter holds for a SKU.
    pub fn limit_held(&self, user: &UserId, sku: &SkuId) -> u64 {
        self.lock()
            .limits
            .get(&(user.clone(), sku.clone()))
            .copied()
            .unwrap_or(0)
    }
}

impl Catalog for MemoryStore {
    async fn get_sku(&self, sku: &SkuId) -> Result<Option<Sku>, StoreError> {
        Ok(self.lock().skus.get(sku).map(SkuRow::view))
    }

    async fn get_skus(&self, skus: &[SkuId]) -> Result<Vec<Sku>, StoreError> {
        let st = self.lock();
        Ok(skus
            .iter()
            .filter_map(|s| st.skus.get(s).map(SkuRow::view))
            .collect())
    }

    /// As the adapter: a sharded SKU's stock is spread evenly over its
    /// shards (the SKU's own item holds none); shards beyond the count go.
    async fn put_sku(&self, u: &SkuUpdate) -> Result<Sku, StoreError> {
        let mut st = self.lock();
        let old = st.skus.get(&u.sku).cloned();
        let old_total = old.as_ref().map_or(0, |r| r.view().available);
        let old_shards = old.as_ref().map_or(1, |r| r.sku.stock_shards);
        let shards = u.stock_shards.unwrap_or(old_shards).max(1);
        let total = u.available.unwrap_or(old_total);
        let (base, parts) = if shards > 1 {
            let part = |k: u8| {
                total / u64::from(shards) + u64::from(u64::from(k) < total % u64::from(shards))
            };
            (0, (0..shards).map(|k| (k, part(k))).collect())
        } else {
            (total, BTreeMap::new())
        };
        let restocks = old.as_ref().map_or(0, |r| r.restocks) + 1;
        let row = SkuRow {
            sku: Sku {
                sku: u.sku.clone(),
                name: u.name.clone(),
                price_cents: u.price_cents,
                source: u.source.clone(),
                stock_policy: u.stock_policy,
                listed: u.listed,
                per_user_limit: u.per_user_limit,
                available: 0,
                stock_shards: shards,
                shard_stock: Vec::new(),
                restocks: 0,
                sold_out: false,
                storefronts: u.storefronts.clone(),
                prices: u.prices.clone(),
            },
            base,
            shards: parts,
            restocks,
            sold_out_at: (total == 0 && shards > 1).then_some(restocks),
        };
        let view = row.view();
        st.skus.insert(u.sku.clone(), row);
        Ok(view)
    }

    async fn mark_sold_out(&self, sku: &SkuId, restocks: u64) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let Some(row) = st.skus.get_mut(sku) else {
            return Ok(false);
        };
        if row.restocks != restocks {
            return Ok(false);
        }
        row.sold_out_at = Some(restocks);
        Ok(true)
    }
}

impl Storefronts for MemoryStore {
    async fn list_storefronts(&self) -> Result<Vec<Storefront>, StoreError> {
        Ok(self.lock().storefronts.values().cloned().collect())
    }

    async fn get_storefront(&self, id: &StorefrontId) -> Result<Option<Storefront>, StoreError> {
        Ok(self.lock().storefronts.get(id).cloned())
    }

    async fn put_storefront(&self, sf: &Storefront) -> Result<(), StoreError> {
        self.lock().storefronts.insert(sf.id.clone(), sf.clone());
        Ok(())
    }
}

impl Orders for MemoryStore {
    async fn idempotency(
        &self,
        user: &UserId,
        key: &IdempotencyKey,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        Ok(self
            .lock()
            .idempotency
            .get(&(user.clone(), key.as_str().to_owned()))
            .cloned())
    }

    async fn create_order(
        &self,
        order: &Order,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<(), CreateOrderError> {
        let mut st = self.lock();
        if st.orders.contains_key(&order.id) {
            return Err(StoreError::Failed("order id taken".into()).into());
        }
        if let Some(rec) = idempotency {
            let key = (rec.user.clone(), rec.key.as_str().to_owned());
            if st
                .idempotency
                .get(&key)
                .is_some_and(|r| r.expires_at.unix() >= order.created_at.unix())
            {
                return Err(CreateOrderError::IdempotencyKeyTaken);
            }
        }
        let mut short = Vec::new();
        for (sku, shard, qty) in order.stock_reservations() {
            let have = st
                .skus
                .get_mut(&sku)
                .and_then(|r| r.item(shard).map(|a| *a));
            if have.is_none_or(|a| a < u64::from(qty)) {
                short.push(Shortage {
                    sku,
                    shard,
                    requested: qty,
                    available: have.unwrap_or(0),
                });
            }
        }
        if !short.is_empty() {
            return Err(CreateOrderError::OutOfStock(short));
        }
        let breaches: Vec<LimitBreach> = order
            .limit_holds()
            .into_iter()
            .filter_map(|(sku, qty, limit)| {
                let held = st
                    .limits
                    .get(&(order.user_id.clone(), sku.clone()))
                    .copied()
                    .unwrap_or(0);
                (held + u64::from(qty) > u64::from(limit)).then_some(LimitBreach {
                    sku,
                    limit,
                    requested: qty,
                    held: Some(held as u32),
                })
            })
            .collect();
        if !breaches.is_empty() {
            return Err(CreateOrderError::LimitExceeded(breaches));
        }
        for (sku, shard, qty) in order.stock_reservations() {
            if let Some(a) = st.skus.get_mut(&sku).and_then(|r| r.item(shard)) {
                *a -= u64::from(qty);
            }
        }
        for (sku, qty, _) in order.limit_holds() {
            *st.limits.entry((order.user_id.clone(), sku)).or_default() += u64::from(qty);
        }
        if let Some(rec) = idempotency {
            st.idempotency
                .insert((rec.user.clone(), rec.key.as_str().to_owned()), rec.clone());
        }
        let old = st.orders.insert(order.id.clone(), order.clone());
        st.stream.push((old, order.clone()));
        Ok(())
    }

    async fn get_order(&self, id: &OrderId) -> Result<Option<Order>, StoreError> {
        Ok(self.lock().orders.get(id).cloned())
    }

    async fn list_orders(
        &self,
        user: &UserId,
        storefront: Option<&StorefrontId>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<OrderPage, ListError> {
        let st = self.lock();
        let mut mine: Vec<&Order> = st
            .orders
            .values()
            .filter(|o| &o.user_id == user && storefront.is_none_or(|sf| &o.storefront == sf))
            .collect();
        mine.sort_by(|a, b| b.id.as_str().cmp(a.id.as_str()));
        let start = match cursor {
            None => 0,
            Some(c) => mine
                .iter()
                .position(|o| o.id.as_str() == c)
                .map(|i| i + 1)
                .ok_or(ListError::BadCursor)?,
        };
        let page: Vec<Order> = mine
            .iter()
            .skip(start)
            .take(limit as usize)
            .map(|o| (*o).clone())
            .collect();
        let next_cursor = (start + page.len() < mine.len())
            .then(|| page.last().map(|o| o.id.as_str().to_owned()))
            .flatten();
        Ok(OrderPage {
            orders: page,
            next_cursor,
        })
    }
}

impl Ledger for MemoryStore {
    async fn commit(&self, c: &Change<'_>) -> Result<(), CommitError> {
        let mut st = self.lock();
        let order = c.order;
        if let Some(p) = &c.payment {
            if st.payments.contains_key(&p.payment_id) {
                return Err(CommitError::PaymentRecorded);
            }
        }
        let stored = st.orders.get(&order.id).map(Order::version);
        if stored != Some(order.version() - 1) {
            return Err(CommitError::Stale);
        }
        if let Some(case) = c.case {
            let stored = st.cases.get(&case.id).map(AfterSalesCase::version);
            let fresh = if case.version() == 1 {
                stored.is_none()
            } else {
                stored == Some(case.version() - 1)
            };
            if !fresh {
                return Err(CommitError::Stale);
            }
            if case.version() == 1
                && case.lines.iter().any(|l| {
                    st.locks
                        .contains_key(&(case.package_id.clone(), l.sku.clone()))
                })
            {
                return Err(CommitError::CaseLineTaken);
            }
        }
        let stock = c.stock_by_item();
        let mut broken = Vec::new();
        let mut short = Vec::new();
        for (sku, shard, delta) in &stock {
            let row = st.skus.get_mut(sku);
            match (*delta < 0, shard) {
                (true, _) => {
                    let have = row.and_then(|r| r.item(*shard).map(|a| *a));
                    if have.is_none_or(|a| a < delta.unsigned_abs()) {
                        short.push(Shortage {
                            sku: sku.clone(),
                            shard: *shard,
                            requested: delta.unsigned_abs() as u32,
                            available: have.unwrap_or(0),
                        });
                    }
                }
                (false, None) if row.is_none() => {
                    broken.push(format!("stock of {sku} to give back to is missing"))
                }
                _ => {}
            }
        }
        let mut releases: BTreeMap<SkuId, u64> = BTreeMap::new();
        for (sku, qty) in &c.limit_releases {
            *releases.entry(sku.clone()).or_default() += u64::from(*qty);
        }
        for (sku, qty) in &releases {
            let held = st
                .limits
                .get(&(order.user_id.clone(), sku.clone()))
                .copied()
                .unwrap_or(0);
            if held < *qty {
                broken.push(format!("limit counter of {sku} holds less than {qty}"));
            }
        }
        if !broken.is_empty() {
            return Err(CommitError::Store(StoreError::Failed(format!(
                "refused to break an invariant: {}",
                broken.join("; ")
            ))));
        }
        if !short.is_empty() {
            return Err(CommitError::OutOfStock(short));
        }
        // Every condition holds: apply all of it.
        for (sku, shard, delta) in stock {
            let row = st.skus.get_mut(&sku).expect("checked above");
            match shard {
                None => row.base = row.base.saturating_add_signed(delta),
                Some(k) => {
                    let a = row.shards.entry(k).or_default();
                    *a = a.saturating_add_signed(delta);
                }
            }
            if delta > 0 {
                row.restocks += 1;
            }
        }
        for (sku, qty) in releases {
            *st.limits.entry((order.user_id.clone(), sku)).or_default() -= qty;
        }
        if let Some(p) = &c.payment {
            st.payments.insert(p.payment_id.clone(), p.clone());
        }
        if let Some(case) = c.case {
            for l in &case.lines {
                let key = (case.package_id.clone(), l.sku.clone());
                if case.version() == 1 {
                    st.locks.insert(key, case.id.clone());
                } else if !case.status().is_open() && st.locks.get(&key) == Some(&case.id) {
                    st.locks.remove(&key);
                }
            }
            st.cases.insert(case.id.clone(), case.clone());
        }
        for e in &c.queue.delete {
            st.queues.remove(&queue_key(e));
        }
        for e in &c.queue.put {
            st.queues.insert(queue_key(e), e.clone());
        }
        let old = st.orders.insert(order.id.clone(), order.clone());
        st.stream.push((old, order.clone()));
        Ok(())
    }

    async fn payment(&self, payment_id: &str) -> Result<Option<PaymentRecord>, StoreError> {
        Ok(self.lock().payments.get(payment_id).cloned())
    }

    async fn payments_on(
        &self,
        storefront: &domain::storefront::StorefrontId,
        channel: domain::payment::refund::PaymentChannel,
        date: &str,
    ) -> Result<Vec<PaymentRecord>, StoreError> {
        Ok(self
            .lock()
            .payments
            .values()
            .filter(|p| {
                p.storefront == *storefront && p.channel == channel && p.bill_date() == date
            })
            .cloned()
            .collect())
    }

    async fn due_orders(&self, now: Timestamp, limit: u32) -> Result<Vec<OrderId>, StoreError> {
        let st = self.lock();
        let mut due: Vec<(Timestamp, OrderId)> = st
            .orders
            .values()
            .filter_map(|o| {
                o.due_at()
                    .filter(|at| *at <= now)
                    .map(|at| (at, o.id.clone()))
            })
            .collect();
        due.sort();
        Ok(due
            .into_iter()
            .take(limit as usize)
            .map(|(_, id)| id)
            .collect())
    }

    async fn clear_outbox(&self, order: &Order) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let now = st.now;
        let Some(stored) = st.orders.get_mut(&order.id) else {
            return Ok(false);
        };
        let ids: Vec<String> = order.outbox().keys().cloned().collect();
        let same = stored.version() == order.version();
        let old = stored.clone();
        stored.remove_published(&ids, if same { None } else { now });
        let new = stored.clone();
        st.stream.push((Some(old), new));
        Ok(same)
    }

    async fn get_case(&self, id: &CaseId) -> Result<Option<AfterSalesCase>, StoreError> {
        Ok(self.lock().cases.get(id).cloned())
    }
}

/// The queues in memory: every message published, in order.
#[derive(Debug, Clone, Default)]
pub struct MemoryQueues {
    sent: Arc<Mutex<Vec<Message>>>,
}

impl MemoryQueues {
    /// Takes the messages published so far.
    pub fn take(&self) -> Vec<Message> {
        std::mem::take(&mut *self.sent.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl Publisher for MemoryQueues {
    async fn publish(&self, messages: &[Message], _now: Timestamp) -> Result<(), StoreError> {
        self.sent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(messages.iter().cloned());
        Ok(())
    }
}

/// How the suppliers answer now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupplierMode {
    /// Forwards take; intercepts stop the package.
    Accept,
    /// Forwards take; intercepts are refused (it ships).
    Refuse,
    /// Forwards take; intercepts are answered later.
    Pending,
    /// Every call fails (a timeout, a 5xx).
    Down,
}

/// Every supplier, answering as its mode says.
#[derive(Debug, Clone)]
pub struct ScriptedSupplier {
    mode: Arc<Mutex<SupplierMode>>,
}

impl Default for ScriptedSupplier {
    fn default() -> Self {
        Self {
            mode: Arc::new(Mutex::new(SupplierMode::Accept)),
        }
    }
}

impl ScriptedSupplier {
    pub fn set(&self, mode: SupplierMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }
    fn mode(&self) -> SupplierMode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Supplier for ScriptedSupplier {
    async fn forward(&self, req: &ForwardRequest) -> Result<String, SupplierError> {
        match self.mode() {
            SupplierMode::Down => Err(SupplierError::Unavailable("down".into())),
            _ => Ok(format!("REF-{}", req.package_id)),
        }
    }

    async fn intercept(
        &self,
        _package: &PackageId,
        _source: &domain::catalog::Source,
        _supplier_ref: &str,
    ) -> Result<InterceptOutcome, SupplierError> {
        match self.mode() {
            SupplierMode::Accept => Ok(InterceptOutcome::Intercepted),
            SupplierMode::Refuse => Ok(InterceptOutcome::Refused),
            SupplierMode::Pending => Ok(InterceptOutcome::Pending),
            SupplierMode::Down => Err(SupplierError::Unavailable("down".into())),
        }
    }
}

impl WorkQueues for MemoryStore {
    async fn queue_page(&self, q: &QueueQuery) -> Result<QueuePage, ListError> {
        let st = self.lock();
        let mut found: Vec<(&String, &QueueEntry)> = st
            .queues
            .iter()
            .filter(|((queue, sf, sk), e)| {
                *queue == q.queue
                    && q.storefronts.contains(sf)
                    && q.scope.as_ref().is_none_or(|s| &e.scope == s)
                    && q.before.is_none_or(|b| e.since < b)
                    && q.cursor.as_ref().is_none_or(|c| sk > c)
            })
            .map(|((_, _, sk), e)| (sk, e))
            .collect();
        found.sort_by(|a, b| a.0.cmp(b.0));
        let more = found.len() > q.limit as usize;
        found.truncate(q.limit as usize);
        Ok(QueuePage {
            next_cursor: more.then(|| found[found.len() - 1].0.clone()),
            entries: found.into_iter().map(|(_, e)| e.clone()).collect(),
        })
    }

    async fn queue_count(&self, q: &QueueQuery) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut all = QueueQuery {
            limit: u32::MAX,
            cursor: None,
            ..q.clone()
        };
        all.limit = u32::MAX;
        let mut counts = BTreeMap::new();
        for e in self
            .queue_page(&all)
            .await
            .map_err(|_| StoreError::Failed("count".into()))?
            .entries
        {
            *counts.entry(e.scope).or_default() += 1;
        }
        Ok(counts)
    }

    async fn search_orders(&self, q: &OrderSearch) -> Result<OrderPage, ListError> {
        let st = self.lock();
        let mut found: Vec<(String, &Order)> = st
            .orders
            .values()
            .filter(|o| q.storefronts.contains(&o.storefront))
            .filter(|o| match &q.by {
                SearchBy::Status(s) => o.status() == *s,
                SearchBy::User(u) => &o.user_id == u,
            })
            .filter(|o| q.from.is_none_or(|f| o.created_at >= f))
            .filter(|o| q.to.is_none_or(|t| o.created_at < t))
            .map(|o| (format!("{}#{}", o.created_at, o.id), o))
            .filter(|(k, _)| q.cursor.as_ref().is_none_or(|c| k < c))
            .collect();
        found.sort_by(|a, b| b.0.cmp(&a.0));
        let more = found.len() > q.limit as usize;
        found.truncate(q.limit as usize);
        Ok(OrderPage {
            next_cursor: more.then(|| found[found.len() - 1].0.clone()),
            orders: found.into_iter().map(|(_, o)| o.clone()).collect(),
        })
    }
}

/// How the in-memory payment gateway answers refunds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GatewayMode {
    #[default]
    Succeed,
    /// Takes it (`processing`); [`MemoryGateway::settle`] settles it later.
    Process,
    /// Closes it unpaid.
    Fail,
    /// Unavailable: nothing is made.
    Down,
}

/// A refund the gateway made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRefund {
    pub storefront: domain::storefront::StorefrontId,
    pub payment_id: String,
    pub amount: domain::money::Cents,
    pub state: domain::payment::refund::ProviderState,
    /// Create requests under this number.
    pub creates: u32,
}

/// A payment gateway in memory: one refund per number, however often asked.
#[derive(Debug, Clone, Default)]
pub struct MemoryGateway {
    mode: Arc<Mutex<GatewayMode>>,
    refunds: Arc<Mutex<BTreeMap<String, GatewayRefund>>>,
}

impl MemoryGateway {
    pub fn set(&self, mode: GatewayMode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }
    fn mode(&self) -> GatewayMode {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Every refund made, by number.
    pub fn refunds(&self) -> BTreeMap<String, GatewayRefund> {
        self.refunds
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// Settles every refund still processing as succeeded; their numbers.
    pub fn settle(&self) -> Vec<(String, GatewayRefund)> {
        let mut map = self.refunds.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (no, r) in map.iter_mut() {
            if r.state == domain::payment::refund::ProviderState::Processing {
                r.state = domain::payment::refund::ProviderState::Succeeded;
                out.push((no.clone(), r.clone()));
            }
        }
        out
    }
    fn word(r: &GatewayRefund) -> domain::payment::refund::ProviderRefund {
        domain::payment::refund::ProviderRefund {
            state: r.state,
            provider_refund_id: Some(format!("MG-{}", r.creates)),
        }
    }
}

impl domain::payment::refund::RefundProvider for MemoryGateway {
    async fn create(
        &self,
        r: &domain::payment::refund::RefundRequest,
    ) -> Result<domain::payment::refund::ProviderRefund, domain::payment::refund::ProviderError>
    {
        use domain::payment::refund::{ProviderError, ProviderState, RefundFailure};
        let mode = self.mode();
        if mode == GatewayMode::Down {
            return Err(ProviderError::Temporary("down".into()));
        }
        let mut map = self.refunds.lock().unwrap_or_else(|e| e.into_inner());
        let made = map
            .entry(r.provider_no.clone())
            .or_insert_with(|| GatewayRefund {
                storefront: r.storefront.clone(),
                payment_id: r.payment_id.clone(),
                amount: r.amount_cents,
                state: match mode {
                    GatewayMode::Process => ProviderState::Processing,
                    GatewayMode::Fail => ProviderState::Failed(RefundFailure::Closed),
                    _ => ProviderState::Succeeded,
                },
                creates: 0,
            });
        made.creates += 1;
        Ok(Self::word(made))
    }
    async fn query(
        &self,
        r: &domain::payment::refund::RefundRequest,
    ) -> Result<domain::payment::refund::ProviderRefund, domain::payment::refund::ProviderError>
    {
        use domain::payment::refund::ProviderError;
        if self.mode() == GatewayMode::Down {
            return Err(ProviderError::Temporary("down".into()));
        }
        let map = self.refunds.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&r.provider_no)
            .map(Self::word)
            .ok_or(ProviderError::NotFound)
    }
    async fn apply_abnormal(
        &self,
        r: &domain::payment::refund::RefundRequest,
    ) -> Result<domain::payment::refund::ProviderRefund, domain::payment::refund::ProviderError>
    {
        self.create(r).await
    }
}
