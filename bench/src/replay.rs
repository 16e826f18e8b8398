//! Replays captured operation inputs with the bare SDK clients: the same
//! shapes (items, keys, conditions, expressions, message bodies) the handler
//! sent, with the ids of the order (and payment, idempotency key) renamed to
//! fresh ids of the same length, so the writes succeed against a shadow copy
//! instead of colliding with what the handler just wrote.

use crate::counter::Captured;
use crate::Res;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct Rename(pub Vec<(String, String)>);

impl Rename {
    pub fn s(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for (from, to) in &self.0 {
            if out.contains(from.as_str()) {
                out = out.replace(from.as_str(), to);
            }
        }
        out
    }

    pub fn av(&self, v: &AttributeValue) -> AttributeValue {
        match v {
            AttributeValue::S(s) => AttributeValue::S(self.s(s)),
            AttributeValue::Ss(v) => AttributeValue::Ss(v.iter().map(|s| self.s(s)).collect()),
            AttributeValue::L(l) => AttributeValue::L(l.iter().map(|x| self.av(x)).collect()),
            AttributeValue::M(m) => AttributeValue::M(self.map(m)),
            other => other.clone(),
        }
    }

    pub fn map(&self, m: &HashMap<String, AttributeValue>) -> HashMap<String, AttributeValue> {
        m.iter().map(|(k, v)| (k.clone(), self.av(v))).collect()
    }

    fn opt_map(
        &self,
        m: &Option<HashMap<String, AttributeValue>>,
    ) -> Option<HashMap<String, AttributeValue>> {
        m.as_ref().map(|m| self.map(m))
    }

    fn opt_s(&self, s: &Option<String>) -> Option<String> {
        s.as_ref().map(|s| self.s(s))
    }

    fn transact_item(&self, t: &TransactWriteItem) -> TransactWriteItem {
        let mut t = t.clone();
        if let Some(p) = &mut t.put {
            p.item = self.map(&p.item);
            p.expression_attribute_values = self.opt_map(&p.expression_attribute_values);
        }
        if let Some(u) = &mut t.update {
            u.key = self.map(&u.key);
            u.expression_attribute_values = self.opt_map(&u.expression_attribute_values);
        }
        if let Some(d) = &mut t.delete {
            d.key = self.map(&d.key);
            d.expression_attribute_values = self.opt_map(&d.expression_attribute_values);
        }
        if let Some(c) = &mut t.condition_check {
            c.key = self.map(&c.key);
            c.expression_attribute_values = self.opt_map(&c.expression_attribute_values);
        }
        t
    }
}

fn ddb_err(
    e: impl std::error::Error + Send + Sync + 'static,
) -> Box<dyn std::error::Error + Send + Sync> {
    DisplayErrorContext(e).to_string().into()
}

