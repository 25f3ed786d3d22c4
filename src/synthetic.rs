//! Synthetic residents for load tests and benchmarks: realistic names, valid PRC ID numbers
//! (Xiaoshan district, Hangzhou: area code 330109) and coordinates around Xiaoshan. All
//! invented; deterministic for a seed.

use crate::domain::document::cn_check_char;
use chrono::{Days, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;

const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "沈", "汪",
    "俞", "楼", "施", "傅", "钱", "陆", "金", "蒋",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "霞", "平", "刚", "桂英", "建华", "建国", "玉兰", "志强", "海燕", "晓东", "慧",
    "佳怡", "子涵", "浩然", "雨桐", "梓轩", "欣怡", "宇航", "国平", "美华", "金凤", "阿香",
];
const STREETS: &[&str] = &[
    "城厢街道",
    "北干街道",
    "新塘街道",
    "闻堰街道",
    "宁围街道",
    "瓜沥镇",
    "义桥镇",
    "河上镇",
    "戴村镇",
    "进化镇",
    "所前镇",
    "衙前镇",
    "益农镇",
    "党湾镇",
    "临浦镇",
    "浦阳镇",
];

/// ID numbers: a bijection from the row number onto (birth day, sequence) pairs, so that
/// up to 32,000,000 rows never repeat a number.
const DAYS: u64 = 32_000;
const SPACE: u64 = DAYS * 1000;

pub fn id_number(i: u64, seed: u64) -> String {
    // 7919 is prime and coprime with SPACE: multiplying permutes the row numbers.
    let j = (i.wrapping_mul(7919).wrapping_add(seed)) % SPACE;
    let (day, seq) = (j % DAYS, j / DAYS);
    let birth = NaiveDate::from_ymd_opt(1935, 1, 1)
        .and_then(|d| d.checked_add_days(Days::new(day)))
        .unwrap_or_default();
    let first17 = format!("330109{}{:03}", birth.format("%Y%m%d"), seq);
    let check = cn_check_char(first17.as_bytes()).unwrap_or('0');
    format!("{first17}{check}")
}

/// Writes `count` residents as CSV in the import format, all in one district.
pub fn write_csv(out: &mut impl Write, count: u64, seed: u64) -> std::io::Result<()> {
    write_csv_over(out, count, seed, 1)
}

/// A district's box: district 0 is Xiaoshan's (30.05–30.35 N, 120.15–120.55 E); the others
/// lie beside it on a grid, as many columns as rows, none overlapping.
pub fn district_box(k: u32, districts: u32) -> (f64, f64, f64, f64) {
    let cols = f64::from(districts.max(1)).sqrt().ceil() as u32;
    let (row, col) = (k / cols, k % cols);
    let (lat0, lon0) = (
        30.05 + f64::from(row) * LAT_SPAN,
        120.15 + f64::from(col) * LON_SPAN,
    );
    (lat0, lon0, lat0 + LAT_SPAN, lon0 + LON_SPAN)
}

/// A district's height and width in degrees (about 33 km by 38 km).
const LAT_SPAN: f64 = 0.30;
const LON_SPAN: f64 = 0.40;

/// The districts as a GeoJSON FeatureCollection of polygons named "District k": what an
/// official's jurisdiction is drawn from (`users create --jurisdiction`).
pub fn districts_geojson(districts: u32) -> serde_json::Value {
    let features: Vec<serde_json::Value> = (0..districts.max(1))
        .map(|k| {
            let (s, w, n, e) = district_box(k, districts);
            serde_json::json!({
                "type": "Feature",
                "properties": {"name": format!("District {k}")},
                "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

/// Writes `count` residents as CSV, row i living in district i mod `districts`.
pub fn write_csv_over(
    out: &mut impl Write,
    count: u64,
    seed: u64,
    districts: u32,
) -> std::io::Result<()> {
    let districts = districts.max(1);
    let mut rng = StdRng::seed_from_u64(seed);
    writeln!(
        out,
        "name,id_type,id_number,phone,address,lat,lon,birth_year,needs"
    )?;
    for i in 0..count {
        let id = id_number(i, seed);
        let year: i32 = id[6..10].parse().unwrap_or(1970);
        let name = format!(
            "{}{}",
            SURNAMES[rng.random_range(0..SURNAMES.len())],
            GIVEN[rng.random_range(0..GIVEN.len())]
        );
        let phone = format!(
            "1{}{:09}",
            rng.random_range(3..=9),
            rng.random_range(0..1_000_000_000u32)
        );
        let address = format!(
            "杭州市萧山区{}{}号",
            STREETS[rng.random_range(0..STREETS.len())],
            rng.random_range(1..400)
        );
        let (s, w, _, _) = district_box((i % u64::from(districts)) as u32, districts);
        let lat = s + rng.random::<f64>() * LAT_SPAN;
        let lon = w + rng.random::<f64>() * LON_SPAN;
        let mut needs = Vec::new();
        if year <= 1961 && rng.random_bool(0.6) {
            needs.push("elderly");
        }
        if rng.random_bool(0.03) {
            needs.push("disabled");
        }
        if rng.random_bool(0.02) {
            needs.push("medical");
        }
        writeln!(
            out,
            "{name},cn_resident_id,{id},{phone},{address},{lat:.6},{lon:.6},{year},{}",
            needs.join(";")
        )?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IdDocument, IdType};

    #[test]
    fn residents_spread_over_their_districts_and_nowhere_else() {
        let mut out = Vec::new();
        write_csv_over(&mut out, 900, 3, 9).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut per = [0u32; 9];
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split(',').collect();
            let (lat, lon): (f64, f64) = (f[5].parse().unwrap(), f[6].parse().unwrap());
            let inside: Vec<u32> = (0..9)
                .filter(|&k| {
                    let (s, w, n, e) = district_box(k, 9);
                    (s..n).contains(&lat) && (w..e).contains(&lon)
                })
                .collect();
            assert_eq!(inside.len(), 1, "{lat},{lon} lies in {inside:?}");
            per[inside[0] as usize] += 1;
        }
        assert_eq!(per, [100; 9]);
        let (s, w, n, e) = district_box(0, 9);
        assert!((s - 30.05).abs() < 1e-9 && (w - 120.15).abs() < 1e-9);
        assert!((n - 30.35).abs() < 1e-9 && (e - 120.55).abs() < 1e-9);
        assert_eq!(
            districts_geojson(9)["features"].as_array().unwrap().len(),
            9
        );
    }

    #[test]
    fn generated_numbers_are_valid_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..50_000).map(|i| id_number(i, 7)).collect();
        assert_eq!(ids.len(), 50_000);
        for id in ids.iter().take(1000) {
            IdDocument::parse(IdType::CnResidentId, id).unwrap();
        }
    }
}
