//! Messages as phones and group chats receive them: the two languages an alert is written
//! in, and SMS text cut into parts a phone shows whole. No IO here.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// The languages alerts are written in and residents may read them in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Zh,
    En,
}

impl Language {
    /// Accepts `zh`/`en` and their regional tags (`zh-CN`, `zh-Hans`, `en-US`…), any case.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let primary = raw.trim().split(['-', '_']).next().unwrap_or_default();
        match primary.to_ascii_lowercase().as_str() {
            "zh" => Ok(Self::Zh),
            "en" => Ok(Self::En),
            _ => Err(Invalid::new(
                "language",
                "invalid_language",
                "language is zh or en",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zh => "zh",
            Self::En => "en",
        }
    }

    /// The tag CAP's `<language>` carries (RFC 3066).
    pub fn tag(self) -> &'static str {
        match self {
            Self::Zh => "zh-CN",
            Self::En => "en-US",
        }
    }

    pub fn other(self) -> Self {
        match self {
            Self::Zh => Self::En,
            Self::En => Self::Zh,
        }
    }
}

/// The GSM 03.38 default alphabet (one septet each) and its extension table (two: an escape
/// and the character). A message of these alone travels as GSM-7; anything else makes the
/// whole message UCS-2.
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const GSM_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// How a message is encoded on the air, which decides how much fits in one SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// 160 septets in a single message.
    Gsm7,
    /// 70 UTF-16 code units in a single message (Chinese text).
    Ucs2,
}

impl Encoding {
    pub fn of(text: &str) -> Self {
        if text
            .chars()
            .all(|c| GSM_BASIC.contains(c) || GSM_EXTENDED.contains(c))
        {
            Self::Gsm7
        } else {
            Self::Ucs2
        }
    }

    /// What one SMS holds in this encoding's units.
    pub fn capacity(self) -> usize {
        match self {
            Self::Gsm7 => 160,
            Self::Ucs2 => 70,
        }
    }

    /// The units a character takes: GSM extension characters take two septets, characters
    /// outside the BMP (emoji, rare CJK) two UTF-16 units.
    pub fn units(self, c: char) -> usize {
        match self {
            Self::Gsm7 if GSM_EXTENDED.contains(c) => 2,
            Self::Gsm7 => 1,
            Self::Ucs2 => c.len_utf16(),
        }
    }

    fn len(self, s: &str) -> usize {
        s.chars().map(|c| self.units(c)).sum()
    }
}

/// At most this many parts: a longer text is cut short (with "…") rather than flooding a
/// phone; an alert's text is checked to be far shorter.
pub const MAX_PARTS: usize = 9;

