//! Taking a sharded SKU's stock (SPEC 2.1): a line's units come from the
//! shards as the request knows them ([`ShardView`]): as read, then as the
//! refusals of its own writes reported them. A shard taken first by another
//! buyer costs no read: its refusal says what it holds now, and the line is
//! planned again from the other shards; the shards are read again only when
//! that view runs dry. One budget of tries (reads and lost writes) serves
//! placement and payment alike: a plan that finds too little, freshly read,
//! is out of stock without a write; once the budget is spent on lost races,
//! one last read tells a sale that is over (out of stock) from one still
//! going (`busy`: try again).

use crate::catalog::Sku;
use crate::ids::SkuId;
use crate::ports::Shortage;
use std::collections::{BTreeMap, BTreeSet};

/// How many reads and lost writes one request may spend on its SKUs' shards
/// at least; more when a SKU has more shards (one try per shard, as a buyer
/// falling over every shard once would spend).
pub const SHARD_TRIES: u32 = 16;

/// The units `takes` plans, summed.
pub fn units(takes: &[(u8, u32)]) -> u64 {
    takes.iter().map(|(_, q)| u64::from(*q)).sum()
}

/// Where a line's units can come from, as far as the request knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// `(shard, units)`; empty for a SKU that is not sharded (its own item).
    Takes(Vec<(u8, u32)>),
    /// The view ran dry on what refusals reported: read the shards again.
    Read,
    /// Freshly read, the shards hold less: what they hold.
    Short(u64),
}

/// What one request knows of some SKUs' stock.
#[derive(Debug, Clone, Default)]
pub struct ShardView {
    skus: BTreeMap<SkuId, Sku>,
    /// Changed by refusals since they were read.
    stale: BTreeSet<SkuId>,
    tries: u32,
}

impl ShardView {
    pub fn new(skus: impl IntoIterator<Item = Sku>) -> Self {
        Self {
            skus: skus.into_iter().map(|s| (s.sku.clone(), s)).collect(),
            ..Self::default()
        }
    }

    pub fn get(&self, sku: &SkuId) -> Option<&Sku> {
        self.skus.get(sku)
    }

    /// True once the budget is spent.
    pub fn spent(&self) -> bool {
        let most_shards = self.skus.values().map(|s| u32::from(s.stock_shards)).max();
        self.tries >= SHARD_TRIES.max(most_shards.unwrap_or(0))
    }

    /// SKUs read (again): the view starts over from them. Counts one try.
    pub fn refresh(&mut self, fresh: Vec<Sku>) {
        self.tries += 1;
        for s in fresh {
            self.stale.remove(&s.sku);
            self.skus.insert(s.sku.clone(), s);
        }
    }

    /// A write found these shards short: what each held then becomes the
    /// view. Counts one try; false once the budget is spent.
    pub fn lost(&mut self, short: &[Shortage]) -> bool {
        self.tries += 1;
        for s in short {
            let (Some(k), Some(sku)) = (s.shard, self.skus.get_mut(&s.sku)) else {
                continue;
            };
            match sku.shard_stock.iter_mut().find(|(shard, _)| *shard == k) {
                Some((_, a)) => *a = s.available,
                None => sku.shard_stock.push((k, s.available)),
            }
            sku.available = sku.shard_stock.iter().map(|(_, a)| a).sum();
            self.stale.insert(s.sku.clone());
        }
        !self.spent()
    }

    /// Where `qty` of `sku` comes from. A SKU unknown to the view is short of everything.
    pub fn plan(&self, sku: &SkuId, qty: u32) -> Plan {
        let Some(s) = self.skus.get(sku) else {
            return Plan::Short(0);
        };
        if !s.is_sharded() {
            return Plan::Takes(Vec::new());
        }
        match s.plan_takes(qty) {
            Some(takes) => Plan::Takes(takes),
            None if self.stale.contains(sku) => Plan::Read,
            None => Plan::Short(s.available),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Source, StockPolicy};
    use crate::money::Cents;

    fn hot(shards: Vec<(u8, u64)>) -> Sku {
        Sku {
            sku: SkuId::parse("HOT").unwrap(),
            name: "n".into(),
            price_cents: Cents(1),
            source: Source::Jd,
            stock_policy: StockPolicy::LockOnPlace,
            listed: true,
            per_user_limit: None,
            available: shards.iter().map(|(_, a)| a).sum(),
            stock_shards: shards.len() as u8,
            shard_stock: shards,
            restocks: 0,
            sold_out: false,
            storefronts: None,
            prices: Default::default(),
        }
    }

    #[test]
    fn a_lost_shard_is_planned_around_without_a_read_until_the_view_runs_dry() {
        let id = SkuId::parse("HOT").unwrap();
        let mut view = ShardView::new([hot(vec![(0, 1), (1, 1), (2, 0)])]);
        let first = view.plan(&id, 1);
        let Plan::Takes(takes) = first else {
            panic!("{first:?}")
        };
        let (k, _) = takes[0];
        // Another buyer took it: the refusal says it is empty now.
        let short = Shortage {
            sku: id.clone(),
            shard: Some(k),
            requested: 1,
            available: 0,
        };
        assert!(view.lost(std::slice::from_ref(&short)));
        let other = 1 - k;
        assert_eq!(view.plan(&id, 1), Plan::Takes(vec![(other, 1)]));
        assert!(view.lost(&[Shortage {
            shard: Some(other),
            ..short.clone()
        }]));
        assert_eq!(
            view.plan(&id, 1),
            Plan::Read,
            "dry from refusals: read again"
        );
        view.refresh(vec![hot(vec![(0, 0), (1, 0), (2, 0)])]);
        assert_eq!(
            view.plan(&id, 1),
            Plan::Short(0),
            "dry as read: out of stock"
        );
        view.refresh(vec![hot(vec![(0, 1)])]);
        assert_eq!(
            view.plan(&id, 1),
            Plan::Takes(Vec::new()),
            "one shard: its own item"
        );
        while view.lost(std::slice::from_ref(&short)) {}
        assert!(view.spent());
        assert_eq!(view.plan(&SkuId::parse("GONE").unwrap(), 1), Plan::Short(0));
    }
}
