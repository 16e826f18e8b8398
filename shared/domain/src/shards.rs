//! Taking a sharded SKU's stock (SPEC 2.1): a line's units come from the
//! shards as read ([`crate::catalog::Sku::plan_takes`]), several shards in
//! the line's one transaction when no single shard holds them. A shard found
//! short when writing (another buyer got there first) makes the request read
//! the shards again and plan anew: one concept, with one budget, for
//! placement and payment alike. A plan that finds too little is out of
//! stock without a write; a budget spent on lost races is `busy`.

/// How many times one request reads a SKU's shards and plans its takes.
pub const SHARD_PLANS: u32 = 8;

/// The units `takes` plans, summed.
pub fn units(takes: &[(u8, u32)]) -> u64 {
    takes.iter().map(|(_, q)| u64::from(*q)).sum()
}
