//! The change feed of the facts a scan reads, on PostgreSQL: triggers (migration 0021) announce
//! on [`CHANNEL`], at commit, whose facts each statement changed; [`Listener`] hears them on a
//! connection of its own. What the messages mean is parsed here ([`Change`]); what a server
//! does with them is `service::fresh_facts`.

use super::Result;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use uuid::Uuid;

pub const CHANNEL: &str = "safecode_facts";

/// One message of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A server's own heartbeat, sent through the database so that it arrives after every
    /// change committed before it: `(server, n)`.
    Heartbeat(u64, u64),
    /// These residents' facts changed; `times`: an order's or override's expiry may have too.
    Residents { ids: Vec<Uuid>, times: bool },
    /// Too many residents to name (an order, a zone's membership, an import).
    Everyone { times: bool },
}

impl Change {
    /// Reads a payload; anything it cannot read is taken as "everyone", the safe side.
    pub fn parse(payload: &str) -> Change {
        if let Some(hb) = payload.strip_prefix("hb:") {
            if let Some((server, n)) = hb.split_once(':')
                && let (Ok(server), Ok(n)) = (server.parse(), n.parse())
            {
                return Change::Heartbeat(server, n);
            }
            return Change::Everyone { times: true };
        }
        let (times, rest) = match payload.strip_prefix('t') {
            Some(rest) => (true, rest),
            None => (false, payload),
        };
        if rest == "*" {
            return Change::Everyone { times };
        }
        if rest.is_empty() {
            return Change::Residents {
                ids: Vec::new(),
                times,
            };
        }
        match rest
            .split(',')
            .map(Uuid::parse_str)
            .collect::<std::result::Result<Vec<_>, _>>()
        {
            Ok(ids) => Change::Residents { ids, times },
            Err(_) => Change::Everyone { times: true },
        }
    }

    pub fn heartbeat(server: u64, n: u64) -> String {
        format!("hb:{server}:{n}")
    }
}

/// Listens to the feed on a connection of its own (not one of the requests' pool).
pub struct Listener(PgListener);

impl Listener {
    pub async fn connect(pool: &PgPool) -> Result<Listener> {
        let own = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .connect_lazy_with((*pool.connect_options()).clone());
        let mut l = PgListener::connect_with(&own).await?;
        // A lost connection must be seen as one: what was announced meanwhile is gone.
        l.eager_reconnect(false);
        l.listen(CHANNEL).await?;
        Ok(Listener(l))
    }

    /// The next message; `None` when the connection was lost or failed (then messages may
    /// have been missed, and this listener is done).
    pub async fn next(&mut self) -> Option<String> {
        match self.0.try_recv().await {
            Ok(Some(n)) => Some(n.payload().to_owned()),
            Ok(None) | Err(_) => None,
        }
    }
}

/// Sends a heartbeat through the database.
pub async fn send(pool: &PgPool, payload: &str) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(payload)
        .execute(pool)
        .await?;
    Ok(())
}

/// When the next order or override in force at `now` expires (`None`: none does), i.e. until
/// when facts read now stay true if nothing is announced.
pub async fn next_expiry(pool: &PgPool, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "SELECT LEAST( \
           (SELECT MIN(expires_at) FROM orders WHERE lifted_at IS NULL AND expires_at > $1), \
           (SELECT MIN(expires_at) FROM approvals WHERE kind = 'override' AND status = 'approved' AND expires_at > $1))",
    )
    .bind(now)
    .fetch_one(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_the_triggers_write_them() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        assert_eq!(
            Change::parse(&format!("{a},{b}")),
            Change::Residents {
                ids: vec![a, b],
                times: false
            }
        );
        assert_eq!(
            Change::parse(&format!("t{a}")),
            Change::Residents {
                ids: vec![a],
                times: true
            }
        );
        assert_eq!(Change::parse("*"), Change::Everyone { times: false });
        assert_eq!(Change::parse("t*"), Change::Everyone { times: true });
        assert_eq!(
            Change::parse("t"),
            Change::Residents {
                ids: vec![],
                times: true
            }
        );
        assert_eq!(
            Change::parse(&Change::heartbeat(7, 42)),
            Change::Heartbeat(7, 42)
        );
    }

    #[test]
    fn what_cannot_be_read_drops_everything() {
        assert_eq!(
            Change::parse("not-a-uuid"),
            Change::Everyone { times: true }
        );
        assert_eq!(Change::parse("hb:x:1"), Change::Everyone { times: true });
    }
}
