//! Status lists per district (issue 22): drawn districts, codes that name their district, one
//! list per district rebuilt only when its colours may have moved, and bundles that carry
//! the districts asked for and say "colour unknown" for the rest — in Rust and in the scan
//! page's JavaScript.

use crate::helpers::*;
use safecode::domain::{Colour, DistrictId};
use safecode::token::offline::{Bundle, ColourSource, Outcome};
use safecode::token::status_list::{Slot, StatusList};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn square(name: &str, lon0: f64, lat0: f64, lon1: f64, lat1: f64) -> Value {
    feature(
        name,
        json!({"type": "Polygon", "coordinates": [rect(lon0, lat0, lon1, lat1)]}),
    )
}

/// A district's list (`None`: the default one), checked with the published keys: (ETag, list).
async fn list_of(app: &TestApp, district: Option<u8>) -> (String, StatusList) {
    let path = match district {
        Some(d) => format!("/v1/status-list?district={d}"),
        None => "/v1/status-list".to_owned(),
    };
    let (etag, list) = crate::offline::signed_list(app, &path).await;
    assert_eq!(list.district.map(|d| d.get()), district, "{path}");
    (etag, list)
}

/// A list's ETag once it has stopped moving (no rebuild for 2.5 s: debounce 1 s + ticks).
async fn settled(app: &TestApp, district: Option<u8>) -> String {
    let start = Instant::now();
    let (mut etag, _) = list_of(app, district).await;
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (e, _) = list_of(app, district).await;
        if e != etag {
            (etag, since) = (e, Instant::now());
        } else if since.elapsed() > Duration::from_millis(2500) {
            return etag;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "never settled");
    }
}

#[tokio::test]
async fn districts_are_drawn_by_admins_once_and_refused_when_malformed() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone();
    let official = app.official().await;
    let xiaoshan = square("Xiaoshan", 120.0, 30.0, 120.1, 30.1);
    let res = app.post("/v1/districts", &admin, &xiaoshan).await;
    assert_eq!(res.status(), 201);
    let first: Value = res.json().await.unwrap();
    assert_eq!(first["id"], 1);
    // The same district again (a retry whose answer was lost) is the one drawn.
    let res = app.post("/v1/districts", &admin, &xiaoshan).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], 1);
    // The same name elsewhere is a conflict; an official cannot draw one; nonsense is a 422.
    let moved = square("Xiaoshan", 121.0, 30.0, 121.1, 30.1);
    assert_problem(
        app.post("/v1/districts", &admin, &moved).await,
        409,
        "district_exists",
    )
    .await;
    assert_problem(
        app.post(
            "/v1/districts",
            &official,
            &square("Binjiang", 121.0, 30.0, 121.1, 30.1),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    let open_ring = feature(
        "Open",
        json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1]]]}),
    );
    let res = app.post("/v1/districts", &admin, &open_ring).await;
    assert_eq!(res.status(), 422, "{:?}", res.text().await);
    let nameless = feature(
        " ",
        json!({"type": "Polygon", "coordinates": [rect(121.0, 30.0, 121.1, 30.1)]}),
    );
    assert_problem(
        app.post("/v1/districts", &admin, &nameless).await,
        422,
        "invalid_district_name",
    )
    .await;
    let res = app
        .post(
            "/v1/districts",
            &admin,
            &square("Binjiang", 121.0, 30.0, 121.1, 30.1),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["id"], 2);
    let listed: Value = json_ok(app.get("/v1/districts", &official).await).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Xiaoshan", "Binjiang"]);
    // Lists of districts that do not exist, or of no district at all.
    for (path, status) in [
        ("/v1/status-list?district=9", 404),
        ("/v1/status-list?district=0", 422),
        ("/v1/status-list?district=129", 422),
        ("/v1/status-list?district=x", 400),
        ("/v1/status-list?region=1", 400),
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), status, "{path}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
    }
}

