//! Every request safecode makes to another server (the alert webhook, a verifier's bundle
//! fetch): HTTPS through rustls with its `ring` provider, trusting the Mozilla roots
//! (`webpki-roots`, built in: no system store needed on a bare host) and, optionally, a
//! province's own CA from a PEM file. Plain `http://` is refused, except to this machine when
//! explicitly allowed (a test receiver on loopback).

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("cannot read the extra CA file {path}: {reason}")]
    CaFile { path: String, reason: String },
    #[error("{0} is not an https:// address")]
    NotHttps(String),
    #[error(
        "{0} is plain http://: allowed only to this machine (127.0.0.1, ::1, localhost) with allow_plain_http = loopback"
    )]
    PlainHttp(String),
    #[error("{0} is not an address")]
    BadUrl(String),
    #[error("cannot build the HTTPS client: {0}")]
    Client(String),
}

/// Makes `ring` the process's TLS provider (once; later calls do nothing): any HTTPS client
/// or server in the process, ours or a library's, then uses the same one.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Whether plain HTTP may be used, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainHttp {
    /// Never (the default).
    #[default]
    Refused,
    /// Only to a loopback address: a test receiver on this machine.
    Loopback,
}

/// What the outbound side is configured with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundSettings {
    /// PEM certificates of CAs trusted besides the built-in roots.
    pub extra_ca: Option<PathBuf>,
    pub plain_http: PlainHttp,
}

fn loopback(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// Checks an address safecode is to call: `https://`, or `http://` to loopback when allowed.
pub fn check_url(raw: &str, plain: PlainHttp) -> Result<reqwest::Url, OutboundError> {
    let url = reqwest::Url::parse(raw).map_err(|_| OutboundError::BadUrl(raw.to_owned()))?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if plain == PlainHttp::Loopback && loopback(&url) => Ok(url),
        "http" => Err(OutboundError::PlainHttp(raw.to_owned())),
        _ => Err(OutboundError::NotHttps(raw.to_owned())),
    }
}

/// The TLS configuration every outbound client shares.
#[derive(Debug, Clone)]
pub struct Outbound {
    tls: Arc<rustls::ClientConfig>,
    plain: PlainHttp,
    /// The PEM certificates trusted besides the built-in roots, for clients that build their
    /// own TLS (SMTP).
    pub extra_ca_pem: Option<Arc<Vec<u8>>>,
}

impl Outbound {
    pub fn new(s: &OutboundSettings) -> Result<Self, OutboundError> {
        install_crypto();
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = &s.extra_ca {
            let ca_error = |reason: String| OutboundError::CaFile {
                path: path.display().to_string(),
                reason,
            };
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| ca_error(e.to_string()))?
                .collect::<Result<_, _>>()
                .map_err(|e| ca_error(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_error("no certificate in it".into()));
            }
            for c in certs {
                roots.add(c).map_err(|e| ca_error(e.to_string()))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OutboundError::Client(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let extra_ca_pem = match &s.extra_ca {
            Some(p) => Some(Arc::new(std::fs::read(p).map_err(|e| {
                OutboundError::CaFile {
                    path: p.display().to_string(),
                    reason: e.to_string(),
                }
            })?)),
            None => None,
        };
        Ok(Self {
            tls: Arc::new(tls),
            plain: s.plain_http,
            extra_ca_pem,
        })
    }

    pub fn check(&self, url: &str) -> Result<reqwest::Url, OutboundError> {
        check_url(url, self.plain)
    }

    /// A client with this trust, giving up on a request after `timeout`. Redirects are not
    /// followed: a receiver that moved must be configured anew, not followed to plain HTTP.
    pub fn client(&self, timeout: Duration) -> Result<reqwest::Client, OutboundError> {
        reqwest::Client::builder()
            .use_preconfigured_tls((*self.tls).clone())
            .https_only(self.plain == PlainHttp::Refused)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| OutboundError::Client(describe(&e)))
    }
}

/// A failed request in words a person can act on: the whole chain of causes, so that "invalid
/// peer certificate: UnknownIssuer" is not hidden behind "error sending request".
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cause = c.source();
    }
    out
}

/// A failed request's cause without its address (a receiver's URL may carry a secret, such as
/// a robot's access token).
pub fn cause(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(inner) => format!("{what}: {}", describe(inner)),
        None => what.to_owned(),
    }
}

/// Reads PEM certificates (the leaf first) and a private key: for the server's own HTTPS.
pub fn read_identity(
    cert: &Path,
    key: &Path,
) -> Result<
    (
        Vec<CertificateDer<'static>>,
        rustls_pki_types::PrivateKeyDer<'static>,
    ),
    String,
> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{}: {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{}: {e}", key.display()))?;
    Ok((certs, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_goes_out_and_plain_http_only_to_loopback_when_allowed() {
        assert!(check_url("https://hub.example.gov.cn/x", PlainHttp::Refused).is_ok());
        assert!(matches!(
            check_url("http://hub.example.gov.cn/x", PlainHttp::Refused),
            Err(OutboundError::PlainHttp(_))
        ));
        assert!(matches!(
            check_url("http://hub.example.gov.cn/x", PlainHttp::Loopback),
            Err(OutboundError::PlainHttp(_))
        ));
        for ok in [
            "http://127.0.0.1:9/x",
            "http://[::1]:9/",
            "http://localhost/",
        ] {
            assert!(check_url(ok, PlainHttp::Loopback).is_ok(), "{ok}");
            assert!(check_url(ok, PlainHttp::Refused).is_err(), "{ok}");
        }
        // Names that merely start like loopback are not.
        assert!(check_url("http://127.0.0.1.example.com/", PlainHttp::Loopback).is_err());
        assert!(check_url("http://localhost.example.com/", PlainHttp::Loopback).is_err());
        assert!(matches!(
            check_url("ftp://example.com/", PlainHttp::Loopback),
            Err(OutboundError::NotHttps(_))
        ));
        assert!(matches!(
            check_url("not a url", PlainHttp::Loopback),
            Err(OutboundError::BadUrl(_))
        ));
    }

    #[test]
    fn an_extra_ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let err = Outbound::new(&OutboundSettings {
            extra_ca: Some(empty),
            plain_http: PlainHttp::Refused,
        })
        .unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        let missing = Outbound::new(&OutboundSettings {
            extra_ca: Some(dir.path().join("nope.pem")),
            plain_http: PlainHttp::Refused,
        })
        .unwrap_err();
        assert!(matches!(missing, OutboundError::CaFile { .. }));
    }
}
