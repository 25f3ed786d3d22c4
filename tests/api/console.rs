//! The console's map, drawing and live counts, and the resident's "where to go": the API under
//! them and the pages in headless Chromium.

use crate::browser::{Browser, artifacts};
use crate::helpers::*;
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use serde_json::{Value, json};
use std::time::Duration;

/// An MBTiles file with one solid-colour tile at zoom 0 and the tiles around (30.05, 120.05)
/// from zoom 8 to 12, each 256 px of `rgb`.
async fn mbtiles(dir: &std::path::Path, rgb: [u8; 3]) -> std::path::PathBuf {
    let path = dir.join("base.mbtiles");
    let opts = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(opts).await.unwrap();
    for sql in [
        "CREATE TABLE metadata (name TEXT, value TEXT)",
        "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)",
        "INSERT INTO metadata VALUES ('format', 'png'), ('name', 'test')",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let img = image::RgbImage::from_pixel(256, 256, image::Rgb(rgb));
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let (lat, lon) = (30.05f64, 120.05f64);
    for z in 0..=14u32 {
        let n = f64::from(1u32 << z);
        let x = ((lon + 180.0) / 360.0 * n) as i64;
        let lr = lat.to_radians();
        let y = ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as i64;
        let max = (1i64 << z) - 1;
        for dx in -3..=3i64 {
            for dy in -3..=3i64 {
                let (tx, ty) = (x + dx, y + dy);
                if !(0..=max).contains(&tx) || !(0..=max).contains(&ty) {
                    continue;
                }
                // MBTiles rows count from the south.
                sqlx::query("INSERT INTO tiles VALUES ($1, $2, $3, $4)")
                    .bind(i64::from(z))
                    .bind(tx)
                    .bind(max - ty)
                    .bind(&png)
                    .execute(&pool)
                    .await
                    .unwrap();
            }
        }
    }
    pool.close().await;
    path
}

/// The tile (x, y) at zoom z that holds a point, in the XYZ scheme.
fn tile_of(lat: f64, lon: f64, z: u32) -> (i64, i64) {
    let n = f64::from(1u32 << z);
    let lr = lat.to_radians();
    (
        ((lon + 180.0) / 360.0 * n) as i64,
        ((1.0 - (lr.tan() + 1.0 / lr.cos()).ln() / std::f64::consts::PI) / 2.0 * n) as i64,
    )
}

/// A browser signed in to `/ops` as a new official named `login`, the map drawn.
pub async fn official_console(app: &TestApp, login: &str) -> Browser {
    let person = app.person("official", login, json!({})).await;
    let b = Browser::start(&["--window-size=1280,1100".to_owned()]).await;
    b.goto(&app.url("/ops")).await;
    b.wait_for("#password-signin:not([hidden])").await;
    b.fill("#login", login).await;
    b.fill("#password", "a long enough passphrase").await;
    b.fill("#code", &totp_now(&person.secret, 1)).await;
    b.click("#password-signin button[type=submit]").await;
    b.until("!document.getElementById('board').hidden", "the board")
        .await;
    b.until(
        "document.querySelector('#map .leaflet-pane') !== null",
        "the map",
    )
    .await;
    b
}

/// Chooses `file` in the page's file input `css` (as a person picking it would).
pub async fn choose_file(b: &Browser, css: &str, file: &std::path::Path) {
    b.wait_for(css)
        .await
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
}

/// Where a point of the map is on the screen (after scrolling the map into view).
async fn screen_point(b: &Browser, lat: f64, lon: f64) -> (f64, f64) {
    let v = b
        .js(
            "const m = document.getElementById('map'); m.scrollIntoView({block: 'center'}); \
             const r = m.getBoundingClientRect(); \
             const p = m.zoneMap.map.latLngToContainerPoint([arguments[0], arguments[1]]); \
             return [r.left + p.x, r.top + p.y];",
            vec![json!(lat), json!(lon)],
        )
        .await;
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

async fn click_at(b: &Browser, (x, y): (f64, f64)) {
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x,
            y,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(mouse).await.expect("a click");
    // Two clicks in a row would be a double click to the map.
    tokio::time::sleep(Duration::from_millis(400)).await;
}

async fn drag(b: &Browser, from: (f64, f64), to: (f64, f64)) {
    let mouse = MouseActions::new("mouse".into())
        .then(PointerAction::MoveTo {
            duration: None,
            x: from.0,
            y: from.1,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveTo {
            duration: Some(Duration::from_millis(300)),
            x: to.0,
            y: to.1,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    b.client.perform_actions(mouse).await.expect("a drag");
}

async fn shelter_at(
    app: &TestApp,
    official: &str,
    name: &str,
    lat: f64,
    lon: f64,
    capacity: i64,
) -> String {
    let v = json_ok(
        app.post(
            "/v1/shelters",
            official,
            &json!({"name": name, "location": {"lat": lat, "lon": lon}, "capacity": capacity,
                    "accessibility": ["wheelchair"]}),
        )
        .await,
    )
    .await;
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn tiles_come_from_an_mbtiles_file_and_the_map_draws_them() {
    let (mut settings, dir) = test_settings().await;
    settings.map.tiles = Some(mbtiles(dir.path(), [12, 200, 190]).await);
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    app.square_zone(&official, "Yiqiao").await;

    let cfg = json_ok(app.client.get(app.url("/v1/map")).send().await.unwrap()).await;
    assert_eq!(cfg["tile_url"], "/tiles/{z}/{x}/{y}");
    let (x, y) = tile_of(30.05, 120.05, 12);
    let res = app
        .client
        .get(app.url(&format!("/tiles/12/{x}/{y}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    let tile = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(tile.to_rgb8().get_pixel(10, 10).0, [12, 200, 190]);
    // A tile the file lacks, one outside the world, and nonsense: 404 problems, never a 500.
    for path in [
        "/tiles/12/0/0",
        "/tiles/3/8/0",
        "/tiles/40/1/1",
        "/tiles/a/b/c",
        "/tiles/12/-1/5",
    ] {
        assert_problem(
            app.client.get(app.url(path)).send().await.unwrap(),
            404,
            "no_such_tile",
        )
        .await;
    }

    let b = official_console(&app, "tile.wang").await;
    b.until(
        "[...document.querySelectorAll('#map img.leaflet-tile-loaded')].some((i) => i.src.includes('/tiles/'))",
        "tiles drawn",
    )
    .await;
    let shot = b.element_png("#map", "ops-map-mbtiles").await;
    let img = image::load_from_memory(&shot).unwrap().to_rgb8();
    let teal = img
        .pixels()
        .filter(|p| p.0[0] < 40 && p.0[1] > 170 && p.0[2] > 160)
        .count();
    assert!(
        teal > (img.width() * img.height() / 10) as usize,
        "the tiles' colour fills much of the map ({teal} pixels)"
    );
    b.close().await;
}

#[tokio::test]
async fn a_tile_server_is_allowed_by_the_pages_policy_and_without_tiles_the_map_is_plain() {
    let (mut settings, dir) = test_settings().await;
    settings.map.tile_url = Some("https://tiles.example.gov.cn/{z}/{x}/{y}.png".into());
    settings.map.tile_attribution = "© <b>Province</b>".into();
    let app = spawn_with(settings, dir).await;
    let res = app.client.get(app.url("/ops")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("img-src 'self' data: blob: https://tiles.example.gov.cn;"),
        "{csp}"
    );
    assert!(csp.contains("connect-src 'self';"), "{csp}");
    let cfg = json_ok(app.client.get(app.url("/v1/map")).send().await.unwrap()).await;
    assert_eq!(
        cfg["tile_url"],
        "https://tiles.example.gov.cn/{z}/{x}/{y}.png"
    );

    let plain = spawn_app().await;
    let res = plain.client.get(plain.url("/ops")).send().await.unwrap();
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("img-src 'self' data: blob:;"), "{csp}");
    let b = official_console(&plain, "plain.wang").await;
    b.until(
        "document.getElementById('map').classList.contains('plain')",
        "a plain background",
    )
    .await;
    assert_eq!(
        b.js(
            "return document.querySelectorAll('#map img.leaflet-tile').length;",
            vec![]
        )
        .await,
        json!(0)
    );
    b.close().await;
}

#[tokio::test]
async fn a_drawn_zone_is_previewed_validated_and_refused_where_it_is_wrong() {
    let app = spawn_app().await;
    let official = app.official().await;
    resident_at(&app, 30.05, 120.05, &["elderly"]).await;
    resident_at(&app, 30.06, 120.06, &[]).await;
    resident_at(&app, 31.5, 121.5, &[]).await;
    let square = feature(
        "Draft",
        json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.1, 30.1)]}),
    );
    let impact = json_ok(app.post("/v1/zones/preview", &official, &square).await).await;
    assert_eq!(impact["residents"], 2, "{impact}");
    assert_eq!(impact["to_red"], 2, "{impact}");
    assert_eq!(impact["needs_help"], 1, "{impact}");
    let advisory = json_ok(
        app.post("/v1/zones/preview?level=advisory", &official, &square)
            .await,
    )
    .await;
    assert_eq!(
        advisory["to_red"], 1,
        "only the one who needs help: {advisory}"
    );
    assert_eq!(advisory["to_yellow"], 1, "{advisory}");
    // Nothing was saved.
    let zones = json_ok(app.get("/v1/zones", &official).await).await;
    assert_eq!(zones["features"], json!([]));
    // The same checks as saving, each with its own code.
    let bowtie = feature(
        "Bow",
        json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.1, 30.1], [120.1, 30.0], [120.0, 30.1], [120.0, 30.0]]]}),
    );
    let p = assert_problem(
        app.post("/v1/zones/preview", &official, &bowtie).await,
        422,
        "self_intersection",
    )
    .await;
    assert!(p["detail"].is_string());
    let nameless = json!({"type": "Feature", "properties": {}, "geometry": square["geometry"]});
    assert_problem(
        app.post("/v1/zones/preview", &official, &nameless).await,
        422,
        "invalid_zone_name",
    )
    .await;
    let (_, resident) = app.registered().await;
    assert_problem(
        app.post("/v1/zones/preview", &resident, &square).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post("/v1/zones/preview?level=extreme", &official, &square)
            .await,
        400,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn a_zone_with_an_order_in_force_is_not_deleted_until_the_order_is_lifted() {
    let app = spawn_app().await;
    let official = app.official().await;
    let zone = app.square_zone(&official, "Levee").await;
    let order = json_ok(
        app.order(
            &official,
            &zone,
            &json!({"level": "mandatory", "reason": "breach"}),
        )
        .await,
    )
    .await;
    assert_problem(
        app.delete(&format!("/v1/zones/{zone}"), &official).await,
        409,
        "order_in_force",
    )
    .await;
    let still = json_ok(app.get("/v1/orders?active=true", &official).await).await;
    assert_eq!(
        still.as_array().unwrap().len(),
        1,
        "the refusal lifted nothing"
    );
    json_ok(
        app.post(
            &format!("/v1/orders/{}/lift", order["id"].as_str().unwrap()),
            &official,
            &json!({}),
        )
        .await,
    )
    .await;
    let res = app.delete(&format!("/v1/zones/{zone}"), &official).await;
    assert_eq!(res.status(), 204);
}

#[tokio::test]
async fn the_event_stream_tells_of_each_change_and_starts_with_the_current_state() {
    let app = spawn_app().await;
    let official = app.official().await;
    let (_, resident) = app.registered().await;
    assert_problem(app.get("/v1/events", &resident).await, 403, "forbidden").await;
    assert_problem(
        app.client.get(app.url("/v1/events")).send().await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;

    let mut res = app.get("/v1/events", &official).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk())
            .await
            .expect("the first event at once")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(
        text.starts_with("retry: 3000\nevent: change\ndata: {"),
        "{text}"
    );
    let first: Value =
        serde_json::from_str(text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap()).unwrap();
    // A change made now reaches the open stream within a few seconds.
    app.square_zone(&official, "Changed").await;
    let next = loop {
        let chunk = tokio::time::timeout(Duration::from_secs(10), res.chunk())
            .await
            .expect("an event after the change")
            .unwrap()
            .unwrap();
        let s = std::str::from_utf8(&chunk).unwrap().to_owned();
        // Pings (every 15 s) carry nothing; a change carries the counters.
        if let Some(d) = s
            .split("event: change\n")
            .nth(1)
            .and_then(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        {
            break serde_json::from_str::<Value>(d).unwrap();
        }
    };
    assert!(
        next["audit"].as_i64().unwrap() > first["audit"].as_i64().unwrap(),
        "{first} → {next}"
    );
    // A new connection (a browser resuming after a drop) starts from the state as it is now.
    let mut again = app.get("/v1/events", &official).await;
    let chunk = again.chunk().await.unwrap().unwrap();
    let resumed = std::str::from_utf8(&chunk).unwrap();
    assert!(
        resumed.contains(&format!("\"audit\":{}", next["audit"])),
        "{resumed}"
    );
    // Counters only: nothing personal travels in the stream.
    assert!(!resumed.contains("name"), "{resumed}");
}

#[tokio::test]
async fn the_public_shelter_list_shows_places_only_of_open_shelters_with_room() {
    let app = spawn_app().await;
    let official = app.official().await;
    let open = shelter_at(&app, &official, "School", 30.05, 120.05, 10).await;
    let closed = shelter_at(&app, &official, "Gym", 30.06, 120.06, 10).await;
    json_ok(
        app.patch(
            &format!("/v1/shelters/{closed}"),
            &official,
            &json!({"status": "closed"}),
        )
        .await,
    )
    .await;
    let full = shelter_at(&app, &official, "Hall", 30.07, 120.07, 1).await;
    let (_, resident) = resident_at(&app, 30.05, 120.05, &[]).await;
    let code = code_of(&app, &resident).await;
    json_ok(
        app.post(
            &format!("/v1/shelters/{full}/checkins"),
            &official,
            &json!({"token": code}),
        )
        .await,
    )
    .await;

    let res = app
        .client
        .get(app.url("/v1/shelters/open"))
        .send()
        .await
        .unwrap();
    let list = json_ok(res).await;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["id"], open);
    let mut keys: Vec<&str> = list[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["accessibility", "free", "id", "location", "name"]);
    assert_eq!(list[0]["free"], 10);
}

#[tokio::test]
async fn an_official_draws_a_zone_orders_it_and_watches_counts_move_without_a_reload() {
    let (mut settings, dir) = test_settings().await;
    settings.map.zone_sample_secs = 1;
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    // An existing zone elsewhere gives the map its view; the new one is drawn around people.
    app.zone(
        &official,
        &feature(
            "Upstream",
            json!({"type": "Polygon", "coordinates": [rect(120.0, 30.0, 120.2, 30.2)]}),
        ),
    )
    .await;
    let (r1, t1) = resident_at(&app, 30.10, 120.10, &["wheelchair"]).await;
    resident_at(&app, 30.11, 120.11, &[]).await;
    let shelter = shelter_at(&app, &official, "Riverside school", 30.15, 120.15, 40).await;
    let b = official_console(&app, "draw.wang").await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 1",
        "the zone on the map",
    )
    .await;

    b.click("#draw").await;
    for (lat, lon) in [
        (30.08, 120.08),
        (30.08, 120.13),
        (30.13, 120.13),
        (30.13, 120.08),
    ] {
        let p = screen_point(&b, lat, lon).await;
        click_at(&b, p).await;
    }
    b.click("#draw-finish").await;
    b.wait_for("#draft:not([hidden])").await;
    b.fill("#draft-name", "Riverside").await;
    b.click("#draft-preview").await;
    b.until(
        "!document.getElementById('draft-impact').hidden",
        "the impact",
    )
    .await;
    let impact = b.text("#draft-impact").await;
    assert!(
        impact.starts_with("2 residents · 2 would turn red"),
        "{impact}"
    );
    assert!(impact.contains("1 need help"), "{impact}");
    b.screenshot("ops-draw-preview").await;
    b.click("#draft-save").await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 2",
        "the saved zone",
    )
    .await;
    b.until(
        "!document.getElementById('zone-panel').hidden",
        "the zone's panel",
    )
    .await;
    let zones = json_ok(app.get("/v1/zones", &official).await).await;
    let riverside = zones["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["name"] == "Riverside")
        .expect("saved")
        .clone();
    assert_eq!(riverside["properties"]["residents"], 2);
    let zone = riverside["id"].as_str().unwrap().to_owned();

    // The order from the zone's panel: preview, then issue.
    b.select("#zp-level", "mandatory").await;
    b.fill("#zp-reason", "River over the levee").await;
    b.click("#zp-preview").await;
    b.until(
        "document.getElementById('zp-effect').textContent.startsWith('2 will turn red')",
        "the order preview",
    )
    .await;
    b.click("#zp-issue").await;
    b.until(
        &format!("document.querySelector(\"#zone-rows tr[data-zone='{zone}'] .red-count\")?.textContent === '2'"),
        "two red",
    )
    .await;
    assert_eq!(app.colour(&official, &r1).await, "red");
    assert!(
        b.js(
            "return document.getElementById('zp-delete').disabled;",
            vec![]
        )
        .await
            == json!(true),
        "no deleting a zone under an order"
    );
    b.until(
        "document.getElementById('live').textContent.startsWith('Live')",
        "the live line",
    )
    .await;

    // A shelter admits one of them through the API: the board follows by itself.
    let code = code_of(&app, &t1).await;
    json_ok(
        app.post(
            &format!("/v1/shelters/{shelter}/checkins"),
            &official,
            &json!({"token": code}),
        )
        .await,
    )
    .await;
    b.until(
        &format!("document.querySelector(\"#zone-rows tr[data-zone='{zone}'] .red-count\")?.textContent === '1'"),
        "the red count falling without a reload",
    )
    .await;
    b.until(
        "document.querySelector('#map [data-shelter]') !== null && [...document.querySelectorAll('.shelter-label')].some((l) => l.textContent.includes('1/40'))",
        "the shelter's occupancy on the map",
    )
    .await;
    // The zone's chart: four lines, each named with its latest count.
    b.until(
        "[...document.querySelectorAll('#charts figure')].some((f) => f.textContent.includes('Riverside') && f.querySelectorAll('polyline').length === 4 && f.querySelector('li[data-series=sheltered] strong')?.textContent === '1')",
        "the zone's chart",
    )
    .await;
    let legend = b
        .js(
            "return [...document.querySelectorAll('#charts figure')].find((f) => f.textContent.includes('Riverside')).querySelector('.legend').textContent;",
            vec![],
        )
        .await;
    let legend = legend.as_str().unwrap();
    assert!(
        legend.contains("Must move") && legend.contains("Sheltered"),
        "{legend}"
    );
    b.screenshot("ops-live").await;

    // Redrawing under an order is refused, and the refusal is shown where it was asked for.
    b.click("#zp-edit").await;
    b.until(
        "document.querySelectorAll('#map .vertex').length === 4",
        "corner handles",
    )
    .await;
    b.click("#zp-edit-save").await;
    b.until(
        "document.getElementById('zp-effect').textContent.includes('lift it before redrawing')",
        "the refusal",
    )
    .await;
    b.click("#zp-edit-cancel").await;
    // Lift from the map; then the shape may change and the zone may go.
    b.click("#zp-lift").await;
    b.until(
        "document.getElementById('zp-delete').disabled === false",
        "delete allowed after lifting",
    )
    .await;
    // Drag one corner outwards, save, and the zone takes a third person.
    let (_, _) = resident_at(&app, 30.16, 120.16, &[]).await;
    b.click("#zp-edit").await;
    b.until(
        "document.querySelectorAll('#map .vertex').length === 4",
        "corner handles",
    )
    .await;
    let from = screen_point(&b, 30.13, 120.13).await;
    let to = screen_point(&b, 30.17, 120.17).await;
    drag(&b, from, to).await;
    b.click("#zp-edit-save").await;
    b.until(
        &format!("document.querySelector(\"#zone-rows tr[data-zone='{zone}'] td:nth-child(3)\")?.textContent === '3'"),
        "three residents after the edit",
    )
    .await;

    b.js("window.confirm = () => true;", vec![]).await;
    b.click("#zp-delete").await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 1",
        "the zone gone",
    )
    .await;
    assert_problem(
        app.get(&format!("/v1/zones/{zone}"), &official).await,
        404,
        "not_found",
    )
    .await;
    b.close().await;
}

