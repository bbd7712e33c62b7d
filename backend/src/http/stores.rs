//! The routes of the stores issue: onboarding, codes and posters, store mode and settlement,
//! merged into the main router in one place.

use super::AppState;
use super::{onboarding, posters, settlement, store_mode};
use axum::Router;
use axum::routing::{get, post, put};
use chiiki_core::protocol::paths;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::STORE_APPLICATIONS, post(onboarding::apply))
        .route(
            paths::STORE_APPLY_PAGE,
            get(onboarding::apply_form).post(onboarding::apply_submit),
        )
        .route(paths::ADMIN_STORES, get(onboarding::list))
        .route("/api/v1/admin/stores/{id}", get(onboarding::record))
        .route("/api/v1/admin/stores/{id}/reject", post(onboarding::reject))
        .route(
            "/api/v1/admin/stores/{id}/suspend",
            post(onboarding::suspend),
        )
        .route(
            "/api/v1/admin/stores/{id}/bank-account",
            put(onboarding::set_bank_account),
        )
        .route("/api/v1/stores/{id}/code.png", get(posters::code_png))
        .route("/api/v1/stores/{id}/code.svg", get(posters::code_svg))
        .route("/api/v1/stores/{id}/poster.pdf", get(posters::poster))
        .route(paths::ADMIN_POSTERS, get(posters::all_posters))
        .route(paths::STORE_CHARGES, post(store_mode::charge))
        .route(paths::STORE_PAYMENTS, get(store_mode::sales))
        .route(paths::STORE_PAYMENTS_STREAM, get(store_mode::stream))
        .route(paths::STORE_STATEMENTS, get(settlement::store_statements))
        .route(
            "/api/v1/store/statements/{period}/statement.csv",
            get(settlement::store_statement_csv),
        )
        .route(
            "/api/v1/store/statements/{period}/statement.pdf",
            get(settlement::store_statement_pdf),
        )
        .route(paths::ADMIN_SETTLEMENTS, get(settlement::list))
        .route("/api/v1/admin/settlements/{period}", get(settlement::show))
        .route(
            "/api/v1/admin/settlements/{period}/close",
            post(settlement::close),
        )
        .route(
            "/api/v1/admin/settlements/{period}/zengin",
            get(settlement::zengin),
        )
        .route(
            "/api/v1/admin/settlements/{period}/statements.csv",
            get(settlement::all_statements_csv),
        )
        .route(
            "/api/v1/admin/settlements/{period}/paid",
            post(settlement::mark_all_paid),
        )
        .route(
            "/api/v1/admin/settlements/{period}/stores/{store_id}/statement.csv",
            get(settlement::statement_csv),
        )
        .route(
            "/api/v1/admin/settlements/{period}/stores/{store_id}/statement.pdf",
            get(settlement::statement_pdf),
        )
        .route(
            "/api/v1/admin/settlements/{period}/stores/{store_id}/paid",
            post(settlement::mark_paid),
        )
        .route(
            "/api/v1/admin/settlements/{period}/stores/{store_id}/returned",
            post(settlement::mark_returned),
        )
}
