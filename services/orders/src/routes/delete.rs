//! `DELETE /api/orders/:orderId` → 204; the order is cancelled and `order:cancelled` published.
//!
//! Cancelling is idempotent: an order that is already cancelled answers 204 again and publishes
//! nothing. A paid (`complete`) order cannot be cancelled.

use axum::extract::State;
use axum::http::StatusCode;
use common::mongo::PathId;
use common::{AppError, AppResult, RequireUser};

use crate::app::AppState;
use crate::store::Cancelled;

pub const CANNOT_CANCEL_COMPLETE: &str = "Cannot cancel a completed order";

#[utoipa::path(
    delete,
    path = "/api/orders/{orderId}",
    operation_id = "deleteOrder",
    tag = "orders",
    security(("session" = [])),
    params(("orderId" = String, Path, description = "The order's id")),
    responses(
        (status = 204, description = "Cancelled (now, or already before); `order:cancelled` is published \
            once. The order is not removed: it reads as `cancelled` from then on"),
        (status = 400, description = "`Cannot cancel a completed order`", body = common::ErrorBody),
        (status = 401, description = "Not signed in, or not the order's owner", body = common::ErrorBody),
        (status = 404, description = "No such order (or a malformed id)", body = common::ErrorBody),
    ),
)]
pub async fn handler(
    State(state): State<AppState>,
    user: RequireUser,
    PathId(order_id): PathId,
) -> AppResult<StatusCode> {
    let order = super::owned_order(&state, &user, order_id).await?;
    match state.store.cancel(order.id).await? {
        Cancelled::Now(order) => {
            tracing::info!(order = %order.id, "order cancelled by its owner");
            Ok(StatusCode::NO_CONTENT)
        }
        Cancelled::Already(_) => Ok(StatusCode::NO_CONTENT),
        Cancelled::Complete(_) => Err(AppError::bad_request(CANNOT_CANCEL_COMPLETE)),
        Cancelled::NotFound => Err(AppError::NotFound),
    }
}
