//! Splitting an order into packages by fulfilment source, and freight.

use crate::catalog::Source;
use crate::money::Cents;

pub use crate::config::FreightPolicy;

/// Freight for the whole order: free at or above the threshold.
pub fn order_freight(goods: Cents, freight: Cents, free_over: Cents) -> Cents {
    if goods >= free_over {
        Cents::ZERO
    } else {
        freight
    }
}

/// Groups line indices by package key. Groups come out in key order, and the
/// lines within a group in input order, so the split is deterministic.
pub fn split_by_source(sources: &[&Source]) -> Vec<Vec<usize>> {
    let mut keys: Vec<(String, usize)> = sources
        .iter()
        .enumerate()
        .map(|(i, s)| (s.package_key(), i))
        .collect();
    keys.sort();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut last: Option<&str> = None;
    for (key, i) in &keys {
        if last != Some(key.as_str()) {
            groups.push(Vec::new());
            last = Some(key.as_str());
        }
        if let Some(g) = groups.last_mut() {
            g.push(*i);
        }
    }
    groups
}

/// Allocates `freight` over packages whose goods totals are `goods`, in
/// package-id order. The parts always add up to `freight`.
pub fn allocate_freight(policy: FreightPolicy, freight: Cents, goods: &[Cents]) -> Vec<Cents> {
    let mut parts = vec![Cents::ZERO; goods.len()];
    if goods.is_empty() || freight == Cents::ZERO {
        return parts;
    }
    let total: u128 = goods.iter().map(|g| u128::from(g.0)).sum();
    match policy {
        FreightPolicy::Apportioned if total > 0 => {
            let f = u128::from(freight.0);
            let mut given: u128 = 0;
            let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(goods.len());
            for (i, g) in goods.iter().enumerate() {
                let exact = f * u128::from(g.0);
                let share = exact / total;
                parts[i] = Cents(share as u64);
                given += share;
                remainders.push((exact % total, i));
            }
            // Largest remainder first; ties go to the earlier package.
            remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
            let left = (f - given) as usize;
            for (_, i) in remainders.into_iter().take(left) {
                parts[i] = Cents(parts[i].0 + 1);
            }
        }
        _ => {
            // `single`, or nothing to apportion by: the largest package carries it.
            let mut best = 0;
            for (i, g) in goods.iter().enumerate() {
                if *g > goods[best] {
                    best = i;
                }
            }
            parts[best] = freight;
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{SupplierId, WarehouseId};
    use proptest::prelude::*;

    fn c(v: &[u64]) -> Vec<Cents> {
        v.iter().map(|x| Cents(*x)).collect()
    }

    #[test]
    fn single_goes_to_largest_then_first() {
        assert_eq!(
            allocate_freight(FreightPolicy::Single, Cents(1000), &c(&[100, 300, 300])),
            c(&[0, 1000, 0])
        );
    }

    #[test]
    fn apportioned_uses_largest_remainder() {
        // 1000 over 1:1:1 -> 333.33 each, one extra cent to the first.
        assert_eq!(
            allocate_freight(FreightPolicy::Apportioned, Cents(1000), &c(&[5, 5, 5])),
            c(&[334, 333, 333])
        );
        // 10 over 1:2 -> 3.33, 6.67: the larger remainder gets the cent.
        assert_eq!(
            allocate_freight(FreightPolicy::Apportioned, Cents(10), &c(&[100, 200])),
            c(&[3, 7])
        );
        // Zero-priced goods: falls back to single.
        assert_eq!(
            allocate_freight(FreightPolicy::Apportioned, Cents(10), &c(&[0, 0])),
            c(&[10, 0])
        );
    }

    #[test]
    fn free_shipping_threshold() {
        assert_eq!(
            order_freight(Cents(9899), Cents(1000), Cents(9900)),
            Cents(1000)
        );
        assert_eq!(
            order_freight(Cents(9900), Cents(1000), Cents(9900)),
            Cents::ZERO
        );
    }

    #[test]
    fn split_groups_by_source_key() {
        let wh1 = Source::SelfOperated {
            warehouse: WarehouseId::parse("WH-1").unwrap(),
        };
        let wh2 = Source::SelfOperated {
            warehouse: WarehouseId::parse("WH-2").unwrap(),
        };
        let s1 = Source::Dropship {
            supplier: SupplierId::parse("S-1").unwrap(),
        };
        let groups = split_by_source(&[&wh1, &Source::Jd, &s1, &wh1, &wh2, &Source::Jd]);
        assert_eq!(groups, vec![vec![2], vec![1, 5], vec![0, 3], vec![4]]);
    }

    fn source_strategy() -> impl Strategy<Value = Source> {
        prop_oneof![
            (0u8..3).prop_map(|w| Source::SelfOperated {
                warehouse: WarehouseId::parse(&format!("WH-{w}")).unwrap()
            }),
            (0u8..3).prop_map(|s| Source::Dropship {
                supplier: SupplierId::parse(&format!("S-{s}")).unwrap()
            }),
            Just(Source::Jd),
        ]
    }

    proptest! {
        #[test]
        fn parts_always_add_up(freight in 0u64..1_000_000, goods in prop::collection::vec(0u64..10_000_000_000, 1..50), apportioned: bool) {
            let policy = if apportioned { FreightPolicy::Apportioned } else { FreightPolicy::Single };
            let parts = allocate_freight(policy, Cents(freight), &c(&goods));
            prop_assert_eq!(parts.len(), goods.len());
            prop_assert_eq!(parts.iter().map(|p| p.0).sum::<u64>(), freight);
        }

        #[test]
        fn apportioned_is_within_one_cent_of_exact(freight in 0u64..1_000_000, goods in prop::collection::vec(1u64..1_000_000, 1..50)) {
            let parts = allocate_freight(FreightPolicy::Apportioned, Cents(freight), &c(&goods));
            let total: u128 = goods.iter().map(|g| *g as u128).sum();
            for (p, g) in parts.iter().zip(&goods) {
                let exact_floor = (freight as u128 * *g as u128) / total;
                prop_assert!(p.0 as u128 == exact_floor || p.0 as u128 == exact_floor + 1);
            }
        }

        #[test]
        fn single_puts_everything_on_one_largest_package(freight in 1u64..1_000_000, goods in prop::collection::vec(0u64..1000, 1..50)) {
            let parts = allocate_freight(FreightPolicy::Single, Cents(freight), &c(&goods));
            let carriers: Vec<usize> = parts.iter().enumerate().filter(|(_, p)| p.0 > 0).map(|(i, _)| i).collect();
            prop_assert_eq!(carriers.len(), 1);
            let i = carriers[0];
            let max = *goods.iter().max().unwrap();
            prop_assert_eq!(goods[i], max);
            prop_assert!(goods[..i].iter().all(|g| *g < max));
        }

        #[test]
        fn split_is_a_partition_by_source(sources in prop::collection::vec(source_strategy(), 1..50)) {
            let refs: Vec<&Source> = sources.iter().collect();
            let groups = split_by_source(&refs);
            let mut seen: Vec<usize> = groups.iter().flatten().copied().collect();
            seen.sort();
            prop_assert_eq!(seen, (0..sources.len()).collect::<Vec<_>>());
            for g in &groups {
                prop_assert!(g.iter().all(|i| sources[*i] == sources[g[0]]));
            }
            // One group per source: no key twice, wherever the groups stand.
            let keys: Vec<String> = groups.iter().map(|g| sources[g[0]].package_key()).collect();
            let distinct: std::collections::BTreeSet<&String> = keys.iter().collect();
            prop_assert_eq!(distinct.len(), keys.len());
        }
    }
}
