//! The table definition, read from `template.yaml` so that the deployed table
//! and the local one (dev stack, tests) cannot drift apart.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use serde::Deserialize;

const TEMPLATE: &str = include_str!("../../../../template.yaml");

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyDef {
    attribute_name: String,
    key_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttrDef {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionDef {
    projection_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDef {
    index_name: String,
    key_schema: Vec<KeyDef>,
    projection: ProjectionDef,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TtlDef {
    attribute_name: String,
    enabled: bool,
}

/// The `OrdersTable` properties that shape the table.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableDef {
    attribute_definitions: Vec<AttrDef>,
    key_schema: Vec<KeyDef>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexDef>,
    time_to_live_specification: Option<TtlDef>,
    /// The stream the order events are read from (DynamoDB Local serves it too).
    stream_specification: Option<StreamDef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDef {
    stream_view_type: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("template.yaml: {0}")]
    Template(String),
    #[error("create table {table}: {message}")]
    Create { table: String, message: String },
}

fn key(k: &KeyDef) -> Result<KeySchemaElement, SchemaError> {
    KeySchemaElement::builder()
        .attribute_name(&k.attribute_name)
        .key_type(KeyType::from(k.key_type.as_str()))
        .build()
        .map_err(|e| SchemaError::Template(e.to_string()))
}

impl TableDef {
    /// Reads `Resources.OrdersTable.Properties` from the bundled template.
    pub fn from_template() -> Result<Self, SchemaError> {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(TEMPLATE).map_err(|e| SchemaError::Template(e.to_string()))?;
        let props = doc
            .get("Resources")
            .and_then(|r| r.get("OrdersTable"))
            .and_then(|t| t.get("Properties"))
            .ok_or_else(|| {
                SchemaError::Template("Resources.OrdersTable.Properties missing".into())
            })?;
        serde_yaml::from_value(props.clone()).map_err(|e| SchemaError::Template(e.to_string()))
    }

    /// The same table without its stream. DynamoDB Local's stream makes
    /// every write several times slower (the stress tests: 13 s without, 71 s
    /// with), so only the tests that read it, and the dev stack, keep it.
    pub fn without_stream(mut self) -> Self {
        self.stream_specification = None;
        self
    }

    pub fn index_names(&self) -> Vec<&str> {
        self.global_secondary_indexes
            .iter()
            .map(|i| i.index_name.as_str())
            .collect()
    }

    /// Creates the table (on-demand) and turns on TTL.
    pub async fn create(&self, client: &Client, table: &str) -> Result<(), SchemaError> {
        let fail = |e: String| SchemaError::Create {
            table: table.to_owned(),
            message: e,
        };
        let mut req = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest);
        for a in &self.attribute_definitions {
            req = req.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        for k in &self.key_schema {
            req = req.key_schema(key(k)?);
        }
        for i in &self.global_secondary_indexes {
            let mut gsi = GlobalSecondaryIndex::builder()
                .index_name(&i.index_name)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            i.projection.projection_type.as_str(),
                        ))
                        .build(),
                );
            for k in &i.key_schema {
                gsi = gsi.key_schema(key(k)?);
            }
            req = req.global_secondary_indexes(gsi.build().map_err(|e| fail(e.to_string()))?);
        }
        if let Some(st) = &self.stream_specification {
            req = req.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(st.stream_view_type.as_str()))
                    .build()
                    .map_err(|e| fail(e.to_string()))?,
            );
        }
        req.send()
            .await
            .map_err(|e| fail(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        if let Some(ttl) = &self.time_to_live_specification {
            client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(ttl.enabled)
                        .build()
                        .map_err(|e| fail(e.to_string()))?,
                )
                .send()
                .await
                .map_err(|e| fail(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::keys;

    #[test]
    fn template_table_matches_the_key_builders() {
        let def = TableDef::from_template().unwrap();
        let names: Vec<&str> = def
            .key_schema
            .iter()
            .map(|k| k.attribute_name.as_str())
            .collect();
        assert_eq!(names, [keys::PK, keys::SK]);
        let mut idx = def.index_names();
        idx.sort();
        assert_eq!(
            idx,
            [
                keys::DUE_INDEX,
                keys::PAYMENTS_BY_DAY_INDEX,
                keys::STATUS_INDEX,
                keys::USER_ORDERS_INDEX
            ]
        );
        for i in &def.global_secondary_indexes {
            let attrs: Vec<&str> = i
                .key_schema
                .iter()
                .map(|k| k.attribute_name.as_str())
                .collect();
            let want = match i.index_name.as_str() {
                keys::DUE_INDEX => [keys::DUE_PK, keys::DUE_SK],
                keys::STATUS_INDEX => [keys::STATUS_PK, keys::STATUS_SK],
                keys::PAYMENTS_BY_DAY_INDEX => [keys::PAYDAY_PK, keys::PAYDAY_SK],
                _ => [keys::USER_PK, keys::USER_SK],
            };
            assert_eq!(attrs, want);
        }
        assert_eq!(
            def.time_to_live_specification.unwrap().attribute_name,
            keys::TTL
        );
        assert_eq!(
            def.stream_specification.unwrap().stream_view_type,
            "NEW_AND_OLD_IMAGES",
            "the order events need both images"
        );
    }
}
