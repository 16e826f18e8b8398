//! Every HTTP route of the API, declared once: its method, path, the function
//! that serves it and who may call it. The handlers dispatch from this table
//! ([`resolve`]); template.yaml, the local router in Cargo.toml, the OpenAPI
//! document and `events/` are checked against it by tests
//! (`shared/api-doc/tests/drift.rs`).

/// Who may call a route (SPEC 3): the JWT authorizer is off for the public
/// and the signed webhook routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    /// A signed-in buyer (or staff).
    User,
    Staff,
    /// Signed by the payment provider (`X-Signature`), no JWT.
    PaymentWebhook,
    /// Signed by a supplier (`X-Signature`), no JWT.
    SupplierWebhook,
}

impl Access {
    /// True when API Gateway's JWT authorizer checks the caller.
    pub fn needs_jwt(self) -> bool {
        matches!(self, Access::User | Access::Staff)
    }
}

/// A route's name; its `operationId` in the OpenAPI document is the same in
/// camelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteId {
    GetSku,
    PutSku,
    ListStorefronts,
    GetStorefront,
    PutStorefront,
    CreateOrder,
    RepurchaseOrder,
    ListOrders,
    GetOrder,
    CancelOrder,
    NotifyPayment,
    NotifyPaymentInStorefront,
    SupplierPackageStatus,
    ShipPackage,
    ResolvePackage,
    ConfirmReceipt,
    UploadProof,
    OpenAfterSalesCase,
    GetAfterSalesCase,
    ReviewAfterSalesCase,
    ShipAfterSalesReturn,
    CompleteAfterSalesCase,
    WithdrawAfterSalesCase,
    AddOrderNote,
    StaffPackages,
    StaffAfterSales,
    StaffAttention,
    StaffOrders,
    StaffSummary,
    AcknowledgeAttention,
    NotifyRefund,
    NotifyRefundInStorefront,
    RetryRefund,
    RecordRefundOffline,
    StartWechatPayment,
    NotifyWechatPayment,
    NotifyWechatPaymentInStorefront,
    NotifyWechatRefund,
    NotifyWechatRefundInStorefront,
}

/// One route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub id: RouteId,
    /// Upper case, as API Gateway's route keys write it.
    pub method: &'static str,
    /// With `{param}` segments, as API Gateway's route keys write it.
    pub path: &'static str,
    /// The function (crate and binary) that serves it.
    pub function: &'static str,
    pub access: Access,
}

impl Route {
    /// `METHOD /path`, API Gateway's route key.
    pub fn key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The OpenAPI `operationId`: the id in camelCase.
    pub fn operation_id(&self) -> String {
        let name = format!("{:?}", self.id);
        let mut chars = name.chars();
        match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => name,
        }
    }
}

const fn r(
    id: RouteId,
    method: &'static str,
    path: &'static str,
    function: &'static str,
    access: Access,
) -> Route {
    Route {
        id,
        method,
        path,
        function,
        access,
    }
}

use Access::*;
use RouteId::*;