/// `text` (and a `link` kept whole at the end) as SMS messages that each fit one SMS in the
/// encoding the whole text needs. Each of several parts starts with "(i/n)" so the order is
/// clear on phones that do not join them; every part is sent as a message of its own, so no
/// part relies on the network joining it. Cuts fall after a space or CJK punctuation where
/// one is near, never inside a character or the link.
pub fn sms_parts(text: &str, link: Option<&str>) -> Vec<String> {
    let text = text.trim();
    let whole = match link {
        Some(l) => format!("{text} {l}"),
        None => text.to_owned(),
    };
    let enc = Encoding::of(&whole);
    let cap = enc.capacity();
    if enc.len(&whole) <= cap {
        return vec![whole];
    }
    // "(i/n) " takes 6 units while n < 10.
    let room = cap - 6;
    let link_units = link.map_or(0, |l| enc.len(l) + 1);
    let mut parts: Vec<String> = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    while !rest.is_empty() && parts.len() < MAX_PARTS {
        let last_allowed = parts.len() + 1 == MAX_PARTS;
        let mut used = 0;
        let mut end = 0;
        while end < rest.len() && used + enc.units(rest[end]) <= room {
            used += enc.units(rest[end]);
            end += 1;
        }
        if end < rest.len() {
            if last_allowed {
                // Out of parts: end this one with an ellipsis.
                while end > 0 && used + enc.units('…') > room {
                    end -= 1;
                    used -= enc.units(rest[end]);
                }
                let mut p: String = rest[..end].iter().collect();
                p.push('…');
                parts.push(p);
                rest.clear();
                break;
            }
            // Prefer a cut after a space or punctuation in the last fifth of the part.
            let floor = end - end / 5;
            if let Some(i) = (floor..end)
                .rev()
                .find(|&i| rest[i].is_whitespace() || "，。；：！？、,.;:!?".contains(rest[i]))
            {
                end = i + 1;
            }
        }
        let p: String = rest[..end].iter().collect::<String>().trim().to_owned();
        if !p.is_empty() {
            parts.push(p);
        }
        rest.drain(..end);
    }
    if let Some(l) = link {
        let fits = parts
            .last()
            .is_some_and(|p| enc.len(p) + link_units <= room);
        let count = parts.len();
        match parts.last_mut() {
            Some(p) if fits => {
                p.push(' ');
                p.push_str(l);
            }
            _ if count < MAX_PARTS => parts.push(l.to_owned()),
            // No room for a part of its own: the link replaces the end of the last part.
            _ => {
                if let Some(p) = parts.last_mut() {
                    let mut kept: Vec<char> = p.chars().collect();
                    while !kept.is_empty()
                        && enc.len(&kept.iter().collect::<String>()) + link_units > room
                    {
                        kept.pop();
                    }
                    *p = format!("{} {l}", kept.iter().collect::<String>());
                }
            }
        }
    }
    let n = parts.len();
    if n == 1 {
        return parts;
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| format!("({}/{n}) {p}", i + 1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> usize {
        Encoding::of(s).len(s)
    }

    #[test]
    fn languages_parse_from_their_tags() {
        assert_eq!(Language::parse("zh-CN").unwrap(), Language::Zh);
        assert_eq!(Language::parse("EN_us").unwrap(), Language::En);
        assert_eq!(Language::parse("fr").unwrap_err().code, "invalid_language");
        assert_eq!(Language::Zh.tag(), "zh-CN");
    }

    #[test]
    fn short_messages_go_whole() {
        assert_eq!(
            sms_parts("Go to the school now.", None),
            ["Go to the school now."]
        );
        let seventy = "水".repeat(70);
        assert_eq!(sms_parts(&seventy, None), std::slice::from_ref(&seventy));
        let ascii = "a".repeat(160);
        assert_eq!(sms_parts(&ascii, None).len(), 1, "GSM-7 holds 160");
    }

    #[test]
    fn chinese_is_cut_at_seventy_ucs2_units_and_numbered() {
        let text = "洪水正在上涨，请立即转移到高处的学校。".repeat(10);
        let parts = sms_parts(&text, None);
        assert!(parts.len() > 1);
        let n = parts.len();
        for (i, p) in parts.iter().enumerate() {
            assert!(units(p) <= 70, "part {i} has {} units", units(p));
            assert!(p.starts_with(&format!("({}/{n}) ", i + 1)), "{p}");
        }
        // Nothing lost or repeated: the parts without their numbers give back the text.
        let joined: String = parts
            .iter()
            .map(|p| p.split_once(") ").unwrap().1)
            .collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn one_chinese_character_makes_the_whole_message_ucs2() {
        let text = format!("{} 水", "a".repeat(100));
        assert_eq!(Encoding::of(&text), Encoding::Ucs2);
        assert!(sms_parts(&text, None).len() > 1, "101 units do not fit 70");
    }

    #[test]
    fn characters_outside_the_bmp_count_twice_and_are_never_split() {
        let text = "𠀀".repeat(40); // CJK Extension B: a surrogate pair each
        let parts = sms_parts(&text, None);
        for p in &parts {
            assert!(units(p) <= 70);
        }
        let joined: String = parts
            .iter()
            .map(|p| p.split_once(") ").unwrap().1)
            .collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn gsm_extension_characters_take_two_septets() {
        let text = "€".repeat(80); // 160 septets: fits exactly
        assert_eq!(sms_parts(&text, None).len(), 1);
        let text = "€".repeat(81);
        assert_eq!(sms_parts(&text, None).len(), 2);
    }

    #[test]
    fn the_link_stays_whole_at_the_end() {
        let link = "https://sc.example/a/AbCdEfGhIjKlMnOp";
        let text = "洪水警报：".repeat(30);
        let parts = sms_parts(&text, Some(link));
        let last = parts.last().unwrap();
        assert!(last.ends_with(link), "{last}");
        assert_eq!(parts.iter().filter(|p| p.contains(link)).count(), 1);
        for p in &parts {
            assert!(units(p) <= 70, "{p}");
        }
    }

    #[test]
    fn a_huge_text_is_cut_short_not_sent_in_a_hundred_parts() {
        let text = "水".repeat(5000);
        let parts = sms_parts(&text, Some("https://x.example/a/t"));
        assert_eq!(parts.len(), MAX_PARTS);
        assert!(parts.last().unwrap().ends_with("https://x.example/a/t"));
        for p in &parts {
            assert!(units(p) <= 70, "{p}");
        }
    }
}
