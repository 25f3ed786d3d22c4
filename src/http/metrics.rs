//! Prometheus metrics and the per-request log line, from one middleware.

use crate::service::Ctx;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderValue;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};
use std::time::Instant;
use tracing::Instrument;

pub struct Metrics {
    registry: Registry,
    codes: IntCounterVec,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by route and status"),
            &["method", "route", "status"],
        )
        .expect("static metric definition");
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency").buckets(
                vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0,
                ],
            ),
            &["method", "route"],
        )
        .expect("static metric definition");
        let pool = IntGaugeVec::new(
            Opts::new("db_pool_connections", "database pool connections by state"),
            &["state"],
        )
        .expect("static metric definition");
        let codes = IntCounterVec::new(
            Opts::new("codes_issued_total", "signed codes issued, by format"),
            &["format"],
        )
        .expect("static metric definition");
        for c in [
            Box::new(codes.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(requests.clone()),
            Box::new(latency.clone()),
            Box::new(pool.clone()),
        ] {
            registry.register(c).expect("metric registered once");
        }
        Self {
            registry,
            codes,
            requests,
            latency,
            pool,
        }
    }

    pub fn code_issued(&self, format: &str) {
        self.codes.with_label_values(&[format]).inc();
    }

    pub fn render(&self, ctx: &Ctx) -> String {
        let (size, idle) = ctx.db.pool_usage();
        self.pool.with_label_values(&["open"]).set(i64::from(size));
        self.pool.with_label_values(&["idle"]).set(idle as i64);
        self.pool
            .with_label_values(&["in_use"])
            .set(i64::from(size) - idle as i64);
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut out);
        let mut text = String::from_utf8(out).unwrap_or_default();
        let (scans, batches) = ctx.scans.counts();
        text.push_str(&format!(
            "# HELP scans_batched_total scanned codes checked in batches\n\
             # TYPE scans_batched_total counter\nscans_batched_total {scans}\n\
             # HELP scan_batches_total batches scanned codes were checked in\n\
             # TYPE scan_batches_total counter\nscan_batches_total {batches}\n"
        ));
        if let Some(f) = &ctx.fresh_facts {
            use std::sync::atomic::Ordering::Relaxed;
            text.push_str(&format!(
                "# HELP fresh_facts_hits_total scanned residents whose facts were kept (no database read)\n\
                 # TYPE fresh_facts_hits_total counter\nfresh_facts_hits_total {}\n\
                 # HELP fresh_facts_misses_total scanned residents whose facts were read\n\
                 # TYPE fresh_facts_misses_total counter\nfresh_facts_misses_total {}\n\
                 # HELP fresh_facts_bypassed_total batches that could use no kept facts (feed behind, a write here in flight, an expiry being read)\n\
                 # TYPE fresh_facts_bypassed_total counter\nfresh_facts_bypassed_total {}\n\
                 # HELP fresh_facts_kept residents whose facts are kept now\n\
                 # TYPE fresh_facts_kept gauge\nfresh_facts_kept {}\n",
                f.hits.load(Relaxed),
                f.misses.load(Relaxed),
                f.bypassed.load(Relaxed),
                f.kept(),
            ));
        }
        if let Some(r) = &ctx.replica {
            use std::sync::atomic::Ordering::Relaxed;
            text.push_str(&format!(
                "# HELP replica_lag_ms how far the read replica was behind the primary at its last probe (-1: unknown)\n\
                 # TYPE replica_lag_ms gauge\nreplica_lag_ms {}\n\
                 # HELP replica_fresh whether reads go to the replica (its lag is within read_max_lag_ms)\n\
                 # TYPE replica_fresh gauge\nreplica_fresh {}\n\
                 # HELP replica_reads_total reads sent to the replica\n\
                 # TYPE replica_reads_total counter\nreplica_reads_total {}\n\
                 # HELP replica_fallbacks_total reads that went to the primary because the replica was behind\n\
                 # TYPE replica_fallbacks_total counter\nreplica_fallbacks_total {}\n",
                r.lag_ms(),
                u8::from(r.is_fresh()),
                r.reads.load(Relaxed),
                r.fallbacks.load(Relaxed),
            ));
        }
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Counts and times every request and logs one line for it, under a request id that is also
/// returned as `X-Request-Id`. Only the route pattern is logged, never the path with its ids,
/// the query string, the body or the client address.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    // Labels come from closed sets: a made-up method or an unmatched path is one series each,
    // whatever a client sends.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_owned(),
        _ => "OTHER".to_owned(),
    };
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let span = tracing::info_span!("request", id = %request_id);
    let mut res = next.call(req).instrument(span.clone()).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    if let Some(m) = metrics {
        m.requests
            .with_label_values(&[method.as_str(), route.as_str(), &status.to_string()])
            .inc();
        m.latency
            .with_label_values(&[method.as_str(), route.as_str()])
            .observe(elapsed.as_secs_f64());
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            v,
        );
    }
    span.in_scope(|| {
        tracing::info!(
            method,
            route,
            status,
            ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        )
    });
    Ok(res)
}

pub async fn metrics(ctx: web::Data<Ctx>, m: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(m.render(&ctx))
}
