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
    #[error("environment variable {0} (or the secret {0}_ARN names) is required")]
    Missing(&'static str),
    #[error("secret {0}: {1}")]
    Secret(&'static str, String),
    #[error("AUTH_MODE={0:?} is not understood (use dev-headers, or leave it unset)")]
    AuthMode(String),
    #[error("AUTH_MODE=dev-headers is refused in a deployed Lambda ({0}): it would let any caller claim to be staff")]
    DevHeadersDeployed(String),
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
        let auth = auth_mode(|k| std::env::var(k).ok())?;
        let config = Config::from_lookup(|k| std::env::var(k).ok())?;
        let conf = crate::dynamo::client_settings(aws_sdk_dynamodb::config::Builder::from(sdk));
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf.build()), table);
        Ok(Self::new(store, config, auth))
    }
}

/// `AUTH_MODE`: unset (JWT claims) or `dev-headers`, which is honoured only
/// off AWS: outside Lambda, or in a Lambda whose every AWS endpoint is local
/// (as under `cargo lambda watch`).
pub fn auth_mode(get: impl Fn(&str) -> Option<String>) -> Result<AuthMode, StartupError> {
    match get("AUTH_MODE").as_deref() {
        None | Some("") | Some("jwt") => Ok(AuthMode::Jwt),
        Some("dev-headers") => {
            if let Some(function) = get("AWS_LAMBDA_FUNCTION_NAME") {
                let local = |name: &str| {
                    get(name).is_some_and(|url| {
                        let authority = url.split("://").nth(1).unwrap_or_default();
                        ["127.", "localhost:", "localhost/", "[::1]"]
                            .iter()
                            .any(|p| authority.starts_with(p))
                            || authority == "localhost"
                    })
                };
                let endpoints = ["AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"];
                if !endpoints.iter().any(|e| local(e)) {
                    return Err(StartupError::DevHeadersDeployed(function));
                }
            }
            Ok(AuthMode::DevHeaders)
        }
        Some(other) => Err(StartupError::AuthMode(other.to_owned())),
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
        aws_sdk_sqs::Client::from_conf(
            aws_sdk_sqs::config::Builder::from(sdk)
                .interceptor(crate::xray::XRayInterceptor::default())
                .build(),
        ),
        required("FORWARD_QUEUE_URL")?,
        required("REFUND_QUEUE_URL")?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(vars: &[(&str, &str)]) -> Result<AuthMode, StartupError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        auth_mode(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn dev_headers_are_refused_in_a_deployed_lambda() {
        assert_eq!(mode(&[]).unwrap(), AuthMode::Jwt);
        let dev = ("AUTH_MODE", "dev-headers");
        assert_eq!(
            mode(&[dev]).unwrap(),
            AuthMode::DevHeaders,
            "tests, scripts"
        );
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "orders-PlaceFunction");
        assert!(matches!(
            mode(&[dev, lambda]),
            Err(StartupError::DevHeadersDeployed(_))
        ));
        assert!(mode(&[
            dev,
            lambda,
            (
                "AWS_ENDPOINT_URL_DYNAMODB",
                "https://dynamodb.us-east-1.amazonaws.com"
            )
        ])
        .is_err());
        assert_eq!(
            mode(&[
                dev,
                lambda,
                ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000")
            ])
            .unwrap(),
            AuthMode::DevHeaders,
            "cargo lambda watch against DynamoDB Local"
        );
        assert!(mode(&[("AUTH_MODE", "admin")]).is_err());
    }
}
