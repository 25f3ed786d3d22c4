//! Rate limits on the endpoints worth abusing, with `governor` (GCRA, one state per key, held
//! in this process): registration per client address, code checks (verify, check-in,
//! check-out, hand-out) per token and per address, offline uploads and hazard reports per
//! token, and bad bearer tokens per address. A refused request gets 429 problem details with
//! `Retry-After`, and does nothing.
//!
//! Each limit is a middleware on the resource it guards (`http::configure`), so it applies to
//! whatever spelling of a path the router sends there (`/v1/resid%65nts` included); the token
//! is keyed by the token itself, however the `Authorization` header is spelled.
//!
//! Limits are per server process: behind a load balancer with N servers a client gets up to N
//! times the rate, which is still a bound (the limits that must hold whatever the number of
//! servers — an account's sign-in lock-out, quotas, capacity — are held by the database). The
//! client address is the TCP peer, or, when the peer is a trusted proxy
//! (`SAFECODE_TRUSTED_PROXIES`), the nearest address in `X-Forwarded-For` that is not one: so
//! behind a load balancer each client keeps its own allowance, and an address a client writes
//! into the header itself is never believed (it stands left of what the proxy appended).

use crate::config::RateLimitSettings;
use crate::http::errors::ApiError;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::RwLock;
use std::time::{Duration, Instant};

type PerIp = DefaultKeyedRateLimiter<IpAddr>;
type PerToken = DefaultKeyedRateLimiter<[u8; 32]>;

pub struct Limits {
    trusted_proxies: Vec<ipnet::IpNet>,
    register: PerIp,
    verify_ip: PerIp,
    verify_token: PerToken,
    reports: PerToken,
    sync: PerToken,
    auth_failures: PerIp,
    sign_in: PerIp,
    /// Addresses that guessed too many tokens, until when.
    blocked: RwLock<HashMap<IpAddr, Instant>>,
    /// Tokens (hashed) that worked lately: a desk behind the same address as a guesser keeps
    /// working while the guesser is held off.
    good: RwLock<HashMap<[u8; 32], Instant>>,
    clock: DefaultClock,
}

/// At most this many blocked addresses (and good tokens) are remembered.
const MAX_BLOCKED: usize = 100_000;
const GOOD_FOR: Duration = Duration::from_secs(600);
/// A good token's time is written again at most this often.
const REFRESH_GOOD: Duration = Duration::from_secs(60);