/// Every route, in SPEC 3's order.
pub const ROUTES: &[Route] = &[
    r(GetSku, "GET", "/skus/{sku}", "catalog", Public),
    r(PutSku, "PUT", "/skus/{sku}", "catalog", Staff),
    r(ListStorefronts, "GET", "/storefronts", "catalog", Staff),
    r(GetStorefront, "GET", "/storefronts/{id}", "catalog", Staff),
    r(PutStorefront, "PUT", "/storefronts/{id}", "catalog", Staff),
    r(CreateOrder, "POST", "/orders", "place", User),
    r(
        RepurchaseOrder,
        "POST",
        "/orders/{id}/repurchase",
        "place",
        User,
    ),
    r(ListOrders, "GET", "/orders", "orders", User),
    r(GetOrder, "GET", "/orders/{id}", "orders", User),
    r(CancelOrder, "POST", "/orders/{id}/cancel", "cancel", User),
    r(
        NotifyPayment,
        "POST",
        "/payments/notify",
        "pay",
        PaymentWebhook,
    ),
    r(
        NotifyPaymentInStorefront,
        "POST",
        "/payments/notify/{storefront}",
        "pay",
        PaymentWebhook,
    ),
    r(
        SupplierPackageStatus,
        "POST",
        "/suppliers/{supplier}/package-status",
        "status-sync",
        SupplierWebhook,
    ),
    r(
        ShipPackage,
        "POST",
        "/packages/{package_id}/ship",
        "status-sync",
        Staff,
    ),
    r(
        ResolvePackage,
        "POST",
        "/packages/{package_id}/resolve",
        "status-sync",
        Staff,
    ),
    r(
        ConfirmReceipt,
        "POST",
        "/packages/{package_id}/confirm-receipt",
        "status-sync",
        User,
    ),
    r(
        UploadProof,
        "POST",
        "/after-sales/uploads",
        "after-sales",
        User,
    ),
    r(
        OpenAfterSalesCase,
        "POST",
        "/orders/{id}/after-sales",
        "after-sales",
        User,
    ),
    r(
        GetAfterSalesCase,
        "GET",
        "/after-sales/{case_id}",
        "after-sales",
        User,
    ),
    r(
        ReviewAfterSalesCase,
        "POST",
        "/after-sales/{case_id}/review",
        "after-sales",
        Staff,
    ),
    r(
        ShipAfterSalesReturn,
        "POST",
        "/after-sales/{case_id}/return-shipment",
        "after-sales",
        User,
    ),
    r(
        CompleteAfterSalesCase,
        "POST",
        "/after-sales/{case_id}/complete",
        "after-sales",
        Staff,
    ),
    r(
        WithdrawAfterSalesCase,
        "POST",
        "/after-sales/{case_id}/withdraw",
        "after-sales",
        User,
    ),
    r(
        AddOrderNote,
        "POST",
        "/orders/{id}/notes",
        "backoffice",
        Staff,
    ),
    r(StaffPackages, "GET", "/staff/packages", "backoffice", Staff),
    r(
        StaffAfterSales,
        "GET",
        "/staff/after-sales",
        "backoffice",
        Staff,
    ),
    r(
        StaffAttention,
        "GET",
        "/staff/attention",
        "backoffice",
        Staff,
    ),
    r(StaffOrders, "GET", "/staff/orders", "backoffice", Staff),
    r(StaffSummary, "GET", "/staff/summary", "backoffice", Staff),
    r(
        AcknowledgeAttention,
        "POST",
        "/staff/attention/{item_id}/acknowledge",
        "backoffice",
        Staff,
    ),
    r(
        NotifyRefund,
        "POST",
        "/payments/refund-notify",
        "refund",
        PaymentWebhook,
    ),
    r(
        NotifyRefundInStorefront,
        "POST",
        "/payments/refund-notify/{storefront}",
        "refund",
        PaymentWebhook,
    ),
    r(
        RetryRefund,
        "POST",
        "/refunds/{refund_id}/retry",
        "refund",
        Staff,
    ),
    r(
        RecordRefundOffline,
        "POST",
        "/refunds/{refund_id}/record-offline",
        "refund",
        Staff,
    ),
    r(
        StartWechatPayment,
        "POST",
        "/orders/{id}/pay/wechatpay",
        "pay",
        User,
    ),
    r(
        NotifyWechatPayment,
        "POST",
        "/payments/wechatpay/notify",
        "pay",
        PaymentWebhook,
    ),
    r(
        NotifyWechatPaymentInStorefront,
        "POST",
        "/payments/wechatpay/notify/{storefront}",
        "pay",
        PaymentWebhook,
    ),
    r(
        NotifyWechatRefund,
        "POST",
        "/payments/wechatpay/refund-notify",
        "refund",
        PaymentWebhook,
    ),
    r(
        NotifyWechatRefundInStorefront,
        "POST",
        "/payments/wechatpay/refund-notify/{storefront}",
        "refund",
        PaymentWebhook,
    ),
];

