//! Prometheus metrics: requests by method and code, latency, logins, rate
//! limit rejections and the password-hashing queue. Labels are bounded: the
//! method label is a known RPC path or `unknown`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

/// Cumulative counters at one instant.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: i64,
    logins_ok: u64,
    logins_failed: u64,
    refused: u64,
}

type HistogramFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    logins: Family<OutcomeLabels, Counter>,
    rate_limited: Counter,
    history: std::sync::Mutex<std::collections::VecDeque<Sample>>,
    hash_queue: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mcias");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let logins = Family::<OutcomeLabels, Counter>::default();
        let rate_limited = Counter::default();
        let hash_queue = Gauge::default();
        registry.register(
            "requests",
            "RPCs handled, by method and gRPC code",
            requests.clone(),
        );
        registry.register("request_duration_seconds", "RPC latency", latency.clone());
        registry.register("logins", "Login attempts by outcome", logins.clone());
        registry.register(
            "rate_limited",
            "Requests refused by the per-IP rate limit",
            rate_limited.clone(),
        );
        registry.register(
            "password_hash_queue_depth",
            "Password hashes running or waiting",
            hash_queue.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            logins,
            rate_limited,
            hash_queue,
            history: std::sync::Mutex::new(std::collections::VecDeque::new()),
        }
    }
}

impl Metrics {
    /// Records one finished RPC.
    pub fn record(&self, method: &str, grpc_code: &str, seconds: f64, is_login: bool) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                code: grpc_code.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&MethodLabels {
                method: method.to_owned(),
            })
            .observe(seconds);
        if is_login {
            let outcome = if grpc_code == "0" {
                "success"
            } else {
                "failure"
            };
            self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
        }
    }

    /// Counts a sign-in on the pages (the API's are counted by `record`).
    pub fn page_login(&self, success: bool) {
        let outcome = if success { "success" } else { "failure" };
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Takes a sample of the sign-in and refusal counters (once a minute);
    /// the last hour is kept for the console.
    pub fn sample(&self, now: i64) {
        let get = |outcome| self.logins.get_or_create(&OutcomeLabels { outcome }).get();
        let s = Sample {
            at: now,
            logins_ok: get("success"),
            logins_failed: get("failure"),
            refused: self.rate_limited.get(),
        };
        let mut h = match self.history.lock() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        h.push_back(s);
        while h.len() > 61 {
            h.pop_front();
        }
    }

    /// Per-minute counts over the last hour, oldest first: (minute start,
    /// sign-ins, failed sign-ins, rate-limit refusals).
    pub fn last_hour(&self) -> Vec<(i64, u64, u64, u64)> {
        let h = match self.history.lock() {
            Ok(h) => h,
            Err(p) => p.into_inner(),
        };
        h.iter()
            .zip(h.iter().skip(1))
            .map(|(a, b)| {
                (
                    a.at,
                    b.logins_ok.saturating_sub(a.logins_ok),
                    b.logins_failed.saturating_sub(a.logins_failed),
                    b.refused.saturating_sub(a.refused),
                )
            })
            .collect()
    }

    /// Counts a rate-limit rejection.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The text exposition, with the hashing queue depth sampled now.
    pub fn render(&self, hash_queue_depth: usize) -> String {
        self.hash_queue
            .set(i64::try_from(hash_queue_depth).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