/// Sends one captured operation again, renamed. Fails if the service refuses it.
pub async fn replay(
    ddb: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    c: &Captured,
    r: &Rename,
) -> Res<()> {
    match c {
        Captured::GetItem(i) => {
            ddb.get_item()
                .set_table_name(i.table_name.clone())
                .set_key(r.opt_map(&i.key))
                .set_attributes_to_get(i.attributes_to_get.clone())
                .set_consistent_read(i.consistent_read)
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .set_projection_expression(i.projection_expression.clone())
                .set_expression_attribute_names(i.expression_attribute_names.clone())
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::BatchGetItem(i) => {
            let items = i.request_items.as_ref().map(|m| {
                m.iter()
                    .map(|(table, ka)| {
                        let mut ka = ka.clone();
                        ka.keys = ka.keys.iter().map(|k| r.map(k)).collect();
                        (table.clone(), ka)
                    })
                    .collect()
            });
            ddb.batch_get_item()
                .set_request_items(items)
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::TransactWriteItems(i) => {
            let items = i
                .transact_items
                .as_ref()
                .map(|v| v.iter().map(|t| r.transact_item(t)).collect());
            ddb.transact_write_items()
                .set_transact_items(items)
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .set_return_item_collection_metrics(i.return_item_collection_metrics.clone())
                .set_client_request_token(r.opt_s(&i.client_request_token))
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::UpdateItem(i) => {
            ddb.update_item()
                .set_table_name(i.table_name.clone())
                .set_key(r.opt_map(&i.key))
                .set_attribute_updates(i.attribute_updates.clone())
                .set_expected(i.expected.clone())
                .set_conditional_operator(i.conditional_operator.clone())
                .set_return_values(i.return_values.clone())
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .set_return_item_collection_metrics(i.return_item_collection_metrics.clone())
                .set_update_expression(i.update_expression.clone())
                .set_condition_expression(i.condition_expression.clone())
                .set_expression_attribute_names(i.expression_attribute_names.clone())
                .set_expression_attribute_values(r.opt_map(&i.expression_attribute_values))
                .set_return_values_on_condition_check_failure(
                    i.return_values_on_condition_check_failure.clone(),
                )
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::PutItem(i) => {
            ddb.put_item()
                .set_table_name(i.table_name.clone())
                .set_item(r.opt_map(&i.item))
                .set_expected(i.expected.clone())
                .set_return_values(i.return_values.clone())
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .set_return_item_collection_metrics(i.return_item_collection_metrics.clone())
                .set_conditional_operator(i.conditional_operator.clone())
                .set_condition_expression(i.condition_expression.clone())
                .set_expression_attribute_names(i.expression_attribute_names.clone())
                .set_expression_attribute_values(r.opt_map(&i.expression_attribute_values))
                .set_return_values_on_condition_check_failure(
                    i.return_values_on_condition_check_failure.clone(),
                )
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::DeleteItem(i) => {
            ddb.delete_item()
                .set_table_name(i.table_name.clone())
                .set_key(r.opt_map(&i.key))
                .set_expected(i.expected.clone())
                .set_conditional_operator(i.conditional_operator.clone())
                .set_return_values(i.return_values.clone())
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .set_return_item_collection_metrics(i.return_item_collection_metrics.clone())
                .set_condition_expression(i.condition_expression.clone())
                .set_expression_attribute_names(i.expression_attribute_names.clone())
                .set_expression_attribute_values(r.opt_map(&i.expression_attribute_values))
                .set_return_values_on_condition_check_failure(
                    i.return_values_on_condition_check_failure.clone(),
                )
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::Query(i) => {
            ddb.query()
                .set_table_name(i.table_name.clone())
                .set_index_name(i.index_name.clone())
                .set_select(i.select.clone())
                .set_attributes_to_get(i.attributes_to_get.clone())
                .set_limit(i.limit)
                .set_consistent_read(i.consistent_read)
                .set_key_conditions(i.key_conditions.clone())
                .set_query_filter(i.query_filter.clone())
                .set_conditional_operator(i.conditional_operator.clone())
                .set_scan_index_forward(i.scan_index_forward)
                .set_exclusive_start_key(r.opt_map(&i.exclusive_start_key))
                .set_return_consumed_capacity(i.return_consumed_capacity.clone())
                .set_projection_expression(i.projection_expression.clone())
                .set_filter_expression(i.filter_expression.clone())
                .set_key_condition_expression(i.key_condition_expression.clone())
                .set_expression_attribute_names(i.expression_attribute_names.clone())
                .set_expression_attribute_values(r.opt_map(&i.expression_attribute_values))
                .send()
                .await
                .map_err(ddb_err)?;
        }
        Captured::SendMessageBatch(i) => {
            let entries = i.entries.as_ref().map(|es| {
                es.iter()
                    .map(|e| {
                        let mut e = e.clone();
                        e.message_body = r.s(&e.message_body);
                        if let Some(attrs) = &mut e.message_attributes {
                            for v in attrs.values_mut() {
                                v.string_value = r.opt_s(&v.string_value);
                            }
                        }
                        e
                    })
                    .collect()
            });
            let out = sqs
                .send_message_batch()
                .set_queue_url(i.queue_url.clone())
                .set_entries(entries)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(e).to_string())?;
            if !out.failed().is_empty() {
                return Err(format!("{} messages refused", out.failed().len()).into());
            }
        }
        Captured::Other(what) => {
            return Err(format!("cannot replay {what}").into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renames_every_string_however_deep() {
        let r = Rename(vec![
            ("01OLD".into(), "01NEW".into()),
            ("tok".into(), "TOK".into()),
        ]);
        let item = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("ORDER#01OLD".into())),
            ("n".to_owned(), AttributeValue::N("01".into())),
            (
                "packages".to_owned(),
                AttributeValue::L(vec![AttributeValue::M(HashMap::from([(
                    "id".to_owned(),
                    AttributeValue::S("01OLD-P01".into()),
                )]))]),
            ),
            (
                "keys".to_owned(),
                AttributeValue::Ss(vec!["IDEM#u#tok".into()]),
            ),
        ]);
        let out = r.map(&item);
        assert_eq!(out["pk"], AttributeValue::S("ORDER#01NEW".into()));
        assert_eq!(out["n"], AttributeValue::N("01".into()));
        let AttributeValue::L(l) = &out["packages"] else {
            panic!()
        };
        let AttributeValue::M(m) = &l[0] else {
            panic!()
        };
        assert_eq!(m["id"], AttributeValue::S("01NEW-P01".into()));
        assert_eq!(out["keys"], AttributeValue::Ss(vec!["IDEM#u#TOK".into()]));
    }
}
