//! Closed sets of words (needs, flags, a resident's safe status, and the sets other
//! modules declare with `vocabulary!`): each parses only its own words, with one code per set
//! for anything else. Needs and flags also pack into bits, the key a zone membership keeps.

use super::Invalid;

macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident, $field:literal, $code:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                let raw = raw.trim();
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or_else(|| {
                    let known: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    Invalid::new($field, $code, format!("unknown value; expected one of {}", known.join(", ")))
                })
            }

            /// Parses a list, dropping repeats and keeping a stable order.
            pub fn parse_set<'a>(raw: impl IntoIterator<Item = &'a str>) -> Result<Vec<Self>, Invalid> {
                let mut out = raw.into_iter().map(Self::parse).collect::<Result<Vec<_>, _>>()?;
                out.sort();
                out.dedup();
                Ok(out)
            }
        }
    };
}

pub(crate) use vocabulary;

vocabulary!(
    /// Where a resident who says "I am safe" is.
    SafeStatus, "status", "invalid_status", {
        AtHome => "at_home",
        WithRelatives => "with_relatives",
    }
);

vocabulary!(
    /// Special needs that shelters and rules must know about.
    Need, "needs", "invalid_need", {
        Elderly => "elderly",
        Disabled => "disabled",
        Pregnant => "pregnant",
        Infant => "infant",
        Medical => "medical",
        Wheelchair => "wheelchair",
    }
);

vocabulary!(
    /// Personal risk flags set by officials.
    Flag, "flags", "invalid_flag", {
        Quarantine => "quarantine",
        Injured => "injured",
    }
);

/// Needs and flags as bits (needs first, in vocabulary order): a compact key under which
/// residents with the same facts are counted together.
pub fn pack_facts(needs: &[Need], flags: &[Flag]) -> i32 {
    let mut bits = 0;
    for n in needs {
        bits |= 1 << (*n as u32);
    }
    for f in flags {
        bits |= 1 << (Need::ALL.len() as u32 + *f as u32);
    }
    bits
}

pub fn unpack_facts(bits: i32) -> (Vec<Need>, Vec<Flag>) {
    let needs = Need::ALL
        .iter()
        .copied()
        .filter(|n| bits & (1 << (*n as u32)) != 0)
        .collect();
    let flags = Flag::ALL
        .iter()
        .copied()
        .filter(|f| bits & (1 << (Need::ALL.len() as u32 + *f as u32)) != 0)
        .collect();
    (needs, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_pack_and_unpack() {
        for bits in 0..(1 << (Need::ALL.len() + Flag::ALL.len())) {
            let (n, f) = unpack_facts(bits);
            assert_eq!(pack_facts(&n, &f), bits);
        }
    }
}
