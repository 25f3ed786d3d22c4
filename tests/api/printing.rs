//! Codes by the thousand: a zone's, an incident's or a list's printed codes as one PDF, read
//! back as a print shop and a shelter door would (poppler's text and pages, a QR reader).

use crate::browser::artifacts;
use crate::console::{choose_file, official_console};
use crate::helpers::*;
use serde_json::json;

const NAMES: [&str; 10] = [
    "张小明",
    "欧阳娜",
    "李四",
    "王芳",
    "陈伟",
    "刘洋",
    "赵敏",
    "孙丽",
    "周杰",
    "吴刚",
];

/// Ten residents inside the square zone (30.0–30.1, 120.0–120.1), with addresses.
async fn residents_in_zone(app: &TestApp) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let mut body = resident_body();
        body["name"] = json!(name);
        body["address"] = json!(format!("连江口镇石螺村 {} 号", i + 1));
        body["location"] = json!({"lat": 30.01 + i as f64 * 0.005, "lon": 120.05});
        let v = json_ok(app.register(&body).await).await;
        let id_number = body["id_number"].as_str().unwrap();
        out.push((
            v["resident_id"].as_str().unwrap().to_owned(),
            id_number[id_number.len() - 4..].to_owned(),
            v["access_token"].as_str().unwrap().to_owned(),
        ));
    }
    out
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every code on the PDF's pages, rendered at 300 dpi and cut into the sheet's grid of cards.
fn codes_on_pages(pdf: &std::path::Path) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            "300",
            "-png",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    let mut pages: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let mut codes = Vec::new();
    for page in pages {
        let img = image::open(&page).unwrap().to_luma8();
        let (w, h) = (img.width() / 2, img.height() / 4);
        for row in 0..4 {
            for col in 0..2 {
                let cell = image::imageops::crop_imm(&img, col * w, row * h, w, h).to_image();
                let mut png = Vec::new();
                cell.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
                    .unwrap();
                if let Ok(text) = safecode::qr::decode(&png) {
                    codes.push(text);
                }
            }
        }
    }
    codes
}

#[tokio::test]
async fn a_zones_codes_print_as_one_pdf_that_reads_back_and_scans_to_the_colour_now() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Shiluo").await;
    let people = residents_in_zone(&app).await;

    let res = app
        .post("/v1/print/cards", &official, &json!({"zone": zone}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.headers()["x-card-count"], "10");
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    assert!(
        text.contains("%safecode-progress 8/10"),
        "progress after the first page"
    );
    assert!(text.contains("%safecode-progress 10/10"));
    let path = artifacts().join("printed-zone.pdf");
    std::fs::write(&path, &pdf).unwrap();

    // Real text a print shop can search, in an embedded subset of a font that has Chinese.
    let words = run("pdftotext", &["-layout", path.to_str().unwrap(), "-"]);
    for (name, (_, last4, _)) in NAMES.iter().zip(&people) {
        let chars: Vec<char> = name.chars().collect();
        // 张小明 → 张*明, 李四 → 李*.
        let masked = match chars.len() {
            2 => format!("{}*", chars[0]),
            _ => format!("{}*{}", chars[0], chars[2]),
        };
        assert!(words.contains(&masked), "{masked} in\n{words}");
        assert!(words.contains(last4.as_str()), "{last4}");
        assert!(
            !words.contains(name),
            "the full name {name} is never printed"
        );
    }
    assert!(words.contains("Zhang * Ming"), "the name in Latin letters");
    assert!(words.contains("连江口镇石螺村 1 号"));
    assert!(words.contains("请在安置点或检查点出示此码"));
    let fonts = run("pdffonts", &[path.to_str().unwrap()]);
    let font = fonts.lines().nth(2).expect("one font");
    assert!(font.contains("CID TrueType"), "{fonts}");
    assert!(
        font.split_whitespace().rev().take(5).collect::<Vec<_>>()[2..] == ["yes", "yes", "yes"],
        "embedded, subset, with a Unicode map: {fonts}"
    );

    // Every card scans; each is a season's code that shows the colour as it is now.
    let codes = codes_on_pages(&path);
    assert_eq!(codes.len(), 10, "every card's code reads back");
    for code in &codes {
        let v = json_ok(
            app.post("/v1/verify", &official, &json!({"token": code}))
                .await,
        )
        .await;
        assert_eq!(v["valid"], true, "{v}");
        assert_eq!(v["current_colour"], "green", "{v}");
    }
    json_ok(
        app.order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "levee"}),
        )
        .await,
    )
    .await;
    let v = json_ok(
        app.post("/v1/verify", &official, &json!({"token": codes[0]}))
            .await,
    )
    .await;
    assert_eq!(v["token_colour"], "green", "the paper says green");
    assert_eq!(v["current_colour"], "red", "the scan says red: {v}");
    // Printing is audited, with the scope and the count, and nothing personal.
    assert!(
        app.audit_actions()
            .await
            .contains(&"codes.print".to_owned())
    );
    let audit = json_ok(app.get("/v1/audit?action=codes.print", &official).await).await;
    let entry = audit.to_string();
    assert!(
        entry.contains(&zone) && entry.contains("\"cards\":10"),
        "{entry}"
    );
    assert!(!entry.contains("张"), "{entry}");
}

