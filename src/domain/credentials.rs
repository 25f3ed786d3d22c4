//! What a person signs in with: a sign-in name, a password, a second-factor code. Parsed
//! here; hashing and checking live in `service::sign_in`.

use super::Invalid;

/// A sign-in name: 3 to 64 lower-case letters, digits, `.`, `_` or `-`; case-folded so that
/// `Wang.Li` and `wang.li` are one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let login = raw.trim().to_ascii_lowercase();
        let ok = (3..=64).contains(&login.len())
            && login
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c));
        if !ok {
            return Err(Invalid::new(
                "login",
                "invalid_login",
                "a sign-in name is 3 to 64 letters, digits, '.', '_' or '-'",
            ));
        }
        Ok(Self(login))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as chosen: 10 to 200 characters, not the sign-in name. Length is what makes a
/// password strong (NIST SP 800-63B); no rules about symbols.
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str, login: &Login) -> Result<Self, Invalid> {
        let len = raw.chars().count();
        if !(10..=200).contains(&len) {
            return Err(Invalid::new(
                "password",
                "weak_password",
                "a password is 10 to 200 characters",
            ));
        }
        if raw.trim().eq_ignore_ascii_case(login.as_str()) {
            return Err(Invalid::new(
                "password",
                "weak_password",
                "a password must not be the sign-in name",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// What was typed in the code field: six digits from an authenticator app, or a recovery code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    Totp(String),
    Recovery(String),
}

impl SecondFactor {
    pub fn parse(raw: &str) -> Option<Self> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if compact.len() == 6 && compact.chars().all(|c| c.is_ascii_digit()) {
            return Some(Self::Totp(compact));
        }
        let plain: String = compact
            .chars()
            .filter(|c| *c != '-')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        (plain.len() == RECOVERY_CHARS && plain.chars().all(|c| RECOVERY_ALPHABET.contains(c)))
            .then_some(Self::Recovery(plain))
    }
}

/// Recovery codes: 16 characters of this alphabet (80 bits), shown in groups of four.
pub const RECOVERY_CHARS: usize = 16;
pub const RECOVERY_ALPHABET: &str = "abcdefghjkmnpqrstuvwxyz23456789";

/// A recovery code for display: `abcd-efgh-jkmn-pqrs`.
pub fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// TOTP (RFC 6238) time steps of 30 s; a code from the step before or after is accepted for
/// a phone whose clock is a little off.
pub const TOTP_STEP_SECS: i64 = 30;

pub fn totp_steps_around(unix_secs: i64) -> [i64; 3] {
    let now = unix_secs.div_euclid(TOTP_STEP_SECS);
    [now - 1, now, now + 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_fold_case_and_refuse_odd_characters() {
        assert_eq!(Login::parse(" Wang.Li ").unwrap().as_str(), "wang.li");
        for bad in ["ab", "a b c", "王丽", "x;drop", &"a".repeat(65)] {
            assert!(Login::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_and_are_never_printed() {
        let login = Login::parse("wang.li").unwrap();
        assert!(Password::parse("short", &login).is_err());
        assert!(Password::parse("Wang.Li", &login).is_err());
        assert!(Password::parse("WANG.LI   ", &login).is_err());
        let p = Password::parse("correct horse battery", &login).unwrap();
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn a_code_is_six_digits_or_a_recovery_code() {
        assert_eq!(
            SecondFactor::parse("123 456"),
            Some(SecondFactor::Totp("123456".into()))
        );
        assert_eq!(
            SecondFactor::parse("ABCD-efgh-jkmn-pqrs"),
            Some(SecondFactor::Recovery("abcdefghjkmnpqrs".into()))
        );
        assert_eq!(SecondFactor::parse("12345"), None);
        assert_eq!(SecondFactor::parse("abcd-efgh-jkmn-pqr1"), None);
        assert_eq!(grouped("abcdefghjkmnpqrs"), "abcd-efgh-jkmn-pqrs");
    }

    #[test]
    fn steps_around_now_cover_a_clock_half_a_minute_off() {
        assert_eq!(totp_steps_around(59), [0, 1, 2]);
        assert_eq!(totp_steps_around(60), [1, 2, 3]);
    }
}
