//! The `safecode` command: serve, manage users, import residents, generate test data.

use anyhow::Context;
use clap::{Parser, Subcommand};
use safecode::config::Settings;
use safecode::service::sign_in;
use safecode::service::users::{self, Creator, NewUserForm};
use safecode::startup::{self, Application};
use std::path::PathBuf;

mod cli;
use cli::fetch::fetch_bundle;
use cli::verify::{trust_beside, verify_offline, verify_with_bundle};

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
    /// Privacy after the all-clear (same database settings as `serve`).
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
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
enum RetentionCommand {
    /// By incident: what was anonymised, what is still held and when it is due to go; and
    /// what is held for the season (JSON).
    Report {
        /// Report as at this time (RFC 3339) instead of now.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Do the retention work that is due now (servers do it by themselves every
    /// `retention_check_secs`); prints what this run did (JSON).
    Run {
        /// Run as at this time (RFC 3339), for a drill or a test: only work due by then is done.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user. A person (with --login) gets a one-time setup link to choose a password
    /// and enrol an authenticator app; a machine (without) gets a bearer token. Either is
    /// printed alone on stdout.
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
        /// A person's sign-in name (they sign in to /ops with a password and a second factor).
        #[arg(long)]
        login: Option<String>,
    },
    /// Forget an account's password and second factor (a lost phone, a forgotten password),
    /// end its sessions, and print a new one-time setup link.
    Reset {
        #[arg(long)]
        login: String,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Download a verifier bundle (staff or official token), check it, and save it.
    Fetch {
        /// The server's base URL, e.g. https://safecode.district.example.gov.cn
        #[arg(long)]
        server: String,
        /// A staff or official bearer token.
        #[arg(long)]
        token: String,
        #[arg(long)]
        out: PathBuf,
        /// Districts whose status lists to carry besides your shelters' own, e.g. `3,5`
        /// (neighbours evacuees come from).
        #[arg(long)]
        districts: Option<String>,
        /// The keys this verifier trusts (default: beside OUT, `NAME.trust.json`). Pinned from
        /// the first bundle fetched; later bundles must be signed by them or by a key they
        /// vouch for.
        #[arg(long)]
        trust: Option<PathBuf>,
        /// PEM certificates of a CA trusted besides the built-in roots (a province's own).
        #[arg(long, env = "SAFECODE_EXTRA_CA_FILE")]
        extra_ca: Option<PathBuf>,
        /// `loopback` allows plain http:// to this machine only (a local test server).
        #[arg(long, env = "SAFECODE_ALLOW_PLAIN_HTTP", default_value = "off",
              value_parser = ["off", "loopback"])]
        allow_plain_http: String,
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
    /// Draw districts from a GeoJSON FeatureCollection (each feature a polygon with
    /// `properties.name`), in its order: each takes the lowest free number. Import them before
    /// residents: a resident takes a slot in the list of the district they live in.
    Districts { file: PathBuf },
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
        /// Spread the residents over this many districts side by side (row i in district
        /// i mod N); district 0 is Xiaoshan.
        #[arg(long, default_value_t = 1)]
        districts: u32,
        /// Write the districts' polygons here as GeoJSON (officials' jurisdictions).
        #[arg(long)]
        districts_out: Option<PathBuf>,
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
    safecode::outbound::install_crypto();
    let cli = Cli::parse();
    if let Command::Dev {
        command:
            DevCommand::GenResidents {
                count,
                seed,
                out,
                districts,
                districts_out,
            },
    } = &cli.command
    {
        if let Some(path) = districts_out {
            std::fs::write(
                path,
                safecode::synthetic::districts_geojson(*districts).to_string(),
            )
            .with_context(|| format!("cannot write {}", path.display()))?;
        }
        return gen_residents(*count, *seed, *districts, out.as_deref());
    }
    if let Command::Bundle {
        command:
            BundleCommand::Fetch {
                server,
                token,
                out,
                districts,
                trust,
                extra_ca,
                allow_plain_http,
            },
    } = &cli.command
    {
        let trust = trust.clone().unwrap_or_else(|| trust_beside(out));
        let outbound = safecode::outbound::OutboundSettings {
            extra_ca: extra_ca.clone(),
            plain_http: if allow_plain_http == "loopback" {
                safecode::outbound::PlainHttp::Loopback
            } else {
                safecode::outbound::PlainHttp::Refused
            },
        };
        std::process::exit(fetch_bundle(
            server,
            token,
            districts.as_deref(),
            out,
            &trust,
            &outbound,
        ));
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
                        login,
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
                    login,
                };
                let u = users::create(&ctx, Creator::Operator, &form)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                match (u.token, u.setup) {
                    (Some(token), _) => println!("{token}"),
                    (None, Some(link)) => {
                        println!("{}", link.url(&public_address(&settings)));
                        eprintln!(
                            "open this link on the person's own device before {} to choose a \
                             password and enrol an authenticator app",
                            link.expires_at
                        );
                    }
                    (None, None) => {}
                }
                eprintln!("created user {}", u.user_id);
                Ok(())
            }
            Command::Users {
                command: UsersCommand::Reset { login },
            } => {
                let ctx = startup::context(&settings).await?;
                let run = async {
                    let user = sign_in::user_of_login(&ctx, &login).await?;
                    sign_in::reset(&ctx, sign_in::Resetter::Operator, user).await
                };
                let link = run.await.map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{}", link.url(&public_address(&settings)));
                eprintln!(
                    "the account's sessions ended; the link is valid until {}",
                    link.expires_at
                );
                Ok(())
            }
            Command::Audit {
                command: AuditCommand::Verify { heads },
            } => audit_verify(settings, heads).await,
            Command::Retention { command } => {
                let ctx = startup::context(&settings).await?;
                let out = match command {
                    RetentionCommand::Report { now } => serde_json::to_value(
                        safecode::service::retention::report(
                            &ctx,
                            now.unwrap_or_else(chrono::Utc::now),
                        )
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                    )?,
                    RetentionCommand::Run { now } => serde_json::to_value(
                        safecode::service::retention::run(
                            &ctx,
                            now.unwrap_or_else(chrono::Utc::now),
                        )
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                    )?,
                };
                println!("{}", serde_json::to_string_pretty(&out)?);
                ctx.db.close().await;
                Ok(())
            }
            Command::Import {
                command: ImportCommand::Residents { file },
            } => import(settings, file).await,
            Command::Import {
                command: ImportCommand::Districts { file },
            } => import_districts(settings, file).await,
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
    // The /ops session cookie is Secure: a browser keeps it only over HTTPS or on loopback.
    let https = settings
        .alerting
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    if !https && !settings.bind.ip().is_loopback() {
        tracing::warn!(
            "people cannot sign in to /ops over plain HTTP from another machine: serve it \
             behind HTTPS and set SAFECODE_PUBLIC_URL to the https:// address"
        );
    }
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

async fn import_districts(settings: Settings, file: PathBuf) -> anyhow::Result<()> {
    let ctx = startup::context(&settings).await?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let collection: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let features = collection
        .get("features")
        .and_then(|f| f.as_array())
        .ok_or_else(|| anyhow::anyhow!("{} is not a GeoJSON FeatureCollection", file.display()))?;
    for (i, f) in features.iter().enumerate() {
        let feature: safecode::service::zones::ZoneFeature =
            serde_json::from_value(f.clone()).map_err(|e| anyhow::anyhow!("feature {i}: {e}"))?;
        let (d, created) = safecode::service::districts::create_as(&ctx, "operator", &feature)
            .await
            .map_err(|e| anyhow::anyhow!("feature {i}: {e}"))?;
        eprintln!(
            "district {}: {}{}",
            d.id,
            d.name,
            if created { "" } else { " (already drawn)" }
        );
    }
    ctx.db.close().await;
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

fn gen_residents(
    count: u64,
    seed: u64,
    districts: u32,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            let f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            safecode::synthetic::write_csv_over(
                &mut std::io::BufWriter::with_capacity(1 << 20, f),
                count,
                seed,
                districts,
            )?;
        }
        None => {
            let stdout = std::io::stdout();
            safecode::synthetic::write_csv_over(
                &mut std::io::BufWriter::new(stdout.lock()),
                count,
                seed,
                districts,
            )?;
        }
    }
    Ok(())
}

/// Where people reach this service, for links printed here (no request to read it from):
/// `public_url` when set, else the address it listens on.
fn public_address(settings: &Settings) -> String {
    settings
        .alerting
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", settings.bind))
}
