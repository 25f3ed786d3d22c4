//! HTTPS on safecode's own port, for a small deployment with no reverse proxy: rustls with
//! `ring`, the certificate and key read from PEM files and read again when either file
//! changes, so a renewed certificate (certbot, a province's CA) needs no restart. A renewal
//! caught half-written keeps the old certificate until the files read whole.

use crate::config::TlsSettings;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// Files are looked at no more often than this (a handshake costs one `stat` at most then).
const LOOK_EVERY: Duration = Duration::from_secs(2);

type Stamp = Option<(SystemTime, u64, SystemTime, u64)>;

fn stamp(s: &TlsSettings) -> Stamp {
    let meta = |p: &std::path::Path| {
        std::fs::metadata(p)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())))
    };
    let (c, k) = (meta(&s.cert)?, meta(&s.key)?);
    Some((c.0, c.1, k.0, k.1))
}

fn load(s: &TlsSettings) -> Result<Arc<CertifiedKey>, String> {
    let (certs, key) = crate::outbound::read_identity(&s.cert, &s.key)?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| format!("{}: {e}", s.key.display()))?;
    let ck = CertifiedKey::new(certs, signing);
    // A key that does not belong to the certificate would fail every handshake.
    ck.keys_match()
        .map_err(|e| format!("{} and {}: {e}", s.cert.display(), s.key.display()))?;
    Ok(Arc::new(ck))
}

#[derive(Debug)]
struct Current {
    stamp: Stamp,
    looked: Instant,
    key: Arc<CertifiedKey>,
}

/// Hands rustls the certificate of the moment.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsSettings,
    current: RwLock<Current>,
}

impl ReloadingCert {
    /// Reads the files once; a start with unreadable ones stops with their names.
    pub fn new(files: &TlsSettings) -> Result<Self, String> {
        let key = load(files)?;
        Ok(Self {
            current: RwLock::new(Current {
                stamp: stamp(files),
                looked: Instant::now(),
                key,
            }),
            files: files.clone(),
        })
    }

    fn refresh(&self) {
        let due = self
            .current
            .read()
            .map(|c| c.looked.elapsed() >= LOOK_EVERY)
            .unwrap_or(false);
        if !due {
            return;
        }
        let Ok(mut c) = self.current.write() else {
            return;
        };
        c.looked = Instant::now();
        let now = stamp(&self.files);
        if now == c.stamp {
            return;
        }
        match load(&self.files) {
            Ok(key) => {
                c.key = key;
                c.stamp = now;
                tracing::info!("TLS certificate reloaded");
            }
            // Looked at again at the next interval: a renewal being written finishes.
            Err(e) => {
                tracing::warn!(error = %e, "the changed TLS files do not read; keeping the old certificate")
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        self.current.read().ok().map(|c| c.key.clone())
    }
}

/// The server's TLS configuration over the reloading certificate.
pub fn server_config(files: &TlsSettings) -> Result<rustls::ServerConfig, String> {
    let resolver = Arc::new(ReloadingCert::new(files)?);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(resolver))
}
