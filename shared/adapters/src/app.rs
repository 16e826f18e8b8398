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
        let table = std::env::var("TABLE_NAME").map_err(|_| StartupError::Missing("TABLE_NAME"))?;
        let auth = match std::env::var("AUTH_MODE").ok().as_deref() {
            None | Some("") | Some("jwt") => AuthMode::Jwt,
            Some("dev-headers") => AuthMode::DevHeaders,
            Some(other) => return Err(StartupError::AuthMode(other.to_owned())),
        };
        let config = Config::from_lookup(|k| std::env::var(k).ok())?;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table);
        Ok(Self::new(store, config, auth))
    }
}
