//! The OpenAPI 3 document, generated from the handlers' annotations and the protocol types.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Chiiki API", description = "Municipal premium digital local currency: residents, stores, payments."),
    paths(
        super::public::healthz,
        super::public::readyz,
        super::public::programme,
        super::public::register,
        super::public::login,
        super::public::directory,
        super::public::store,
        super::public::store_code,
        super::me::me,
        super::me::balance,
        super::me::transactions,
        super::payments::pay,
        super::payments::refund,
        super::admin::charge,
        super::admin::create_store,
        super::admin::approve_store,
        super::admin::create_store_staff,
    ),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
