//! PD's HTTP API, served on the same port as gRPC (HTTP/1.1 and h2c side by side), for tools and
//! test suites that read the cluster's state: `GET /pd/api/v1/regions`, `/pd/api/v1/stores`
//! (with each store's `state_name` and leader and region counts), `/pd/api/v1/operators` (the
//! running operators), `/pd/api/v1/version`. Keys are upper-case hex, as upstream PD prints
//! them.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use basalt_proto::metapb;
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::cluster::Cluster;
use crate::region::RegionInfo;
use crate::schedule::{Operator, StoreStatus};

type Shared = Arc<Mutex<Cluster>>;

/// `grpc` (the gRPC services' router) with the HTTP routes over `cluster` beside it. Unknown
/// paths answer gRPC's `Unimplemented` to gRPC callers and 404 to everyone else.
pub fn with_http_api(grpc: Router, cluster: Shared) -> Router {
    let http = Router::new()
        .route("/pd/api/v1/regions", get(regions))
        .route("/pd/api/v1/stores", get(stores))
        .route("/pd/api/v1/operators", get(operators))
        .route("/pd/api/v1/version", get(version))
        .with_state(cluster);
    grpc.merge(http).fallback(fallback)
}

async fn fallback(request: Request) -> Response {
    let grpc = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/grpc"));
    if grpc {
        tonic::Status::unimplemented(format!("{} is not served", request.uri().path()))
            .into_http::<Body>()
    } else {
        (StatusCode::NOT_FOUND, "not found\n").into_response()
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02X}");
    }
    out
}

fn peer_json(peer: &metapb::Peer) -> Value {
    json!({ "id": peer.id, "store_id": peer.store_id, "role": peer.role })
}

fn region_json(info: &RegionInfo) -> Value {
    let epoch = info.region.region_epoch.unwrap_or_default();
    json!({
        "id": info.region.id,
        "start_key": hex_upper(&info.region.start_key),
        "end_key": hex_upper(&info.region.end_key),
        "epoch": { "conf_ver": epoch.conf_ver, "version": epoch.version },
        "peers": info.region.peers.iter().map(peer_json).collect::<Vec<_>>(),
        "leader": info.leader.as_ref().map(peer_json),
        "approximate_size": info.stats.approximate_size,
        "approximate_keys": info.stats.approximate_keys,
    })
}

async fn regions(State(cluster): State<Shared>) -> Json<Value> {
    // Before bootstrap there are no regions.
    let infos = cluster
        .lock()
        .scan_regions(b"", b"", usize::MAX)
        .unwrap_or_default();
    let regions: Vec<Value> = infos.iter().map(region_json).collect();
    Json(json!({ "count": regions.len(), "regions": regions }))
}

fn store_json(status: &StoreStatus) -> Value {
    let store = &status.store;
    json!({
        "store": {
            "id": store.id,
            "address": store.address,
            "status_address": store.status_address,
            "version": store.version,
            "state": store.state,
            "state_name": status.state.name(),
        },
        "status": {
            "leader_count": status.load.leaders,
            "region_count": status.load.regions,
            "last_heartbeat": store.last_heartbeat,
            "seconds_since_seen": status.silent_for.as_secs(),
        },
    })
}

async fn stores(State(cluster): State<Shared>) -> Json<Value> {
    // Before bootstrap there are no stores.
    let statuses = cluster
        .lock()
        .store_statuses(Instant::now())
        .unwrap_or_default();
    let stores: Vec<Value> = statuses.iter().map(store_json).collect();
    Json(json!({ "count": stores.len(), "stores": stores }))
}

fn operator_json(operator: &Operator, now: Instant) -> Value {
    json!({
        "region_id": operator.region_id(),
        "desc": operator.desc(),
        "kind": operator.kind().name(),
        "step": operator.current_step().map(ToString::to_string),
        "step_index": operator.step_index(),
        "steps": operator.steps().iter().map(ToString::to_string).collect::<Vec<_>>(),
        "age_ms": u64::try_from(operator.age(now).as_millis()).unwrap_or(u64::MAX),
    })
}

async fn operators(State(cluster): State<Shared>) -> Json<Value> {
    let now = Instant::now();
    let operators = cluster.lock().operators();
    Json(Value::Array(
        operators
            .iter()
            .map(|operator| operator_json(operator, now))
            .collect(),
    ))
}

async fn version() -> Json<Value> {
    Json(json!({ "version": env!("CARGO_PKG_VERSION") }))
}
