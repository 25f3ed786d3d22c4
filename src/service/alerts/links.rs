//! One-tap acknowledgement links: a short personal link in an SMS acknowledges the alert for
//! its recipient once. The token is 128 random bits (unguessable), says nothing about who it
//! is for, is kept only as its SHA-256 (a copy of the database cannot use it), works once,
//! and expires.

use super::super::{Ctx, Result, ServiceError};
use super::{AlertView, view};
use crate::store::{alerts, channels};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Bytes of randomness in a token; 22 characters of base64url.
const TOKEN_BYTES: usize = 16;

/// A new token and the hash that is stored.
pub fn new_token() -> (String, Vec<u8>) {
    let bytes: [u8; TOKEN_BYTES] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash(&token);
    (token, hash)
}

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The address a link's token opens: the resident page, which acknowledges and shows the
/// alert.
pub fn url(base: &str, token: &str) -> String {
    format!("{base}/a/{token}")
}

/// Whether `token` could be one of ours (anything else is not looked up).
pub fn well_formed(token: &str) -> bool {
    token.len() == 22
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkAck {
    /// The alert acknowledged, in the languages it was written in.
    pub alert: AlertView,
    /// The language the resident reads alerts in.
    pub language: String,
    pub acknowledged_at: DateTime<Utc>,
}

/// Uses a link: acknowledges the alert for the one it was sent to, once.
pub async fn use_link(ctx: &Ctx, token: &str) -> Result<LinkAck> {
    if !well_formed(token) {
        return Err(ServiceError::NotFound("link"));
    }
    let now = ctx.now();
    let mut tx = ctx.db.begin().await?;
    let (alert_id, resident_id) = match channels::use_ack_link(&mut tx, &hash(token), now).await? {
        channels::LinkUse::Fresh {
            alert_id,
            resident_id,
        } => (alert_id, resident_id),
        channels::LinkUse::Unknown => return Err(ServiceError::NotFound("link")),
        channels::LinkUse::Used => {
            return Err(ServiceError::Gone {
                code: "link_used",
                detail: "this link was used already: the alert is acknowledged".into(),
            });
        }
        channels::LinkUse::Expired => {
            return Err(ServiceError::Gone {
                code: "link_expired",
                detail: "this link has expired; open the safecode page to read your alerts".into(),
            });
        }
    };
    let language = channels::resident_language(&mut tx, resident_id).await?;
    tx.commit().await?;
    let at = alerts::acknowledge(&ctx.db, alert_id, resident_id, now)
        .await?
        .ok_or(ServiceError::NotFound("link"))?;
    let a = alerts::get_by_id(&ctx.db, alert_id)
        .await?
        .ok_or(ServiceError::NotFound("link"))?;
    Ok(LinkAck {
        alert: view(&a),
        language,
        acknowledged_at: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_short_unguessable_and_distinct() {
        let (a, ha) = new_token();
        let (b, _) = new_token();
        assert_eq!(a.len(), 22);
        assert!(well_formed(&a));
        assert_ne!(a, b);
        assert_eq!(ha, hash(&a));
        assert!(!well_formed("short"));
        assert!(!well_formed("aaaaaaaaaaaaaaaaaaaaa/"));
    }
}
