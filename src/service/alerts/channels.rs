//! The ways to reach residents who have not acknowledged an alert, and the one message
//! they are sent.

use super::super::Result;
use crate::domain::alert::AlertText;
use crate::domain::message::Language;
use crate::store::alerts;
use chrono::{DateTime, Utc};

/// A way to reach residents who have not acknowledged an alert.
pub trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    /// Queues or sends `body` to the alert's pending recipients (not those sent it within
    /// [`RESEND_QUIET`]); how many.
    fn send_pending<'a>(
        &'a self,
        tx: &'a mut crate::store::Tx,
        alert_id: i64,
        body: &'a alerts::Bodies,
        now: DateTime<Utc>,
    ) -> futures_util::future::BoxFuture<'a, Result<u64>>;
}

/// The same alert reaches a phone at most once in this long on each channel.
pub const RESEND_QUIET: chrono::Duration = chrono::Duration::minutes(10);

/// Rows in the outbox table, drained by an SMS or voice gateway (`GET /v1/outbox`).
pub struct Outbox(pub &'static str);

impl Channel for Outbox {
    fn name(&self) -> &'static str {
        self.0
    }

    fn send_pending<'a>(
        &'a self,
        tx: &'a mut crate::store::Tx,
        alert_id: i64,
        body: &'a alerts::Bodies,
        now: DateTime<Utc>,
    ) -> futures_util::future::BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(alerts::queue_pending(tx, alert_id, self.0, body, now, now - RESEND_QUIET).await?)
        })
    }
}

/// The alert's words in `language`: its own, or its translation when that is the one asked
/// for (an alert without a translation is sent as written).
pub fn text_in(a: &alerts::AlertRow, language: Language) -> AlertText {
    let own = AlertText {
        language: Language::parse(&a.language).unwrap_or_default(),
        headline: a.headline.clone(),
        description: a.description.clone(),
        instruction: a.instruction.clone(),
    };
    match &a.translation {
        Some(t) if t.0.language == language && own.language != language => t.0.clone(),
        _ => own,
    }
}

/// The short message in each language a resident may read.
pub(super) fn bodies(a: &alerts::AlertRow) -> alerts::Bodies {
    alerts::Bodies {
        zh: text_in(a, Language::Zh).short(),
        en: text_in(a, Language::En).short(),
    }
}
