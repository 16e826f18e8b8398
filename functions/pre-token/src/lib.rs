//! The user pool's pre-token-generation trigger (SPEC 2.11, 2.13): the staff
//! claims the API trusts come from here, derived from the user's groups, not
//! taken from whatever its attributes say. `custom:warehouse` is in the token
//! only for a member of `warehouse` (its `custom:warehouse` attribute, when
//! it is a warehouse id); `custom:storefronts` only for `admin` (`staff`) or
//! `support` members whose attribute names storefronts (left out: every
//! storefront, SPEC 2.13). Anyone else gets neither, whatever attributes a
//! client managed to set.

use domain::ids::Roles;
use domain::storefront::StorefrontId;
use serde_json::{json, Value};

pub const WAREHOUSE: &str = "custom:warehouse";
pub const STOREFRONTS: &str = "custom:storefronts";

/// `response.claimsOverrideDetails` for a pre-token-generation event.
pub fn claims(event: &Value) -> Value {
    let request = &event["request"];
    let groups: Vec<&str> = request["groupConfiguration"]["groupsToOverride"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let attr = |name: &str| request["userAttributes"][name].as_str();
    let roles = Roles::from_names(groups.iter().copied(), attr(WAREHOUSE));
    let mut add = serde_json::Map::new();
    let mut suppress = Vec::new();
    match &roles.warehouse {
        Some(w) => {
            add.insert(WAREHOUSE.into(), json!(w.as_str()));
        }
        None => suppress.push(WAREHOUSE),
    }
    let limit = attr(STOREFRONTS).filter(|_| roles.admin || roles.support);
    match limit {
        // Only ids that can be storefronts; none valid is a limit to none.
        Some(list) => {
            let ids: Vec<String> = list
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter_map(|s| StorefrontId::parse(s).ok())
                .map(|s| s.as_str().to_owned())
                .collect();
            add.insert(STOREFRONTS.into(), json!(ids.join(",")));
        }
        None => suppress.push(STOREFRONTS),
    }
    json!({ "claimsToAddOrOverride": add, "claimsToSuppress": suppress })
}

/// The event back with its response filled in.
pub fn handle(mut event: Value) -> Value {
    let details = claims(&event);
    tracing::info!(
        user = event["userName"].as_str().unwrap_or("?"),
        claims = %details,
        "token claims"
    );
    if !event["response"].is_object() {
        event["response"] = json!({});
    }
    event["response"]["claimsOverrideDetails"] = details;
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(groups: &[&str], attrs: Value) -> Value {
        json!({
            "version": "1", "triggerSource": "TokenGeneration_HostedAuth", "userName": "u",
            "request": {"userAttributes": attrs,
                        "groupConfiguration": {"groupsToOverride": groups}},
            "response": {"claimsOverrideDetails": null},
        })
    }

    fn details(groups: &[&str], attrs: Value) -> Value {
        handle(event(groups, attrs))["response"]["claimsOverrideDetails"].clone()
    }

    #[test]
    fn a_warehouse_claim_only_for_the_warehouse_group() {
        let attrs = json!({"custom:warehouse": "WH-1", "custom:storefronts": "app"});
        let d = details(&["warehouse"], attrs.clone());
        assert_eq!(
            d["claimsToAddOrOverride"],
            json!({"custom:warehouse": "WH-1"})
        );
        assert_eq!(d["claimsToSuppress"], json!(["custom:storefronts"]));
        // A buyer who set the attributes on itself gets neither claim.
        let d = details(&[], attrs);
        assert_eq!(d["claimsToAddOrOverride"], json!({}));
        assert_eq!(
            d["claimsToSuppress"],
            json!(["custom:warehouse", "custom:storefronts"])
        );
        // A malformed warehouse is no warehouse.
        let d = details(&["warehouse"], json!({"custom:warehouse": "WH 1#"}));
        assert_eq!(d["claimsToAddOrOverride"], json!({}));
    }

    #[test]
    fn the_sample_event_gets_the_warehouse_claim_only() {
        let sample: Value =
            serde_json::from_str(include_str!("../../../events/pre-token.json")).unwrap();
        let d = &handle(sample)["response"]["claimsOverrideDetails"];
        assert_eq!(
            d["claimsToAddOrOverride"],
            json!({"custom:warehouse": "WH-1"})
        );
        assert_eq!(d["claimsToSuppress"], json!(["custom:storefronts"]));
    }

    #[test]
    fn storefront_limits_for_admin_and_support_only() {
        let d = details(
            &["support"],
            json!({"custom:storefronts": "app, mini-program,Bad Id"}),
        );
        assert_eq!(
            d["claimsToAddOrOverride"],
            json!({"custom:storefronts": "app,mini-program"})
        );
        // No attribute: no limit (every storefront), the claim suppressed.
        let d = details(&["staff"], json!({}));
        assert_eq!(
            d["claimsToSuppress"],
            json!(["custom:warehouse", "custom:storefronts"])
        );
        // Nothing valid named: limited to none, never to all.
        let d = details(&["admin"], json!({"custom:storefronts": "Bad Id"}));
        assert_eq!(
            d["claimsToAddOrOverride"],
            json!({"custom:storefronts": ""})
        );
    }
}