/// The route `id` names.
pub fn route(id: RouteId) -> &'static Route {
    ROUTES
        .iter()
        .find(|r| r.id == id)
        .expect("every RouteId is in ROUTES")
}

/// What a request's method and path come to for one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolved {
    Route(RouteId),
    /// A route of the function has this path, under another method: 405.
    OtherMethod,
    /// No route of the function has this path: 404.
    NoRoute,
}

/// What a request's path matches: the route of `function` whose path has
/// the same segments (a `{param}` matches any one), or None. A leading
/// `/lambda-url/<function>` (the local runtime's own route) is left out.
pub fn resolve(function: &str, method: &str, path: &str) -> Resolved {
    let prefix = format!("/lambda-url/{function}");
    let path = path.strip_prefix(prefix.as_str()).unwrap_or(path);
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let mut other_method = false;
    for r in ROUTES.iter().filter(|r| r.function == function) {
        let template: Vec<&str> = r.path.split('/').collect();
        let fits = template.len() == segments.len()
            && template
                .iter()
                .zip(&segments)
                .all(|(t, s)| (t.starts_with('{') && !s.is_empty()) || t == s);
        if fits {
            if r.method.eq_ignore_ascii_case(method) {
                return Resolved::Route(r.id);
            }
            other_method = true;
        }
    }
    if other_method {
        Resolved::OtherMethod
    } else {
        Resolved::NoRoute
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_id_once_and_every_method_and_path_once() {
        let ids: BTreeSet<RouteId> = ROUTES.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), ROUTES.len());
        let keys: BTreeSet<String> = ROUTES.iter().map(Route::key).collect();
        assert_eq!(keys.len(), ROUTES.len());
        assert_eq!(route(ShipPackage).operation_id(), "shipPackage");
    }

    #[test]
    fn paths_resolve_to_their_routes() {
        use Resolved::{NoRoute, OtherMethod, Route as R};
        let cases = [
            ("status-sync", "POST", "/packages/P-1/ship", R(ShipPackage)),
            (
                "status-sync",
                "POST",
                "/packages/P-1/resolve",
                R(ResolvePackage),
            ),
            (
                "status-sync",
                "POST",
                "/suppliers/jd/package-status",
                R(SupplierPackageStatus),
            ),
            ("status-sync", "GET", "/packages/P-1/ship", OtherMethod),
            ("status-sync", "POST", "/packages/P-1/explode", NoRoute),
            ("orders", "GET", "/orders", R(ListOrders)),
            ("orders", "GET", "/orders/01ABC", R(GetOrder)),
            (
                "orders",
                "GET",
                "/lambda-url/orders/orders/01ABC",
                R(GetOrder),
            ),
            ("orders", "GET", "/lambda-url/orders/orders", R(ListOrders)),
            (
                "place",
                "POST",
                "/orders/01ABC/repurchase",
                R(RepurchaseOrder),
            ),
            ("place", "GET", "/orders", OtherMethod),
            ("catalog", "PUT", "/storefronts/app", R(PutStorefront)),
            ("catalog", "GET", "/storefronts", R(ListStorefronts)),
            (
                "pay",
                "POST",
                "/payments/notify/app",
                R(NotifyPaymentInStorefront),
            ),
            ("pay", "POST", "/payments/notify", R(NotifyPayment)),
            ("pay", "POST", "/payments/notify/", R(NotifyPayment)),
            (
                "refund",
                "POST",
                "/payments/refund-notify/app",
                R(NotifyRefundInStorefront),
            ),
            ("refund", "POST", "/refunds/R-1/retry", R(RetryRefund)),
            (
                "after-sales",
                "POST",
                "/after-sales/C-1/withdraw",
                R(WithdrawAfterSalesCase),
            ),
            (
                "after-sales",
                "GET",
                "/after-sales/C-1",
                R(GetAfterSalesCase),
            ),
            ("after-sales", "POST", "/orders//after-sales", NoRoute),
        ];
        for (function, method, path, want) in cases {
            assert_eq!(resolve(function, method, path), want, "{method} {path}");
        }
    }
}
