//! Falling over a sharded SKU's stock items: a take that finds its shard
//! short tries the next one, until every shard has been tried.

use crate::ids::SkuId;
use crate::ports::Shortage;
use std::collections::BTreeMap;

/// The shards found short so far, with the units each had then.
#[derive(Debug, Default)]
pub struct ShardsTried {
    short: BTreeMap<(SkuId, u8), u64>,
}

impl ShardsTried {
    /// Records the short shards; false when a shortage is not of a shard
    /// (an unsharded SKU is simply out of stock).
    pub fn record(&mut self, short: &[Shortage]) -> bool {
        let mut all_sharded = true;
        for s in short {
            match s.shard {
                Some(k) => {
                    self.short.insert((s.sku.clone(), k), s.available);
                }
                None => all_sharded = false,
            }
        }
        all_sharded
    }

    /// A shard of `sku` (of `shards`) not found short yet, from `start` on.
    pub fn untried(&self, sku: &SkuId, shards: u8, start: u8) -> Option<u8> {
        let shards = shards.max(1);
        (0..shards)
            .map(|step| (start.wrapping_add(step)) % shards)
            .find(|k| !self.short.contains_key(&(sku.clone(), *k)))
    }

    /// The shortages to answer: a sharded SKU's with what all its tried
    /// shards had, summed.
    pub fn totals(&self, short: &[Shortage]) -> Vec<Shortage> {
        short
            .iter()
            .map(|s| match s.shard {
                None => s.clone(),
                Some(_) => Shortage {
                    available: self
                        .short
                        .iter()
                        .filter(|((sku, _), _)| *sku == s.sku)
                        .map(|(_, n)| n)
                        .sum(),
                    shard: None,
                    ..s.clone()
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_over_every_shard_once() {
        let sku = SkuId::parse("HOT").unwrap();
        let short = |k: u8, available: u64| Shortage {
            sku: sku.clone(),
            shard: Some(k),
            requested: 2,
            available,
        };
        let mut tried = ShardsTried::default();
        assert!(tried.record(&[short(2, 1)]));
        assert_eq!(tried.untried(&sku, 3, 3), Some(0));
        assert!(tried.record(&[short(0, 0)]));
        assert_eq!(tried.untried(&sku, 3, 0), Some(1));
        assert!(tried.record(&[short(1, 1)]));
        assert_eq!(tried.untried(&sku, 3, 0), None);
        assert_eq!(tried.totals(&[short(1, 1)])[0].available, 2);
        let plain = Shortage {
            shard: None,
            ..short(0, 5)
        };
        assert!(!tried.record(&[plain]));
    }
}
