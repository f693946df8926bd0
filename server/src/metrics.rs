//! Prometheus metrics and the `/metrics` HTTP endpoint.

use std::cell::RefCell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Instant;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response};
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry,
    TextEncoder,
};

/// The process's metrics.
pub struct Metrics {
    registry: Registry,
    /// `basalt_grpc_requests_total{method, result}`.
    pub requests: IntCounterVec,
    /// `basalt_grpc_request_duration_seconds{method}`.
    pub durations: HistogramVec,
}

/// The process-wide metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "basalt_grpc_requests_total",
                "KV gRPC requests by method and outcome",
            ),
            &["method", "result"],
        )
        .expect("metric options are static and valid");
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "basalt_grpc_request_duration_seconds",
                "KV gRPC request latency",
            )
            .buckets(prometheus::exponential_buckets(0.0001, 2.0, 18).expect("static buckets")),
            &["method"],
        )
        .expect("metric options are static and valid");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(durations.clone()))
            .expect("registered once");
        Metrics {
            registry,
            requests,
            durations,
        }
    })
}

/// Times one request; call `finish` with its outcome.
pub struct RequestTimer {
    method: &'static str,
    start: Instant,
}

impl RequestTimer {
    /// Starts timing `method`.
    pub fn start(method: &'static str) -> Self {
        RequestTimer {
            method,
            start: Instant::now(),
        }
    }

    /// Records the request as `result` ("ok", "region_error", "key_error", "error").
    pub fn finish(self, result: &'static str) {
        self.finish_each([result]);
    }

    /// Records requests run together, as long as the timer ran, each with its result.
    pub fn finish_each(self, results: impl IntoIterator<Item = &'static str>) {
        let seconds = self.start.elapsed().as_secs_f64();
        HANDLES.with(|handles| {
            let mut handles = handles.borrow_mut();
            let Handles {
                durations,
                requests,
            } = &mut *handles;
            let duration = durations
                .entry(self.method)
                .or_insert_with(|| metrics().durations.with_label_values(&[self.method]));
            for result in results {
                duration.observe(seconds);
                requests
                    .entry((self.method, result))
                    .or_insert_with(|| metrics().requests.with_label_values(&[self.method, result]))
                    .inc();
            }
        });
    }
}

/// Metric handles by label, looked up once per thread rather than on every request.
#[derive(Default)]
struct Handles {
    durations: HashMap<&'static str, Histogram>,
    requests: HashMap<(&'static str, &'static str), IntCounter>,
}

thread_local! {
    static HANDLES: RefCell<Handles> = RefCell::default();
}

/// Renders every metric in the Prometheus text format.
pub fn render() -> String {
    let mut buffer = Vec::new();
    let families = metrics().registry.gather();
    if TextEncoder::new().encode(&families, &mut buffer).is_err() {
        return String::new();
    }
    String::from_utf8(buffer).unwrap_or_default()
}

async fn handle(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = if request.uri().path() == "/metrics" {
        Response::builder()
            .header("content-type", "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(render())))
    } else {
        Response::builder()
            .status(404)
            .body(Full::new(Bytes::from_static(b"not found\n")))
    };
    Ok(response.unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// Serves `/metrics` on `listener` until the task is dropped.
pub async fn serve(listener: tokio::net::TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(handle);
            if let Err(err) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(%err, "metrics connection ended");
            }
        });
    }
}

/// Binds the status address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(method: &str, result: &str) -> u64 {
        metrics()
            .requests
            .with_label_values(&[method, result])
            .get()
    }

    fn observations(method: &str) -> u64 {
        metrics()
            .durations
            .with_label_values(&[method])
            .get_sample_count()
    }

    #[test]
    fn timers_count_each_request_by_result() {
        let method = "test_timers_count_each_request_by_result";
        RequestTimer::start(method).finish("ok");
        RequestTimer::start(method).finish_each(["ok", "region_error", "ok"]);
        // Another thread has handles of its own, and adds to the same series.
        std::thread::spawn(move || RequestTimer::start(method).finish("error"))
            .join()
            .unwrap();
        assert_eq!(count(method, "ok"), 3);
        assert_eq!(count(method, "region_error"), 1);
        assert_eq!(count(method, "error"), 1);
        assert_eq!(count(method, "key_error"), 0);
        assert_eq!(observations(method), 5);
        let text = render();
        let line = format!("basalt_grpc_requests_total{{method=\"{method}\",result=\"ok\"}} 3");
        assert!(text.contains(&line), "{text}");
    }
}