fn per_minute(n: u32) -> Quota {
    // Settings are checked to be positive; a zero would be a bug, so fall back to one.
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

/// The client's address (see the module's notes): the TCP peer unless it is a trusted proxy.
pub fn client_ip(req: &actix_web::HttpRequest, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => continue,
            Ok(ip) => return Some(ip),
            // Not an address: nothing left of it can be believed either.
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

impl Limits {
    pub fn new(s: &RateLimitSettings, trusted_proxies: &[ipnet::IpNet]) -> Option<Limits> {
        s.enabled.then(|| Limits {
            trusted_proxies: trusted_proxies.to_vec(),
            register: RateLimiter::keyed(per_minute(s.register_per_ip)),
            verify_ip: RateLimiter::keyed(per_minute(s.verify_per_ip)),
            verify_token: RateLimiter::keyed(per_minute(s.verify_per_token)),
            reports: RateLimiter::keyed(per_minute(s.reports_per_token)),
            sync: RateLimiter::keyed(per_minute(s.sync_per_token)),
            auth_failures: RateLimiter::keyed(per_minute(s.auth_failures_per_ip)),
            sign_in: RateLimiter::keyed(per_minute(s.sign_in_per_ip)),
            blocked: RwLock::new(HashMap::new()),
            good: RwLock::new(HashMap::new()),
            clock: DefaultClock::default(),
        })
    }

    /// Forgets keys whose allowance is full again, so memory follows the active clients.
    pub fn forget_idle(&self) {
        for l in [
            &self.register,
            &self.verify_ip,
            &self.auth_failures,
            &self.sign_in,
        ] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        for l in [&self.verify_token, &self.reports, &self.sync] {
            l.retain_recent();
            l.shrink_to_fit();
        }
        let now = Instant::now();
        if let Ok(mut b) = self.blocked.write() {
            b.retain(|_, until| *until > now);
        }
        if let Ok(mut g) = self.good.write() {
            g.retain(|_, seen| now.duration_since(*seen) < GOOD_FOR);
        }
    }

    fn known_good(&self, token: &[u8; 32]) -> bool {
        self.good
            .read()
            .ok()
            .and_then(|g| g.get(token).copied())
            .is_some_and(|seen| seen.elapsed() < GOOD_FOR)
    }

    fn wait<K: std::hash::Hash + Eq + Clone>(
        &self,
        l: &DefaultKeyedRateLimiter<K>,
        key: &K,
    ) -> Option<Duration> {
        l.check_key(key)
            .err()
            .map(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// What a guarded resource costs, and whom it is counted against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Registration: per client address.
    Register,
    /// A code checked at a desk: per token, else per address.
    Verify,
    /// An offline upload of many codes: per token.
    Sync,
    /// A hazard report: per token.
    Report,
    /// A password, setup link or enrolment code tried: per client address.
    SignIn,
}

/// The bearer token itself, hashed: `Bearer X`, `bearer X` and `Bearer  X` are one key.
fn token_key(req: &ServiceRequest) -> Option<[u8; 32]> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty())
        .then(|| Sha256::digest(token.as_bytes()).into())
}

impl Limits {
    fn refused(
        &self,
        class: Class,
        token: Option<[u8; 32]>,
        ip: Option<IpAddr>,
    ) -> Option<Duration> {
        match class {
            Class::Register => ip.and_then(|ip| self.wait(&self.register, &ip)),
            Class::Verify => token
                .and_then(|t| self.wait(&self.verify_token, &t))
                .or_else(|| ip.and_then(|ip| self.wait(&self.verify_ip, &ip))),
            Class::Sync => token
                .and_then(|t| self.wait(&self.sync, &t))
                .or_else(|| ip.and_then(|ip| self.wait(&self.verify_ip, &ip))),
            Class::Report => token.and_then(|t| self.wait(&self.reports, &t)),
            Class::SignIn => ip.and_then(|ip| self.wait(&self.sign_in, &ip)),
        }
    }
}

/// The limit of one resource: only its writes (POST) count.
async fn guard(
    class: Class,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limits = req.app_data::<web::Data<Option<Limits>>>().cloned();
    if let Some(limits) = limits.as_ref().and_then(|l| l.as_ref().as_ref())
        && req.method() == Method::POST
        && let Some(wait) = limits.refused(
            class,
            token_key(&req),
            client_ip(req.request(), &limits.trusted_proxies),
        )
    {
        return Ok(req.into_response(too_many(wait)));
    }
    Ok(next.call(req).await?.map_into_boxed_body())
}

pub async fn register(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(Class::Register, req, next).await
}

pub async fn verify(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(Class::Verify, req, next).await
}

pub async fn sync(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(Class::Sync, req, next).await
}

pub async fn report(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(Class::Report, req, next).await
}

pub async fn sign_in(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    guard(Class::SignIn, req, next).await
}

fn too_many(wait: Duration) -> HttpResponse {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut res = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!("too many requests; try again in {secs} s"),
    )
    .error_response();
    if let Ok(v) = header::HeaderValue::from_str(&secs.max(1).to_string()) {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// The middleware around everything: holds off an address that guessed too many tokens
/// (tokens that worked lately go on), and counts bad tokens after.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(limits) = req.app_data::<web::Data<Option<Limits>>>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let Some(limits) = limits.as_ref().as_ref() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let ip = client_ip(req.request(), &limits.trusted_proxies);
    // The token is kept only as its hash, like everywhere else.
    let token = token_key(&req);
    if let (Some(ip), Some(t)) = (ip, token) {
        let blocked_for = limits
            .blocked
            .read()
            .ok()
            .and_then(|b| b.get(&ip).copied())
            .and_then(|until| until.checked_duration_since(Instant::now()));
        if let Some(wait) = blocked_for
            && !limits.known_good(&t)
        {
            return Ok(req.into_response(too_many(wait)));
        }
    }
    let res = next.call(req).await?;
    match (res.status() == StatusCode::UNAUTHORIZED, token, ip) {
        (true, Some(_), Some(ip)) => {
            if let Some(wait) = limits.wait(&limits.auth_failures, &ip)
                && let Ok(mut blocked) = limits.blocked.write()
                && blocked.len() < MAX_BLOCKED
            {
                blocked.insert(ip, Instant::now() + wait.max(Duration::from_secs(1)));
            }
        }
        (false, Some(t), _) => {
            // Every good request passes here (scans, check-ins): a shared read answers the
            // common case, a token seen in the last minute; only news takes the write lock.
            let fresh = limits
                .good
                .read()
                .ok()
                .and_then(|g| g.get(&t).copied())
                .is_some_and(|seen| seen.elapsed() < REFRESH_GOOD);
            if !fresh
                && let Ok(mut good) = limits.good.write()
                && (good.len() < MAX_BLOCKED || good.contains_key(&t))
            {
                good.insert(t, Instant::now());
            }
        }
        _ => {}
    }
    Ok(res.map_into_boxed_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_nearest_address_no_trusted_proxy_added() {
        use actix_web::test::TestRequest;
        let proxy: IpAddr = "10.9.0.3".parse().unwrap();
        let trusted: Vec<ipnet::IpNet> = vec!["10.9.0.0/24".parse().unwrap()];
        let via = |peer: &str, xff: &[&str]| {
            let mut r = TestRequest::default().peer_addr(format!("{peer}:40000").parse().unwrap());
            for h in xff {
                r = r.append_header(("X-Forwarded-For", *h));
            }
            client_ip(&r.to_http_request(), &trusted).map(|ip| ip.to_string())
        };
        // Straight from a client: the peer, whatever the header claims.
        assert_eq!(
            via("203.0.113.7", &["6.6.6.6"]).as_deref(),
            Some("203.0.113.7")
        );
        // Through the proxy: the address it appended, not the one the client wrote.
        assert_eq!(
            via(&proxy.to_string(), &["6.6.6.6, 203.0.113.7"]).as_deref(),
            Some("203.0.113.7")
        );
        assert_eq!(
            via(&proxy.to_string(), &["6.6.6.6", "203.0.113.7, 10.9.0.4"]).as_deref(),
            Some("203.0.113.7")
        );
        // Garbage stops the walk at the proxy; no header at all is the proxy itself.
        assert_eq!(
            via(&proxy.to_string(), &["not-an-ip"]).as_deref(),
            Some("10.9.0.3")
        );
        assert_eq!(via(&proxy.to_string(), &[]).as_deref(), Some("10.9.0.3"));
        // Trusting nobody: the peer.
        let r = TestRequest::default()
            .peer_addr("10.9.0.3:1".parse().unwrap())
            .append_header(("X-Forwarded-For", "203.0.113.7"))
            .to_http_request();
        assert_eq!(client_ip(&r, &[]), Some(proxy));
    }

    #[test]
    fn a_key_gets_its_quota_then_waits() {
        let l = Limits::new(
            &RateLimitSettings {
                register_per_ip: 3,
                ..RateLimitSettings::default()
            },
            &[],
        )
        .unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            assert_eq!(l.wait(&l.register, &ip), None);
        }
        let wait = l.wait(&l.register, &ip).expect("the fourth waits");
        assert!(
            wait > Duration::from_secs(10) && wait <= Duration::from_secs(20),
            "{wait:?}"
        );
        assert_eq!(
            l.wait(&l.register, &other),
            None,
            "another address is not held up"
        );
        assert!(Limits::new(&RateLimitSettings::off(), &[]).is_none());
    }
}
