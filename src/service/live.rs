//! Live updates for the console: one task per server reads the change counters every two
//! seconds while at least one console listens, and every listener hears when they move.
//! Listeners then fetch what they show through the ordinary routes, so each list keeps its
//! own authorisation and jurisdiction filter; the stream itself carries no personal data.

use super::Ctx;
use crate::store::live::{self, Counters};
use std::time::Duration;
use tokio::sync::watch;

pub const POLL: Duration = Duration::from_secs(2);

/// The latest counters, shared by every listener of this server.
#[derive(Debug)]
pub struct Pulse {
    tx: watch::Sender<Counters>,
    /// How long one stream lasts before the browser opens another.
    pub lifetime: Duration,
}

impl Pulse {
    pub fn new(lifetime: Duration) -> Self {
        Self {
            tx: watch::channel(Counters::default()).0,
            lifetime,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<Counters> {
        self.tx.subscribe()
    }

    pub fn current(&self) -> Counters {
        *self.tx.borrow()
    }
}

/// Reads the counters while anyone listens. Several servers each read their own: a change
/// made through any of them reaches consoles on all of them.
pub async fn watch_changes(ctx: Ctx) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if ctx.live.tx.receiver_count() == 0 {
            continue;
        }
        refresh(&ctx).await;
    }
}

/// Reads the counters now (a new listener gets a current value, not one from before it came).
pub async fn refresh(ctx: &Ctx) {
    match live::counters(&ctx.db).await {
        Ok(c) => {
            ctx.live.tx.send_if_modified(|old| {
                let changed = *old != c;
                *old = c;
                changed
            });
        }
        Err(e) => tracing::warn!(error = %e, "could not read the change counters"),
    }
}