#[tokio::test]
async fn printing_refuses_what_it_cannot_print_and_prints_a_list_once_per_person() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Empty").await;
    let (_, resident) = app.registered().await;
    let (a, _) = resident_at(&app, 31.05, 121.05, &[]).await;
    for (body, status, code) in [
        (json!({"zone": zone, "incident": zone}), 422, "one_scope"),
        (json!({}), 422, "one_scope"),
        (json!({"zone": zone}), 422, "nothing_to_print"),
        (json!({"zone": uuid::Uuid::new_v4()}), 404, "not_found"),
        (json!({"incident": uuid::Uuid::new_v4()}), 404, "not_found"),
        (
            json!({"residents": [a, uuid::Uuid::new_v4()]}),
            422,
            "unknown_resident",
        ),
        (json!({"residents": "everyone"}), 422, "invalid_body"),
    ] {
        assert_problem(
            app.post("/v1/print/cards", &official, &body).await,
            status,
            code,
        )
        .await;
    }
    let many: Vec<String> = (0..20_001)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    assert_problem(
        app.post("/v1/print/cards", &official, &json!({"residents": many}))
            .await,
        422,
        "too_many_cards",
    )
    .await;
    assert_problem(
        app.post("/v1/print/cards", &resident, &json!({"zone": zone}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert!(
        !app.audit_actions()
            .await
            .contains(&"codes.print".to_owned()),
        "a refused batch is not recorded as printed"
    );
    let res = app
        .post("/v1/print/cards", &official, &json!({"residents": [a, a]}))
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-card-count"], "1");
}

#[tokio::test]
async fn an_official_prints_a_zone_and_a_csv_list_from_the_console() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Shiluo").await;
    let people = residents_in_zone(&app).await;
    let b = official_console(&app, "print.wang").await;
    b.until(
        &format!(
            "[...document.getElementById('p-zone').options].some((o) => o.value === '{zone}')"
        ),
        "the zone to print",
    )
    .await;
    b.select("#p-zone", &zone).await;
    b.click("#p-go").await;
    b.until(
        "!document.getElementById('p-download').hidden",
        "the PDF ready",
    )
    .await;
    assert_eq!(b.text("#p-status").await, "10 cards ready");
    let link = b.text("#p-download").await;
    assert!(link.starts_with("Download the PDF (10 cards"), "{link}");
    assert_eq!(
        b.js(
            "return document.getElementById('p-progress').value;",
            vec![]
        )
        .await,
        json!(10)
    );
    // The same from a CSV list (the pending-acknowledgement export has this column).
    let csv = artifacts().join(format!("list-{}.csv", uuid::Uuid::new_v4().simple()));
    std::fs::write(
        &csv,
        format!("resident_id,name\n{},x\n{},y\n", people[0].0, people[1].0),
    )
    .unwrap();
    b.select("#p-scope", "csv").await;
    choose_file(&b, "#p-csv", &csv).await;
    b.click("#p-go").await;
    b.until(
        "document.getElementById('p-status').textContent === '2 cards ready'",
        "the list's PDF",
    )
    .await;
    b.screenshot("ops-printing").await;
    b.close().await;
}
