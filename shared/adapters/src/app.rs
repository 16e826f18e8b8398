//! What every function builds once at cold start.

use crate::dynamo::DynamoStore;
use domain::config::Config;

/// How callers are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Deployed: the API Gateway JWT authorizer's claims (`sub`, `cognito:groups`).
    Jwt,
    /// Local only (`AUTH_MODE=dev-headers`): `x-user-id` and `x-user-role: staff`.
    DevHeaders,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("AUTH_MODE={0:?} is not understood (use dev-headers, or leave it unset)")]
    AuthMode(String),
    #[error(transparent)]
    Config(#[from] domain::config::ConfigError),
}

/// Shared state of a function: SDK client, table, configuration.
#[derive(Clone)]
pub struct App {
    pub store: DynamoStore,
    pub config: Config,
    pub auth: AuthMode,
}

impl App {
    pub fn new(store: DynamoStore, config: Config, auth: AuthMode) -> Self {
        Self {
            store,
            config,
            auth,
        }
    }

    /// Reads configuration from the environment and builds the DynamoDB client.
    pub async fn from_env() -> Result<Self, StartupError> {
        Self::from_sdk(&sdk_config().await)
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Result<Self, StartupError> {
        let table = required("TABLE_NAME")?;
        let auth = match std::env::var("AUTH_MODE").ok().as_deref() {
            None | Some("") | Some("jwt") => AuthMode::Jwt,
            Some("dev-headers") => AuthMode::DevHeaders,
            Some(other) => return Err(StartupError::AuthMode(other.to_owned())),
        };
        let config = Config::from_lookup(|k| std::env::var(k).ok())?;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), table);
        Ok(Self::new(store, config, auth))
    }
}

/// The AWS SDK configuration (region, credentials, endpoints) from the environment.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A required, non-empty environment variable.
pub fn required(name: &'static str) -> Result<String, StartupError> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or(StartupError::Missing(name))
}

/// The queues from `FORWARD_QUEUE_URL` and `REFUND_QUEUE_URL`.
pub fn publisher_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::sqs::SqsPublisher, StartupError> {
    Ok(crate::sqs::SqsPublisher::new(
        aws_sdk_sqs::Client::new(sdk),
        required("FORWARD_QUEUE_URL")?,
        required("REFUND_QUEUE_URL")?,
    ))
}