#[tokio::test]
async fn each_district_has_its_own_list_and_an_order_rebuilds_only_the_lists_it_moves() {
    let app = spawn_app().await;
    let admin = app.admin_token.clone();
    let official = app.official().await;
    // Two districts: the test zone's square (district 1) and one far from it (district 2).
    for d in [
        square("Xiaoshan", 120.0, 30.0, 120.2, 30.2),
        square("Binjiang", 121.0, 31.0, 121.2, 31.2),
    ] {
        assert_eq!(app.post("/v1/districts", &admin, &d).await.status(), 201);
    }
    let zone = app.square_zone(&official, "riverside").await;
    let (_, in_1) = resident_at(&app, 30.05, 120.05, &[]).await;
    let (_, in_2) = resident_at(&app, 31.1, 121.1, &[]).await;
    let (_, nowhere) = resident_at(&app, 35.0, 115.0, &[]).await;
    let (green_1, claims_1) = crate::offline::code_and_claims(&app, &in_1).await;
    let (code_2, claims_2) = crate::offline::code_and_claims(&app, &in_2).await;
    let (code_0, claims_0) = crate::offline::code_and_claims(&app, &nowhere).await;
    assert_eq!(claims_1.district, DistrictId::new(1));
    assert_eq!(claims_2.district, DistrictId::new(2));
    assert_eq!(
        claims_0.district, None,
        "outside every district: the default list"
    );

    let etag_2 = settled(&app, Some(2)).await;
    let etag_0 = settled(&app, None).await;
    let (etag_1, before) = list_of(&app, Some(1)).await;
    assert_eq!(
        before.bits.get(claims_1.status_index.0),
        Some(Slot::Colour(Colour::Green))
    );

    let res = app
        .order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "levee breach"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // District 1's list turns red where its resident's slot is ...
    let start = Instant::now();
    loop {
        let (e, list) = list_of(&app, Some(1)).await;
        if e != etag_1 && list.bits.get(claims_1.status_index.0) == Some(Slot::Colour(Colour::Red))
        {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "never red");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // ... and the lists the order moves no one in are not rebuilt.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(list_of(&app, Some(2)).await.0, etag_2, "district 2 rebuilt");
    assert_eq!(
        list_of(&app, None).await.0,
        etag_0,
        "the default list rebuilt"
    );

    // A tablet at a shelter in district 2 carries district 2's list by itself, and district
    // 1's when asked: the green code from before the order reads red; without district 1's
    // list its colour is unknown, never green.
    let shelter: Value = json_ok(
        app.post(
            "/v1/shelters",
            &official,
            &json!({"name": "School", "location": {"lat": 31.1, "lon": 121.1}, "capacity": 10}),
        )
        .await,
    )
    .await;
    let (_, staff) = app
        .create_user("staff", json!({"shelter_ids": [shelter["id"]]}))
        .await;
    let own: Value = json_ok(app.get("/v1/verifier/bundle", &staff).await).await;
    assert_eq!(own["district_lists"][0]["district"], 2);
    assert_eq!(own["district_lists"].as_array().unwrap().len(), 1);
    let own = Bundle::from_json(&own.to_string()).unwrap();
    let now = chrono::Utc::now().timestamp() + 1;
    assert!(matches!(
        safecode::token::offline::verify(&green_1, &own, now),
        Outcome::ColourUnknown { district, .. } if Some(district) == DistrictId::new(1)
    ));
    assert!(matches!(
        safecode::token::offline::verify(&code_2, &own, now),
        Outcome::Valid {
            colour: Colour::Green,
            ..
        }
    ));
    assert!(matches!(
        safecode::token::offline::verify(&code_0, &own, now),
        Outcome::Valid {
            colour: Colour::Green,
            ..
        }
    ));

    let both: Value = json_ok(app.get("/v1/verifier/bundle?districts=1", &staff).await).await;
    let carried: Vec<i64> = both["district_lists"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["district"].as_i64().unwrap())
        .collect();
    assert_eq!(carried, [1, 2]);
    let bundle = Bundle::from_json(&both.to_string()).unwrap();
    match safecode::token::offline::verify(&green_1, &bundle, now) {
        Outcome::Valid { colour, source, .. } => {
            assert_eq!(colour, Colour::Red);
            assert!(matches!(source, ColourSource::StatusList { .. }));
        }
        other => panic!("{other:?}"),
    }

    // The scan page's verifier says the same, in Node.
    let answers = in_node(
        &both,
        &own_json(&app, &staff).await,
        &[&green_1, &code_2, &code_0],
    )
    .await;
    assert_eq!(
        answers,
        [
            "both:red own:unknown 1",
            "both:green own:green",
            "both:green own:green"
        ],
        "{answers:?}"
    );

    // Asking for too many, for nonsense or for a district that is not there.
    let many: Vec<String> = (1..=17).map(|d| d.to_string()).collect();
    assert_problem(
        app.get(
            &format!("/v1/verifier/bundle?districts={}", many.join(",")),
            &staff,
        )
        .await,
        422,
        "too_many_districts",
    )
    .await;
    assert_problem(
        app.get("/v1/verifier/bundle?districts=1,x", &staff).await,
        422,
        "invalid_district",
    )
    .await;
    assert_problem(
        app.get("/v1/verifier/bundle?districts=7", &staff).await,
        404,
        "not_found",
    )
    .await;
}

async fn own_json(app: &TestApp, staff: &str) -> Value {
    json_ok(app.get("/v1/verifier/bundle", staff).await).await
}

/// web/sc1.js in Node: each code verified against `both` and `own`, one line per code.
async fn in_node(both: &Value, own: &Value, codes: &[&str]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let files = [("both.json", both), ("own.json", own)];
    for (name, v) in files {
        std::fs::write(dir.path().join(name), v.to_string()).unwrap();
    }
    let module = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web/sc1.js");
    let script = dir.path().join("check.mjs");
    std::fs::write(
        &script,
        format!(
            "import {{ readFileSync }} from 'node:fs';\n\
             import {{ loadBundle, verifyOffline }} from 'file://{}';\n\
             const load = async (f) => loadBundle(JSON.parse(readFileSync(new URL(f, import.meta.url), 'utf8')));\n\
             const both = await load('./both.json'), own = await load('./own.json');\n\
             const say = (v) => v.valid ? v.colour : v.colourUnknown ? `unknown ${{v.district}}` : JSON.stringify(v);\n\
             for (const code of {codes}) {{\n\
               const now = Math.floor(Date.now() / 1000) + 1;\n\
               console.log(`both:${{say(await verifyOffline(code, both, now))}} own:${{say(await verifyOffline(code, own, now))}}`);\n\
             }}\n",
            module.display(),
            codes = serde_json::to_string(codes).unwrap(),
        ),
    )
    .unwrap();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(&script)
            .output()
            .expect("node")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}
