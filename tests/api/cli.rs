//! The binary as an operator uses it.

use crate::helpers::*;
use safecode::config::DatabaseUrl;
use std::process::Command;

fn command(app: &TestApp) -> Command {
    let mut c = Command::new(TestApp::binary());
    c.env("DATABASE_URL", app.settings.database_url.as_str())
        .env("SAFECODE_KEYS_DIR", &app.settings.keys_dir)
        .env("RUST_LOG", "warn");
    c
}

#[tokio::test]
async fn users_create_prints_a_working_token_alone_on_stdout() {
    let app = spawn_app().await;
    let out = command(&app)
        .args(["users", "create", "--role", "official", "--name", "Lin Hua"])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let token = stdout.trim();
    assert_eq!(stdout.lines().count(), 1);
    assert!(token.starts_with("sc_"));
    assert_eq!(app.get("/v1/audit/verify", token).await.status(), 200);

    let shelter = uuid::Uuid::new_v4().to_string();
    let out = command(&app)
        .args([
            "users",
            "create",
            "--role",
            "staff",
            "--name",
            "Desk 1",
            "--shelter",
            &shelter,
        ])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(out.status.success());
    let out = command(&app)
        .args(["users", "create", "--role", "mayor", "--name", "x"])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("role"));
}

#[tokio::test]
async fn the_first_admin_is_a_person_with_a_setup_link_and_a_reset_gives_a_new_one() {
    let app = spawn_app().await;
    let run = |args: Vec<&'static str>| {
        let mut c = command(&app);
        c.env("SAFECODE_PUBLIC_URL", "https://safecode.example.gov.cn");
        c.args(args);
        c.output_off_runtime()
    };
    let out = run(vec![
        "users",
        "create",
        "--role",
        "admin",
        "--name",
        "Duty admin",
        "--login",
        "duty.admin",
    ])
    .await
    .unwrap()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    let link = link.trim();
    assert!(
        link.starts_with("https://safecode.example.gov.cn/ops#setup=sc_"),
        "{link}"
    );
    let admin = app
        .finish_setup(&setup_code_of(link), "a long enough passphrase")
        .await;
    let res = app
        .with_session(reqwest::Method::POST, "/v1/users", &admin.cookie)
        .json(&serde_json::json!({"role": "gateway", "name": "SMS gateway"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "the new admin administers");

    // Lost phone: the operator resets the account; its session ends, a new link works.
    let out = run(vec!["users", "reset", "--login", "duty.admin"])
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = String::from_utf8(out.stdout).unwrap();
    assert_ne!(again.trim(), link);
    let res = app
        .with_session(reqwest::Method::GET, "/v1/auth/session", &admin.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    app.finish_setup(&setup_code_of(again.trim()), "another long passphrase")
        .await;
    let out = run(vec!["users", "reset", "--login", "nobody"])
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn import_residents_from_the_command_line() {
    let app = spawn_app().await;
    let file = app.dir.path().join("residents.csv");
    let generated = command(&app)
        .args([
            "dev",
            "gen-residents",
            "--count",
            "500",
            "--seed",
            "9",
            "--out",
        ])
        .arg(&file)
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(generated.status.success());
    let out = command(&app)
        .args(["import", "residents"])
        .arg(&file)
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["imported"], 500);
    let again = command(&app)
        .args(["import", "residents"])
        .arg(&file)
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(report["already_registered"], 500);
}

#[tokio::test]
async fn serve_starts_on_a_fresh_folder_prints_the_admin_token_once_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let start = || {
        let mut c = Command::new(TestApp::binary());
        c.current_dir(dir.path())
            .arg("serve")
            .env("SAFECODE_BIND", "127.0.0.1:0")
            .env("RUST_LOG", "warn")
            .stderr(std::process::Stdio::piped());
        if let DatabaseUrl::Postgres(u) = &db {
            c.env("DATABASE_URL", u);
        }
        c.spawn().unwrap()
    };
    let read_until_listening = |child: &mut std::process::Child| {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = Vec::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            let done = line.contains("listening on");
            seen.push(line);
            if done {
                break;
            }
        }
        seen.join("\n")
    };
    let mut first = start();
    let out = read_until_listening(&mut first);
    assert!(out.contains("First start"), "{out}");
    let token_line = out
        .lines()
        .find(|l| l.trim().starts_with("sc_"))
        .expect("token printed");
    assert_eq!(token_line.trim().len(), 46);
    if matches!(db, DatabaseUrl::Sqlite(_)) {
        assert!(
            dir.path().join("data/safecode.db").exists(),
            "database created in data/"
        );
    }
    assert!(
        dir.path().join("keys/id-hash.key").exists(),
        "key created in keys/"
    );
    // SIGTERM once it serves: a graceful stop.
    let port = out
        .lines()
        .find(|l| l.contains("listening on"))
        .and_then(|l| l.split("127.0.0.1:").nth(1))
        .and_then(|p| p.split_whitespace().next())
        .expect("port printed")
        .to_owned();
    let health = reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let pid = first.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = first.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0: {status:?}");

    let mut second = start();
    let out = read_until_listening(&mut second);
    assert!(
        !out.contains("First start"),
        "the admin token is printed only once: {out}"
    );
    second.kill().unwrap();
    second.wait().unwrap();
}

#[tokio::test]
async fn a_bad_setting_stops_the_start_with_a_clear_message() {
    let out = Command::new(TestApp::binary())
        .arg("serve")
        .env("SAFECODE_BIND", "everywhere")
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SAFECODE_BIND") && err.contains("host:port"),
        "{err}"
    );
    let out = Command::new(TestApp::binary())
        .arg("serve")
        .env("DATABASE_URL", "mysql://db")
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

#[tokio::test]
async fn verify_offline_from_a_token_or_a_photo_with_a_jwks_file() {
    let app = spawn_app().await;
    let (_, resident) = app.registered().await;
    let code: serde_json::Value = app
        .get("/v1/residents/me/code", &resident)
        .await
        .json()
        .await
        .unwrap();
    let token = code["token"].as_str().unwrap();
    let png = app
        .get("/v1/residents/me/code?format=png", &resident)
        .await
        .bytes()
        .await
        .unwrap();
    let jwks = app.public_text("/v1/keys").await;
    let dir = tempfile::tempdir().unwrap();
    let (jwks_path, png_path) = (dir.path().join("keys.json"), dir.path().join("code.png"));
    std::fs::write(&jwks_path, jwks).unwrap();
    std::fs::write(&png_path, &png).unwrap();
    let run = |arg: &std::path::Path, input: &str| {
        Command::new(TestApp::binary())
            .args(["verify", input, "--keys"])
            .arg(arg)
            .env("SAFECODE_KEYS_DIR", dir.path().join("none"))
            .output()
            .unwrap()
    };
    let out = run(&jwks_path, token);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("valid") && text.contains("green") && text.contains("王*明"),
        "{text}"
    );
    assert_eq!(
        run(&jwks_path, png_path.to_str().unwrap()).status.code(),
        Some(0),
        "from the photo"
    );
    let out = run(&jwks_path, "SC1:NOT A TOKEN");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid: malformed"));
    assert_eq!(
        run(&dir.path().join("missing.json"), token).status.code(),
        Some(2)
    );
    let out = Command::new(TestApp::binary())
        .args(["verify"])
        .output_off_runtime()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "usage error");
}
