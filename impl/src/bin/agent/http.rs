//! The agent's HTTP server: the JSON API, the live feed (server-sent events), Prometheus
//! metrics and the dashboard page.
//!
//! | route | |
//! |---|---|
//! | `GET /` | the dashboard |
//! | `GET /v1/members` | the member table, JSON |
//! | `GET /v1/log` | the recent member events and messages, JSON |
//! | `GET /v1/events` | SSE: a `snapshot` (table and recent log), then one `entry` per event or message |
//! | `POST /v1/broadcast` | `{"text": "..."}`: gossip the text to every member |
//! | `GET /metrics` | Prometheus text |

use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{Stream, StreamExt, stream};
use metrics_exporter_prometheus::PrometheusHandle;
use swim_checked::{UserKind, UserMessage};
use tokio::sync::broadcast::error::RecvError;

use crate::api::{ApiError, BroadcastRequest, Entry, MemberJson};
use crate::hub::Hub;

/// The dashboard: one page, no build step (dashboard.html).
const DASHBOARD: &str = include_str!("dashboard.html");

#[derive(Clone, Debug)]
struct App {
    hub: Arc<Hub>,
    metrics: PrometheusHandle,
}

pub fn router(hub: Arc<Hub>, metrics: PrometheusHandle) -> Router {
    Router::new()
        .route("/", get(dashboard))
        .route("/v1/members", get(members))
        .route("/v1/log", get(log))
        .route("/v1/events", get(events))
        .route("/v1/broadcast", post(broadcast))
        .route("/metrics", get(prometheus))
        .with_state(App { hub, metrics })
}

async fn dashboard() -> Html<&'static str> {
    Html(DASHBOARD)
}

async fn members(State(app): State<App>) -> Json<Vec<MemberJson>> {
    Json(app.hub.members())
}

async fn log(State(app): State<App>) -> Json<Vec<Entry>> {
    Json(app.hub.log())
}

/// The snapshot, then every new entry; a subscriber that fell behind gets a fresh snapshot.
async fn events(State(app): State<App>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (snapshot, rx) = app.hub.subscribe();
    let first = stream::once(async move { json_event("snapshot", &snapshot) });
    let rest = stream::unfold((app.hub, rx), |(hub, mut rx)| async move {
        let event = match rx.recv().await {
            Ok(entry) => json_event("entry", &*entry),
            Err(RecvError::Lagged(_)) => {
                let (snapshot, fresh) = hub.subscribe();
                rx = fresh;
                json_event("snapshot", &snapshot)
            }
            Err(RecvError::Closed) => return None,
        };
        Some((event, (hub, rx)))
    });
    Sse::new(first.chain(rest)).keep_alive(KeepAlive::default())
}

fn json_event(name: &str, value: &impl serde::Serialize) -> Result<Event, Infallible> {
    let data = serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    Ok(Event::default().event(name).data(data))
}

async fn broadcast(
    State(app): State<App>,
    request: Result<Json<BroadcastRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Entry>), Response> {
    // A body that is not `{"text": ...}`: the same JSON error shape as the node's refusals.
    let Json(request) = request.map_err(|e| {
        let body = ApiError {
            error: e.body_text(),
        };
        (e.status(), Json(body)).into_response()
    })?;
    let node = app.hub.node();
    node.broadcast(request.text.clone()).await.map_err(|e| {
        let status = match e {
            swim_checked::Error::Stopped => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        };
        let body = ApiError {
            error: e.to_string(),
        };
        (status, Json(body)).into_response()
    })?;
    // The sender does not receive its own broadcast: log it here so its page shows it too.
    let entry = app.hub.record_message(&UserMessage {
        from: node.id(),
        kind: UserKind::Broadcast,
        payload: request.text.into_bytes(),
    });
    Ok((StatusCode::ACCEPTED, Json(entry)))
}

async fn prometheus(State(app): State<App>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}
