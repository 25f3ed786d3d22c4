//! `safecode verify`: a code (its text, or a photo of it) checked with no server, against
//! a verifier bundle and the keys pinned for it, or against a JWKS or the keys folder.

use std::path::PathBuf;

/// The token text given, or read from the photo at that path; `Err` is the exit code.
pub(crate) fn read_code(input: &str) -> Result<String, i32> {
    if !std::path::Path::new(input).is_file() {
        return Ok(input.trim().to_owned());
    }
    let bytes = std::fs::read(input).map_err(|e| {
        eprintln!("cannot read {input}: {e}");
        2
    })?;
    safecode::qr::decode(&bytes).map_err(|e| {
        println!("invalid: {e}");
        1
    })
}

pub(crate) fn unix_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

/// Where `bundle fetch` keeps the keys it pinned for a bundle file.
pub(crate) fn trust_beside(bundle: &std::path::Path) -> PathBuf {
    bundle.with_extension("trust.json")
}

/// The keys pinned in `path`: `Ok(None)` when there is no such file yet.
pub(crate) fn read_trust(
    path: &std::path::Path,
) -> Result<Option<safecode::token::offline::Trust>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => safecode::token::offline::Trust::from_json(&t)
            .map(Some)
            .ok_or_else(|| format!("{} is not a trust file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Offline check against a verifier bundle; returns the exit code.
pub(crate) fn verify_with_bundle(
    input: &str,
    path: &std::path::Path,
    trust: &std::path::Path,
) -> i32 {
    use safecode::token::offline::{self, Bundle, ColourSource, Outcome};
    let text = match read_code(input) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let doc = match std::fs::read_to_string(path) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            return 2;
        }
    };
    let pinned = match read_trust(trust) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let checked = match &pinned {
        Some(t) => Bundle::from_json_pinned(&doc, t).map(|(b, _)| b),
        None => {
            eprintln!(
                "warning: no trusted keys at {}: the bundle's own keys are believed (fetch it with `safecode bundle fetch` to pin them)",
                trust.display()
            );
            Bundle::from_json(&doc)
        }
    };
    let bundle = match checked {
        Ok(b) => b,
        Err(e) => {
            println!("cannot verify: the bundle is refused ({e})");
            return 1;
        }
    };
    match offline::verify(&text, &bundle, chrono::Utc::now().timestamp()) {
        Outcome::Valid {
            colour,
            source,
            display,
            expires_at,
        } => {
            println!("valid");
            let from = match source {
                ColourSource::StatusList { epoch } => format!(
                    "from the status list, epoch {epoch}, signed {}",
                    unix_time(bundle.issued_at())
                ),
                ColourSource::Token => {
                    "from the code itself (newer than the bundle's status list)".to_owned()
                }
            };
            println!("colour now: {} ({from})", colour.as_str());
            let age = (chrono::Utc::now().timestamp() - bundle.issued_at()).max(0);
            println!(
                "data as of: {} ({} min old)",
                unix_time(bundle.issued_at()),
                age / 60
            );
            println!("holder: {display}");
            println!("code expires: {}", unix_time(expires_at));
            0
        }
        Outcome::Invalid { code } => {
            println!("invalid: {code}");
            1
        }
        Outcome::CannotVerify { reason } => {
            println!(
                "cannot verify: {reason} (the bundle was good until {}; fetch a new one)",
                unix_time(bundle.expires_at())
            );
            1
        }
        Outcome::ColourUnknown {
            district,
            display,
            expires_at,
        } => {
            println!("signature valid, current colour unknown offline");
            println!(
                "the code belongs to district {district}, whose status list this bundle does not carry: check online, or fetch a bundle with `--districts {district}`"
            );
            println!("holder: {display}");
            println!("code expires: {}", unix_time(expires_at));
            3
        }
    }
}

/// Offline check; returns the exit code.
pub(crate) fn verify_offline(
    input: &str,
    jwks: Option<&std::path::Path>,
    keys_dir: &std::path::Path,
) -> i32 {
    use safecode::keys::signing;
    use safecode::token;
    let usage = |msg: String| {
        eprintln!("{msg}");
        2
    };
    let text = match read_code(input) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let known = match jwks {
        Some(path) => {
            let doc = std::fs::read_to_string(path)
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok());
            match doc.as_ref().and_then(signing::known_from_jwks) {
                Some(k) => k,
                None => return usage(format!("{} is not a JWKS file", path.display())),
            }
        }
        None => match signing::known_in(keys_dir) {
            Ok(k) if !k.is_empty() => k,
            _ => {
                return usage(format!(
                    "no keys in {}; pass --keys JWKS_FILE",
                    keys_dir.display()
                ));
            }
        },
    };
    let now = chrono::Utc::now().timestamp();
    match token::verify(&text, |kid| token::keys_with(&known, kid), now) {
        Ok(v) => {
            let c = &v.claims;
            let when = |t: i64| {
                chrono::DateTime::from_timestamp(t, 0)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_default()
            };
            println!("valid");
            println!(
                "colour in the code: {} (the colour when issued; the current colour needs the server or a status list)",
                c.colour.as_str()
            );
            println!("holder: {}", c.display);
            println!(
                "issued: {}  expires: {}  key: {}",
                when(c.issued_at),
                when(c.expires_at),
                v.kid
            );
            0
        }
        Err(e) => {
            println!("invalid: {}", e.code());
            1
        }
    }
}
