//! The `safecode` command: serve, manage users, import residents, generate test data.

use anyhow::Context;
use clap::{Parser, Subcommand};
use safecode::config::Settings;
use safecode::service::users::{self, Creator, NewUserForm};
use safecode::startup::{self, Application};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "safecode",
    version,
    about = "Signed safety QR codes for flood and typhoon response"
)]
struct Cli {
    /// A TOML settings file; SAFECODE_* and DATABASE_URL override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve,
    /// Manage staff, officials and admins.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Check a code with no server and no database: a token, or a photo of one.
    /// Exit 0 valid, 1 invalid or cannot verify, 2 usage error.
    Verify {
        /// The token text (SC1:...) or the path of a PNG/JPEG image.
        token_or_image: String,
        /// A verifier bundle (`safecode bundle fetch`): gives the holder's *current* colour
        /// from its signed status list, and refuses to answer once the bundle is too old.
        #[arg(long, conflicts_with = "keys")]
        bundle: Option<PathBuf>,
        /// A JWKS file (from GET /v1/keys); without it or a bundle, the keys folder. Gives
        /// only the colour written in the code.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// With --bundle: the keys this verifier trusts (default: beside the bundle,
        /// `NAME.trust.json`, as `bundle fetch` writes it).
        #[arg(long, requires = "bundle")]
        trust: Option<PathBuf>,
    },
    /// Verifier bundles for working offline.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Signing keys in the keys folder (no database needed).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Bulk imports.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// The audit chain (same database settings as `serve`).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Tools for development and benchmarks.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the chain and check it against signed heads kept outside the database
    /// (files saved from GET /v1/audit/head, or their `cose` text). Exit 0 intact, 1 not.
    Verify {
        /// A saved signed head (repeatable).
        #[arg(long = "head")]
        heads: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user and print their bearer token alone on stdout.
    Create {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// A shelter this staff member works at (repeatable).
        #[arg(long = "shelter")]
        shelters: Vec<uuid::Uuid>,
        /// An official's district: a file holding a GeoJSON Polygon or MultiPolygon.
        #[arg(long)]
        jurisdiction: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Download a verifier bundle (staff or official token), check it, and save it.
    Fetch {
        /// The server's base URL, e.g. http://10.0.0.5:8080
        #[arg(long)]
        server: String,
        /// A staff or official bearer token.
        #[arg(long)]
        token: String,
        #[arg(long)]
        out: PathBuf,
        /// The keys this verifier trusts (default: beside OUT, `NAME.trust.json`). Pinned from
        /// the first bundle fetched; later bundles must be signed by them or by a key they
        /// vouch for.
        #[arg(long)]
        trust: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new active key (the newest active key signs).
    Generate,
    /// Show every key with its status.
    List,
    /// Add a new key and retire the active ones (they still verify their codes).
    Rotate,
    /// Stop signing with a key; codes it signed still verify until they expire.
    Retire { kid: String },
    /// Never trust a key again: codes it signed stop verifying.
    Revoke { kid: String },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Register residents from a CSV file (columns: name,id_type,id_number,phone,address,lat,lon,birth_year,needs).
    Residents { file: PathBuf },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Write synthetic residents (around Xiaoshan, Hangzhou) as CSV to stdout or a file.
    GenResidents {
        #[arg(long, default_value_t = 1000)]
        count: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Sign phone codes for the first COUNT registered residents, one token per line (for
    /// load tests that need many distinct codes).
    IssueCodes {
        #[arg(long)]
        count: i64,
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Dev {
        command: DevCommand::GenResidents { count, seed, out },
    } = &cli.command
    {
        return gen_residents(*count, *seed, out.as_deref());
    }
    if let Command::Bundle {
        command:
            BundleCommand::Fetch {
                server,
                token,
                out,
                trust,
            },
    } = &cli.command
    {
        let trust = trust.clone().unwrap_or_else(|| trust_beside(out));
        std::process::exit(fetch_bundle(server, token, out, &trust));
    }
    if let Command::Verify {
        token_or_image,
        bundle: Some(bundle),
        trust,
        ..
    } = &cli.command
    {
        let trust = trust.clone().unwrap_or_else(|| trust_beside(bundle));
        std::process::exit(verify_with_bundle(token_or_image, bundle, &trust));
    }
    let settings =
        Settings::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    if let Command::Keys { command } = &cli.command {
        return keys(&settings.keys_dir, command);
    }
    if let Command::Verify {
        token_or_image,
        keys,
        ..
    } = &cli.command
    {
        std::process::exit(verify_offline(
            token_or_image,
            keys.as_deref(),
            &settings.keys_dir,
        ));
    }
    safecode::telemetry::init(settings.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve => serve(settings).await,
            Command::Users {
                command:
                    UsersCommand::Create {
                        role,
                        name,
                        shelters,
                        jurisdiction,
                    },
            } => {
                let jurisdiction = match jurisdiction {
                    Some(f) => Some(serde_json::from_str(
                        &std::fs::read_to_string(&f)
                            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?,
                    )?),
                    None => None,
                };
                let ctx = startup::context(&settings).await?;
                let form = NewUserForm {
                    role,
                    name,
                    shelter_ids: shelters,
                    jurisdiction,
                };
                let u = users::create(&ctx, Creator::Operator, &form)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{}", u.token);
                eprintln!("created user {}", u.user_id);
                Ok(())
            }
            Command::Audit {
                command: AuditCommand::Verify { heads },
            } => audit_verify(settings, heads).await,
            Command::Import {
                command: ImportCommand::Residents { file },
            } => import(settings, file).await,
            Command::Dev {
                command: DevCommand::IssueCodes { count, out },
            } => issue_codes(settings, count, out).await,
            Command::Dev { .. }
            | Command::Keys { .. }
            | Command::Verify { .. }
            | Command::Bundle { .. } => {
                unreachable!("handled before the runtime starts")
            }
        }
    })
}

/// Exit status 1 (after printing the verdict) when the chain does not hold.
async fn audit_verify(settings: Settings, files: Vec<PathBuf>) -> anyhow::Result<()> {
    let mut heads = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
        // The JSON of GET /v1/audit/head, or its `cose` field alone.
        let cose = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v.get("cose").and_then(|c| c.as_str()).map(str::to_owned))
            .unwrap_or_else(|| text.trim().to_owned());
        heads.push(cose);
    }
    let ctx = startup::context(&settings).await?;
    let v = safecode::service::audit::verify_heads(&ctx, &heads)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    if !v.ok {
        std::process::exit(1);
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings).await?;
    if let Some(token) = &app.bootstrap_admin_token {
        // A secret, not personal data; printed once, on the terminal, never logged.
        eprintln!(
            "\nFirst start: created the first admin. Their token (shown once, keep it safe):\n\n    {token}\n"
        );
    }
    tracing::info!(
        port = app.port(),
        database = app.ctx().db.kind(),
        "safecode listening"
    );
    eprintln!(
        "safecode listening on http://{}:{}  (API docs: /docs/)",
        settings.bind.ip(),
        app.port()
    );
    app.run_until_stopped().await?;
    tracing::info!("stopped");
    Ok(())
}

async fn issue_codes(settings: Settings, count: i64, out: PathBuf) -> anyhow::Result<()> {
    use std::io::Write;
    let ctx = startup::context(&settings).await?;
    let issued = safecode::service::codes::for_first_residents(&ctx, count)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let f =
        std::fs::File::create(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for i in &issued {
        writeln!(w, "{}", i.token)?;
    }
    w.flush()?;
    eprintln!("wrote {} codes to {}", issued.len(), out.display());
    Ok(())
}

async fn import(settings: Settings, file: PathBuf) -> anyhow::Result<()> {
    let ctx = startup::context(&settings).await?;
    let f =
        std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = indicatif::ProgressBar::new(size).with_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let started = std::time::Instant::now();
    let b = bar.clone();
    let report = safecode::service::import::import_csv(
        &ctx,
        None,
        std::io::BufReader::with_capacity(1 << 20, f),
        move |n| b.set_position(n),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    for e in &report.errors {
        eprintln!("line {}: {} ({}): {}", e.line, e.field, e.code, e.reason);
    }
    if report.errors_truncated {
        eprintln!("… {} rejected lines in all", report.rejected);
    }
    eprintln!(
        "imported {}, already registered {}, rejected {} in {:.1} s ({:.0} lines/s)",
        report.imported,
        report.already_registered,
        report.rejected,
        secs,
        (report.imported + report.already_registered + report.rejected) as f64 / secs.max(1e-9)
    );
    if let Some(kib) = peak_memory_kib() {
        eprintln!("peak memory {:.0} MB", kib as f64 / 1024.0);
    }
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// The process's peak resident memory (Linux), to show that an import streams.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The token text given, or read from the photo at that path; `Err` is the exit code.
fn read_code(input: &str) -> Result<String, i32> {
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

fn unix_time(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.to_rfc3339())
        .unwrap_or_default()
}

/// Where `bundle fetch` keeps the keys it pinned for a bundle file.
fn trust_beside(bundle: &std::path::Path) -> PathBuf {
    bundle.with_extension("trust.json")
}

/// The keys pinned in `path`: `Ok(None)` when there is no such file yet.
fn read_trust(path: &std::path::Path) -> Result<Option<safecode::token::offline::Trust>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => safecode::token::offline::Trust::from_json(&t)
            .map(Some)
            .ok_or_else(|| format!("{} is not a trust file", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Offline check against a verifier bundle; returns the exit code.
fn verify_with_bundle(input: &str, path: &std::path::Path, trust: &std::path::Path) -> i32 {
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
    }
}

/// A bundle of several districts' lists is a few MiB; anything past this is not one.
const MAX_BUNDLE_BYTES: usize = 32 << 20;

/// Downloads, checks and saves a bundle; returns the exit code.
fn fetch_bundle(server: &str, token: &str, out: &std::path::Path, trust: &std::path::Path) -> i32 {
    let url = format!("{}/v1/verifier/bundle", server.trim_end_matches('/'));
    if !url.starts_with("http://") {
        eprintln!(
            "only http:// servers: this build has no TLS client. Behind TLS: curl -fsS -H 'Authorization: Bearer …' {url} > FILE"
        );
        return 2;
    }
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
        let mut res = reqwest::Client::new()
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
            eprintln!("cannot reach {url}: {e}");
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
    eprintln!(
        "saved {}: status list epoch {}, good until {}",
        out.display(),
        bundle.epoch(),
        unix_time(bundle.expires_at())
    );
    0
}

/// Offline check; returns the exit code.
fn verify_offline(input: &str, jwks: Option<&std::path::Path>, keys_dir: &std::path::Path) -> i32 {
    use safecode::keys::signing;
    use safecode::token::{self, Kid};
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
    match token::verify(
        &text,
        |kid| known.iter().filter(|k| Kid::of(&k.key) == *kid).collect(),
        now,
    ) {
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

fn keys(dir: &std::path::Path, command: &KeysCommand) -> anyhow::Result<()> {
    use safecode::keys::signing::{self, KeyStatus, Keyring};
    use safecode::token::Kid;
    let kid =
        |s: &str| Kid::from_hex(s).ok_or_else(|| anyhow::anyhow!("a kid is 16 hex characters"));
    match command {
        KeysCommand::Generate => println!("{}", signing::generate(dir)?.kid),
        KeysCommand::Rotate => println!("{}", signing::rotate(dir)?.kid),
        KeysCommand::Retire { kid: k } => signing::set_status(dir, kid(k)?, KeyStatus::Retired)?,
        KeysCommand::Revoke { kid: k } => signing::set_status(dir, kid(k)?, KeyStatus::Revoked)?,
        KeysCommand::List => {
            let ring = Keyring::open(dir)?;
            let signer = ring.signer().map(|k| k.kid);
            for k in ring.keys().iter() {
                let mark = if Some(k.kid) == signer {
                    "  (signs)"
                } else {
                    ""
                };
                println!(
                    "{}  {:?}  created {}{mark}",
                    k.kid,
                    k.status,
                    k.created_at.to_rfc3339()
                );
            }
        }
    }
    Ok(())
}

fn gen_residents(count: u64, seed: u64, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            safecode::synthetic::write_csv(
                &mut std::io::BufWriter::with_capacity(1 << 20, f),
                count,
                seed,
            )?;
        }
        None => {
            let stdout = std::io::stdout();
            safecode::synthetic::write_csv(
                &mut std::io::BufWriter::new(stdout.lock()),
                count,
                seed,
            )?;
        }
    }
    Ok(())
}
