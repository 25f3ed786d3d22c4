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

/// Writes `count` residents as CSV in the import format.
pub fn write_csv(out: &mut impl Write, count: u64, seed: u64) -> std::io::Result<()> {
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
        let lat = 30.05 + rng.random::<f64>() * 0.30;
        let lon = 120.15 + rng.random::<f64>() * 0.40;
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
    fn generated_numbers_are_valid_and_distinct() {
        let ids: std::collections::HashSet<String> = (0..50_000).map(|i| id_number(i, 7)).collect();
        assert_eq!(ids.len(), 50_000);
        for id in ids.iter().take(1000) {
            IdDocument::parse(IdType::CnResidentId, id).unwrap();
        }
    }
}
