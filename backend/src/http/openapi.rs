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
        super::onboarding::apply,
        super::onboarding::list,
        super::onboarding::record,
        super::onboarding::reject,
        super::onboarding::suspend,
        super::onboarding::set_bank_account,
        super::posters::code_png,
        super::posters::code_svg,
        super::posters::poster,
        super::posters::all_posters,
        super::store_mode::charge,
        super::store_mode::stream,
        super::store_mode::sales,
        super::reports::monthly,
        super::reports::monthly_xlsx,
        super::reports::monthly_csv,
        super::reports::final_json,
        super::reports::final_xlsx,
        super::reports::final_csv,
        super::settlement::close,
        super::settlement::list,
        super::settlement::show,
        super::settlement::zengin,
        super::settlement::all_statements_csv,
        super::settlement::statement_csv,
        super::settlement::statement_pdf,
        super::settlement::mark_paid,
        super::settlement::mark_all_paid,
        super::settlement::mark_returned,
        super::settlement::store_statements,
        super::settlement::store_statement_csv,
        super::settlement::store_statement_pdf,
        super::sale::my_sale,
        super::sale::apply,
        super::sale::withdraw,
        super::sale::order,
        super::sale::public_draw,
        super::sale::provider_notification,
        super::sale::summary,
        super::sale::commit,
        super::sale::draw,
        super::sale::expire,
        super::sale::counter_payment,
        super::sale::counter_purchase,
        super::points::my_points,
        super::points::claim,
        super::points::list_events,
        super::points::show_event,
        super::points::create_event,
        super::points::update_event,
        super::points::printed_code,
    ),
    components(schemas(chiiki_core::protocol::PosterSize)),
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
