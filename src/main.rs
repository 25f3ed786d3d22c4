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
    /// Bulk imports.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Tools for development and benchmarks.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
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
    },
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
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::Dev {
        command: DevCommand::GenResidents { count, seed, out },
    } = &cli.command
    {
        return gen_residents(*count, *seed, out.as_deref());
    }
    let settings =
        Settings::load(cli.config.as_deref()).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
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
                    },
            } => {
                let ctx = startup::context(&settings).await?;
                let form = NewUserForm {
                    role,
                    name,
                    shelter_ids: shelters,
                    jurisdiction: None,
                };
                let u = users::create(&ctx, Creator::Operator, &form)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("{}", u.token);
                eprintln!("created user {}", u.user_id);
                Ok(())
            }
            Command::Import {
                command: ImportCommand::Residents { file },
            } => import(settings, file).await,
            Command::Dev { .. } => unreachable!("handled before the runtime starts"),
        }
    })
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
