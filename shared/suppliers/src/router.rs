//! One [`Supplier`] for every source: picks the channel from the package's source.

use crate::config::{ConfigError, SupplierConfig};
use crate::jd::JdClient;
use crate::rest::RestChannel;
use crate::transport::Transport;
use domain::catalog::Source;
use domain::ids::PackageId;
use domain::ports::{ForwardRequest, InterceptOutcome, Supplier, SupplierError};

/// The supplier adapter. Cheap to clone (the connection pool is shared);
/// build it once at cold start.
#[derive(Clone)]
pub struct SupplierRouter {
    warehouse: RestChannel,
    dropship: RestChannel,
    jd: JdClient,
}

impl SupplierRouter {
    pub fn new(config: SupplierConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let transport = Transport::new(&config)?;
        Ok(Self {
            warehouse: RestChannel::warehouse(&config.warehouse_api_url, transport.clone()),
            dropship: RestChannel::dropship(&config.dropship_api_url, transport.clone()),
            jd: JdClient::new(config.jd, transport)?,
        })
    }

    /// [`SupplierConfig::from_env`] then [`new`](Self::new).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::new(SupplierConfig::from_env()?)
    }
}

impl std::fmt::Debug for SupplierRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SupplierRouter")
    }
}

impl Supplier for SupplierRouter {
    async fn forward(&self, req: &ForwardRequest) -> Result<String, SupplierError> {
        let result = match &req.source {
            Source::SelfOperated { warehouse } => {
                self.warehouse.forward(warehouse.as_str(), req).await
            }
            Source::Dropship { supplier } => self.dropship.forward(supplier.as_str(), req).await,
            Source::Jd => self.jd.forward(req).await,
        };
        match &result {
            Ok(reference) => tracing::info!(
                package = %req.package_id, source = %req.source.package_key(), reference,
                "package forwarded"
            ),
            Err(e) => tracing::warn!(
                package = %req.package_id, source = %req.source.package_key(), error = %e,
                "forward failed"
            ),
        }
        result
    }

    async fn intercept(
        &self,
        package: &PackageId,
        source: &Source,
        supplier_ref: &str,
    ) -> Result<InterceptOutcome, SupplierError> {
        let result = match source {
            Source::SelfOperated { warehouse } => {
                self.warehouse
                    .intercept(warehouse.as_str(), package, supplier_ref)
                    .await
            }
            Source::Dropship { supplier } => {
                self.dropship
                    .intercept(supplier.as_str(), package, supplier_ref)
                    .await
            }
            Source::Jd => self.jd.intercept(package, supplier_ref).await,
        };
        match &result {
            Ok(outcome) => tracing::info!(
                package = %package, source = %source.package_key(), ?outcome,
                "intercept answered"
            ),
            Err(e) => tracing::warn!(
                package = %package, source = %source.package_key(), error = %e,
                "intercept failed"
            ),
        }
        result
    }
}
