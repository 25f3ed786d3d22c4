//! The pages (resident `/`, scanner `/scan`, officials `/ops`) and their scripts and styles,
//! embedded in the binary from `web/`: nothing is fetched from anywhere else, and a server
//! needs no files beside it.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../../web/", $file)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("/", "index.html", HTML),
    asset!("/scan", "scan.html", HTML),
    asset!("/ops", "ops.html", HTML),
    asset!("/assets/app.css", "app.css", "text/css; charset=utf-8"),
    asset!("/assets/common.js", "common.js", JS),
    asset!("/assets/sc1.js", "sc1.js", JS),
    asset!("/assets/resident.js", "resident.js", JS),
    asset!("/assets/scan.js", "scan.js", JS),
    asset!("/assets/ops.js", "ops.js", JS),
    asset!("/assets/map.js", "map.js", JS),
    asset!("/assets/chart.js", "chart.js", JS),
    asset!("/assets/vendor/leaflet.js", "vendor/leaflet.js", JS),
    asset!(
        "/assets/vendor/leaflet.css",
        "vendor/leaflet.css",
        "text/css; charset=utf-8"
    ),
    asset!("/assets/vendor/jsQR.js", "vendor/jsQR.js", JS),
    asset!("/assets/vendor/qrcode.js", "vendor/qrcode.js", JS),
    asset!(
        "/assets/vendor/noble-ed25519.js",
        "vendor/noble-ed25519.js",
        JS
    ),
    asset!("/sw.js", "sw.js", JS),
];

const SERVICE_WORKER: &str = "/sw.js";

/// The service worker as served: its shell is the asset table above (one list, not two), and its
/// cache name changes whenever any page or script does.
static WORKER: LazyLock<String> = LazyLock::new(|| {
    let shell: Vec<&str> = ASSETS
        .iter()
        .map(|a| a.path)
        .filter(|p| *p != SERVICE_WORKER)
        .collect();
    let mut version = Sha256::new();
    for a in ASSETS.iter().filter(|a| a.path != SERVICE_WORKER) {
        version.update(a.body);
    }
    let template = ASSETS
        .iter()
        .find(|a| a.path == SERVICE_WORKER)
        .map(|a| String::from_utf8_lossy(a.body).into_owned())
        .unwrap_or_default();
    template
        .replace("/*VERSION*/", &hex::encode(&version.finalize()[..6]))
        .replace("[/*SHELL*/]", &serde_json::json!(shell).to_string())
});

fn body(asset: &Asset) -> &'static [u8] {
    if asset.path == SERVICE_WORKER {
        WORKER.as_bytes()
    } else {
        asset.body
    }
}

/// Each asset's entity tag, from its content: a page or script that did not change is not sent
/// again (304), one that did is never served stale.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", hex::encode(&Sha256::digest(body(a))[..8])))
        .collect()
});

/// Only this origin's scripts, styles and API; camera frames and data-URL images stay local;
/// map tiles also from the configured tile server, when there is one.
fn csp(tile_origin: Option<&str>) -> String {
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{tiles}; media-src 'self' blob:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        tiles = tile_origin.map(|o| format!(" {o}")).unwrap_or_default()
    )
}

async fn serve(req: HttpRequest) -> HttpResponse {
    serve_asset(&req, req.path())
}

/// A one-tap acknowledgement link (`/a/<token>`) opens the resident page, which reads the
/// token from its address, acknowledges, shows the alert and drops the token from the address.
/// The GET itself changes nothing: a link previewer that fetches it acknowledges nothing.
async fn ack_page(req: HttpRequest) -> HttpResponse {
    serve_asset(&req, "/")
}

fn serve_asset(req: &HttpRequest, path: &str) -> HttpResponse {
    let Some(i) = ASSETS.iter().position(|a| a.path == path) else {
        return HttpResponse::NotFound().finish();
    };
    let (asset, etag) = (&ASSETS[i], &ETAGS[i]);
    let tile_origin = req
        .app_data::<web::Data<crate::service::Ctx>>()
        .and_then(|c| c.map.tile_origin());
    let unchanged = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if unchanged {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp(tile_origin.as_deref())))
        .insert_header(("Permissions-Policy", "camera=(self), geolocation=(self)"));
    if unchanged {
        return res.finish();
    }
    res.content_type(asset.content_type).body(body(asset))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    for a in ASSETS {
        cfg.service(
            web::resource(a.path)
                .wrap(actix_web::middleware::Compress::default())
                .route(web::get().to(serve)),
        );
    }
    cfg.service(
        web::resource("/a/{token}")
            .wrap(actix_web::middleware::Compress::default())
            .route(web::get().to(ack_page)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_a_page_names_is_served() {
        for page in ASSETS.iter().filter(|a| a.content_type == HTML) {
            let html = std::str::from_utf8(page.body).unwrap();
            for part in html
                .split("src=\"")
                .skip(1)
                .chain(html.split("href=\"").skip(1))
            {
                let path = &part[..part.find('"').unwrap()];
                assert!(
                    ASSETS.iter().any(|a| a.path == path),
                    "{} names {path}, which is not embedded",
                    page.path
                );
            }
        }
        assert!(
            !WORKER.contains("/*"),
            "sw.js has a part the server did not fill"
        );
        for a in ASSETS.iter().filter(|a| a.path != SERVICE_WORKER) {
            assert!(
                WORKER.contains(&format!("\"{}\"", a.path)),
                "sw.js keeps {}",
                a.path
            );
        }
        for script in ASSETS.iter().filter(|a| a.content_type == JS) {
            let js = std::str::from_utf8(script.body).unwrap();
            for part in js.split("from './").skip(1) {
                let path = format!("/assets/{}", &part[..part.find('\'').unwrap()]);
                assert!(
                    ASSETS.iter().any(|a| a.path == path),
                    "{} imports {path}",
                    script.path
                );
            }
        }
    }
}
