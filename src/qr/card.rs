//! The printable card for people without a phone: colour band with the colour in words, the
//! masked name, the issue and expiry dates, the code, and the reminder that the colour is
//! checked live. Pure: an SVG string from the code's fields.

use super::QrError;
use crate::domain::Colour;
use chrono::{DateTime, Utc};

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The card (85.6 mm wide, a badge or pendant) for one issued code.
pub fn svg(
    token: &str,
    colour: Colour,
    display: &str,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<String, QrError> {
    let (size, path) = super::svg_path(token)?;
    let (band, words) = match colour {
        Colour::Green => ("#1b7f3b", "GREEN 绿码"),
        Colour::Yellow => ("#f2c200", "YELLOW 黄码"),
        Colour::Red => ("#c62828", "RED 红码"),
    };
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="85.6mm" height="140mm" viewBox="0 0 428 700">
<rect width="428" height="700" fill="#fff"/>
<rect width="428" height="70" fill="{band}"/>
<text x="214" y="47" font-size="30" font-family="sans-serif" font-weight="bold" text-anchor="middle" fill="#000" stroke="#fff" stroke-width="0.6">{words}</text>
<text x="214" y="110" font-size="26" font-family="sans-serif" text-anchor="middle">{name}</text>
<text x="214" y="140" font-size="16" font-family="sans-serif" text-anchor="middle">issued 签发 {issued} · valid until 有效至 {expires}</text>
<svg x="34" y="160" width="360" height="360" viewBox="0 0 {size} {size}" shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/><path d="{path}" fill="#000"/></svg>
<text x="214" y="560" font-size="15" font-family="sans-serif" text-anchor="middle">The colour on this card is the colour when it was printed.</text>
<text x="214" y="582" font-size="15" font-family="sans-serif" text-anchor="middle">Shelters check your colour live when they scan it.</text>
<text x="214" y="612" font-size="15" font-family="sans-serif" text-anchor="middle">此卡颜色为打印时的颜色，安置点扫码时实时核验。</text>
</svg>"##,
        name = escape(display),
        issued = issued_at.format("%Y-%m-%d"),
        expires = expires_at.format("%Y-%m-%d"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_cannot_break_out_of_the_card() {
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let s = svg("SC1:ABC", Colour::Red, "<script>&\"", at, at).unwrap();
        assert!(s.contains("&lt;script&gt;&amp;&quot;"));
        assert!(!s.contains("<script>"));
        assert!(s.contains("RED 红码"));
    }
}