const KML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document>
<Placemark><name>东村</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
120.0,30.0,0 120.1,30.0,0 120.1,30.1,0 120.0,30.1,0 120.0,30.0,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>Crossed</name><Polygon><outerBoundaryIs><LinearRing><coordinates>
120.2,30.0 120.3,30.1 120.3,30.0 120.2,30.1 120.2,30.0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>
<Placemark><name>Just a point</name><Point><coordinates>120.5,30.5</coordinates></Point></Placemark>
</Document></kml>"#;

#[tokio::test]
async fn zones_imported_from_a_kml_file_are_checked_shown_and_saved() {
    let app = spawn_app().await;
    resident_at(&app, 30.05, 120.05, &[]).await;
    let b = official_console(&app, "import.wang").await;
    let file = artifacts().join(format!("zones-{}.kml", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, KML).unwrap();
    choose_file(&b, "#zone-file", &file).await;
    b.until(
        "document.querySelectorAll('#imported-list li').length === 3",
        "the file's zones",
    )
    .await;
    let items = b.text("#imported-list").await;
    assert!(items.contains("东村 — 1 residents"), "{items}");
    assert!(items.contains("Crossed — Refused"), "{items}");
    assert!(items.contains("Just a point — Refused"), "{items}");
    assert_eq!(
        b.js(
            "return document.querySelectorAll('#map path.draft-refused').length;",
            vec![]
        )
        .await,
        json!(1),
        "the refused shape is drawn in red on the map"
    );
    assert!(
        b.js("return [...document.querySelectorAll('.draft-label.refused')].map((l) => l.textContent).join();", vec![])
            .await
            .as_str()
            .unwrap()
            .contains("Crossed"),
        "the refusal is written beside the shape"
    );
    b.screenshot("ops-import").await;
    b.click("#import-save").await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 1",
        "the accepted zone saved",
    )
    .await;
    // GeoJSON as well: a name too long is refused with the server's words, the other saved.
    let geojson = json!({"type": "FeatureCollection", "features": [
        feature(&"x".repeat(101), json!({"type": "Polygon", "coordinates": [rect(120.3, 30.3, 120.4, 30.4)]})),
        feature("西村", json!({"type": "Polygon", "coordinates": [rect(120.5, 30.5, 120.6, 30.6)]})),
    ]});
    let file = artifacts().join(format!("zones-{}.geojson", uuid::Uuid::new_v4().simple()));
    std::fs::write(&file, geojson.to_string()).unwrap();
    choose_file(&b, "#zone-file", &file).await;
    b.until(
        "document.querySelectorAll('#imported-list li').length === 2",
        "the GeoJSON zones",
    )
    .await;
    let items = b.text("#imported-list").await;
    assert!(
        items.contains(
            "Refused properties.name: a zone needs properties.name of 1 to 100 characters"
        ),
        "{items}"
    );
    assert!(items.contains("西村 — 0 residents"), "{items}");
    b.click("#import-save").await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 2",
        "the GeoJSON zone saved",
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn a_red_resident_sees_the_nearest_shelter_with_room_and_a_way_there_even_offline() {
    let app = spawn_app().await;
    let official = app.official().await;
    app.square_zone(&official, "Yiqiao").await;
    shelter_at(&app, &official, "Far hall", 30.40, 120.40, 100).await;
    shelter_at(&app, &official, "Near school", 30.06, 120.06, 100).await;
    let (_, token) = resident_at(&app, 30.05, 120.05, &[]).await;
    let zone = json_ok(app.get("/v1/zones", &official).await).await["features"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.order(
        &official,
        &zone,
        &json!({"level": "mandatory", "reason": "flood"}),
    )
    .await;
    let b = Browser::start(&[]).await;
    b.goto(&app.url("/")).await;
    b.js(
        "localStorage.setItem('sc_resident', JSON.stringify({token: arguments[0]})); location.reload();",
        vec![json!(token)],
    )
    .await;
    b.until(
        "document.querySelector('#band .band')?.dataset.colour === 'red'",
        "red",
    )
    .await;
    b.until(
        "document.querySelectorAll('#where-list li[data-shelter]').length === 2",
        "the shelters",
    )
    .await;
    let first = b.text("#where-list li:first-child").await;
    assert!(first.starts_with("Near school"), "{first}");
    assert!(first.contains("1.5 km · 100 free places"), "{first}");
    let href = b
        .js(
            "return document.querySelector('#where-list li a').getAttribute('href');",
            vec![],
        )
        .await;
    assert!(
        href.as_str()
            .unwrap()
            .starts_with("geo:30.06,120.06?q=30.06,120.06(Near%20school)"),
        "{href}"
    );
    let amap = b
        .js("return document.querySelectorAll('#where-list li')[0].querySelectorAll('a')[1].getAttribute('href');", vec![])
        .await;
    assert!(
        amap.as_str().unwrap().starts_with("https://uri.amap.com/navigation?to=120.06,30.06,Near%20school&mode=walk&coordinate=wgs84"),
        "{amap}"
    );
    b.js("document.getElementById('where').scrollIntoView();", vec![])
        .await;
    b.screenshot("resident-where-to-go").await;
    // Larger text on request, remembered.
    b.click("#bigger").await;
    assert_eq!(
        b.js("return getComputedStyle(document.body).fontSize;", vec![])
            .await,
        json!("24px")
    );
    // With no network, the list comes from the last fetch and says so.
    b.js(
        "window.fetch = () => Promise.reject(new TypeError('offline')); document.getElementById('refresh').click();",
        vec![],
    )
    .await;
    b.until(
        "document.getElementById('where-note').textContent.startsWith('Saved list from')",
        "the saved list",
    )
    .await;
    assert!(
        b.text("#where-list li:first-child")
            .await
            .starts_with("Near school")
    );
    b.close().await;
}

#[tokio::test]
async fn the_console_reconnects_after_a_network_drop_and_catches_up() {
    let (mut settings, dir) = test_settings().await;
    // Streams end every two seconds: the next one is opened while the browser is offline.
    settings.live_stream_secs = 2;
    let app = spawn_with(settings, dir).await;
    let official = app.official().await;
    app.square_zone(&official, "Before").await;
    let b = official_console(&app, "drop.wang").await;
    b.until(
        "document.getElementById('live').textContent.startsWith('Live')",
        "live",
    )
    .await;
    b.offline(true).await;
    b.until(
        "document.getElementById('live').textContent.startsWith('Connection lost')",
        "the drop noticed",
    )
    .await;
    // What changes meanwhile is shown once the network is back, with no reload.
    app.zone(
        &official,
        &feature(
            "During",
            json!({"type": "Polygon", "coordinates": [rect(120.2, 30.2, 120.3, 30.3)]}),
        ),
    )
    .await;
    b.offline(false).await;
    b.until(
        "document.querySelectorAll('#map path[data-zone]').length === 2",
        "the zone added during the drop",
    )
    .await;
    b.until(
        "document.getElementById('live').textContent.startsWith('Live')",
        "live again",
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn a_tiles_file_that_is_not_mbtiles_stops_the_start_with_its_name() {
    let (mut settings, dir) = test_settings().await;
    let wrong = dir.path().join("tiles.txt");
    std::fs::write(&wrong, "not a database").unwrap();
    settings.map.tiles = Some(wrong.clone());
    let err = safecode::startup::Application::build(&settings)
        .await
        .err()
        .expect("the start refuses");
    let msg = err.to_string();
    assert!(
        msg.contains("is not an MBTiles file") && msg.contains("tiles.txt"),
        "{msg}"
    );
}
