//! The masked name a code shows, for the check against the ID card.

/// What a code shows for the check against the ID card: the name masked and the last four
/// ID characters. Chinese names keep their first and last character (`张*明 1234`); other
/// names keep each word's initial (`Z*** W**, 1234`).
pub fn display_text(name: &str, id_last4: &str) -> String {
    let masked = masked_name(name);
    if is_chinese(name) {
        format!("{masked} {id_last4}")
    } else {
        format!("{masked}, {id_last4}")
    }
}

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

fn is_chinese(name: &str) -> bool {
    name.chars().any(is_cjk)
}

/// The name alone, masked as [`display_text`] masks it.
pub fn masked_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    if is_chinese(name) {
        match chars.len() {
            0 => String::new(),
            1 => "*".into(),
            2 => format!("{}*", chars[0]),
            n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
        }
    } else {
        let words: Vec<String> = name
            .split_whitespace()
            .map(|w| {
                let mut cs = w.chars();
                let first = cs
                    .next()
                    .map(|c| c.to_uppercase().to_string())
                    .unwrap_or_default();
                format!("{first}{}", "*".repeat(cs.count()))
            })
            .collect();
        words.join(" ")
    }
}

/// A Chinese name's masked form in Latin letters (pinyin of the characters kept, the masked
/// ones as `*`): `张*明` → `Zhang * Ming`, for staff who do not read Chinese. Empty for names
/// already in Latin letters. A surname with two readings takes its common one.
pub fn masked_latin(name: &str) -> String {
    use pinyin::ToPinyin;
    if !is_chinese(name) {
        return String::new();
    }
    masked_name(name)
        .chars()
        .map(|c| match c.to_pinyin() {
            Some(p) => {
                let plain = p.plain();
                let mut cs = plain.chars();
                cs.next()
                    .map(|f| f.to_uppercase().chain(cs).collect())
                    .unwrap_or_default()
            }
            None => c.to_string(),
        })
        .collect::<Vec<String>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_names_read_in_latin_letters() {
        assert_eq!(masked_latin("张小明"), "Zhang * Ming");
        assert_eq!(masked_latin("欧阳小明"), "Ou * * Ming");
        assert_eq!(masked_latin("王明"), "Wang *");
        assert_eq!(masked_latin("Zhao Wei"), "");
    }

    #[test]
    fn display_text_masks_names() {
        assert_eq!(display_text("张小明", "1234"), "张*明 1234");
        assert_eq!(display_text("王明", "002X"), "王* 002X");
        assert_eq!(display_text("欧阳小明", "1234"), "欧**明 1234");
        assert_eq!(display_text("Zhao Wei", "1234"), "Z*** W**, 1234");
        assert_eq!(display_text("maria santos", "9201"), "M**** S*****, 9201");
    }
}
