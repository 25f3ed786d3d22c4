//! `safecode bundle fetch`: the verifier bundle downloaded from a server (the command's one
//! HTTP client), checked against the keys pinned for it, and saved.

use super::verify::{read_trust, unix_time};

/// A bundle of several districts' lists is a few MiB; anything past this is not one.
const MAX_BUNDLE_BYTES: usize = 32 << 20;

/// Downloads, checks and saves a bundle; returns the exit code.
pub(crate) fn fetch_bundle(
    server: &str,
    token: &str,
    districts: Option<&str>,
    out: &std::path::Path,
    trust: &std::path::Path,
    outbound: &safecode::outbound::OutboundSettings,
) -> i32 {
    let mut url = format!("{}/v1/verifier/bundle", server.trim_end_matches('/'));
    if let Some(d) = districts {
        if !d.chars().all(|c| c.is_ascii_digit() || c == ',') {
            eprintln!("--districts takes district numbers separated by commas, e.g. 3,5");
            return 2;
        }
        url.push_str("?districts=");
        url.push_str(d);
    }
    // A bundle fetched in plain over a shelter's Wi-Fi is what an attacker there would swap.
    let client = match safecode::outbound::Outbound::new(outbound).and_then(|o| {
        o.check(&url)?;
        o.client(std::time::Duration::from_secs(60))
    }) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    // Read in pieces and given up past the cap: a server (or whoever sits between) cannot
    // fill this machine's memory.
    let got = runtime.block_on(async {
        let mut res = client
            .get(&url)
            .bearer_auth(token)
            .timeout(std::time::Duration::from_secs(60))
            .send()
            .await?;
        let status = res.status();
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await? {
            if body.len() + chunk.len() > MAX_BUNDLE_BYTES {
                return Ok(None);
            }
            body.extend_from_slice(&chunk);
        }
        Ok::<_, reqwest::Error>(Some((status, body)))
    });
    let (status, body) = match got {
        Ok(Some(x)) => x,
        Ok(None) => {
            eprintln!(
                "{url}: the answer is larger than {} MiB: not a bundle",
                MAX_BUNDLE_BYTES >> 20
            );
            return 1;
        }
        Err(e) => {
            eprintln!("cannot reach {url}: {}", safecode::outbound::cause(&e));
            return 1;
        }
    };
    let body = String::from_utf8_lossy(&body).into_owned();
    if !status.is_success() {
        let shown: String = body.chars().take(500).collect();
        eprintln!("{url}: {status}: {shown}");
        return 1;
    }
    use safecode::token::offline::{Bundle, Trust};
    let pinned = match read_trust(trust) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let checked = match &pinned {
        Some(t) => Bundle::from_json_pinned(&body, t),
        None => Bundle::from_json(&body).map(|b| {
            let t = Trust::pin(&b);
            eprintln!(
                "first contact with {server}: pinned its {} key(s) in {} (compare with the operator's `safecode keys list`)",
                t.len(),
                trust.display()
            );
            (b, t)
        }),
    };
    let (bundle, grown) = match checked {
        Ok(x) => x,
        Err(e) => {
            eprintln!("the server sent a bundle that is refused: {e}");
            return 1;
        }
    };
    if pinned.as_ref() != Some(&grown) {
        let tmp = trust.with_extension("partial");
        if let Err(e) =
            std::fs::write(&tmp, grown.to_json()).and_then(|()| std::fs::rename(&tmp, trust))
        {
            eprintln!("cannot write {}: {e}", trust.display());
            return 1;
        }
    }
    // The bundle's time is the server's, signed: a verifier whose clock is far off would keep
    // an old bundle too long, or refuse a good one.
    if let Some(skew) =
        safecode::token::offline::clock_skew(chrono::Utc::now().timestamp(), bundle.issued_at())
    {
        eprintln!(
            "warning: this computer's clock is {} min {} the server's: set it right, or offline answers will be wrong",
            skew.abs() / 60,
            if skew > 0 { "ahead of" } else { "behind" }
        );
    }
    // Written beside and renamed, so a verifier never reads half a bundle.
    let tmp = out.with_extension("partial");
    if let Err(e) = std::fs::write(&tmp, &body).and_then(|()| std::fs::rename(&tmp, out)) {
        eprintln!("cannot write {}: {e}", out.display());
        return 1;
    }
    let carried: Vec<String> = bundle.districts().iter().map(|d| d.to_string()).collect();
    eprintln!(
        "saved {}: status list epoch {}, good until {}; districts' lists: {}",
        out.display(),
        bundle.epoch(),
        unix_time(bundle.expires_at()),
        if carried.is_empty() {
            "none".to_owned()
        } else {
            carried.join(", ")
        }
    );
    0
}
