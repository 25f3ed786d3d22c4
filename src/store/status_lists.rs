//! Signed status lists by epoch, and the facts of every resident they are built from.

use super::{Db, Result, Tx};
use crate::domain::audit::ColourScope;
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;
use uuid::Uuid;

/// A list's district as stored: 0 for the default list.
pub type ListKey = i64;

/// The newest list of a district, without its body: enough to decide whether to rebuild or
/// answer 304.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListHead {
    pub district: ListKey,
    pub epoch: i64,
    pub issued_at: DateTime<Utc>,
    pub audit_seq: i64,
}

pub async fn newest(db: &Db, district: ListKey) -> Result<Option<ListHead>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT district, epoch, issued_at, audit_seq FROM status_lists WHERE district = $1 \
         ORDER BY epoch DESC LIMIT 1"
    )
    .bind(district)
    .fetch_optional(c)
    .await?))
}

/// The newest list of every district that has one.
pub async fn newest_all(db: &Db) -> Result<Vec<ListHead>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT s.district, s.epoch, s.issued_at, s.audit_seq FROM status_lists s \
         WHERE s.epoch = (SELECT MAX(epoch) FROM status_lists t WHERE t.district = s.district)"
    )
    .fetch_all(c)
    .await?))
}

pub async fn body(db: &Db, district: ListKey, epoch: i64) -> Result<Option<Vec<u8>>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT body FROM status_lists WHERE district = $1 AND epoch = $2"
    )
    .bind(district)
    .bind(epoch)
    .fetch_optional(c)
    .await?))
}

/// Stores a district's list as `epoch`; `false` if another server stored that epoch first.
/// That district's lists older than the previous one are dropped.
pub async fn insert(
    db: &Db,
    district: ListKey,
    epoch: i64,
    issued_at: DateTime<Utc>,
    audit_seq: i64,
    body: &[u8],
) -> Result<bool> {
    let mut tx = db.begin().await?;
    let n = crate::on_tx!(&mut tx, |c| {
        let n = sqlx::query(
            "INSERT INTO status_lists (district, epoch, issued_at, audit_seq, body) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (district, epoch) DO NOTHING",
        )
        .bind(district)
        .bind(epoch)
        .bind(issued_at)
        .bind(audit_seq)
        .bind(body)
        .execute(&mut *c)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM status_lists WHERE district = $1 AND epoch < $2")
            .bind(district)
            .bind(epoch - 1)
            .execute(&mut *c)
            .await?;
        n
    });
    tx.commit().await?;
    Ok(n == 1)
}

/// The list a stored `residents.status_index` belongs to, in SQL (0: the default list), as
/// `domain::ListSlot::from_stored` computes it.
pub(super) const DISTRICT_OF_SLOT: &str = "(CASE WHEN r.status_index >= 1073741824 \
     THEN (r.status_index - 1073741824) / 8388608 + 1 ELSE 0 END)";

/// The district standing for every list in `status_moved`.
const EVERYONE: ListKey = -1;

/// How every write to `status_moved` ends: the newest seq wins.
const MOVED_AT: &str = " ON CONFLICT (district) DO UPDATE SET seq = excluded.seq";

/// Marks one list (or [`EVERYONE`]) moved at `seq`.
async fn mark_list(tx: &mut Tx, list: ListKey, seq: i64) -> Result<()> {
    let sql = sqlx::AssertSqlSafe(format!(
        "INSERT INTO status_moved (district, seq) VALUES ($1, $2){MOVED_AT}"
    ));
    on_tx!(tx, |c| {
        sqlx::query(sql).bind(list).bind(seq).execute(c).await?;
    });
    Ok(())
}

/// Records, in the change's own transaction, which lists an audited change at `seq` may
/// have moved colours in (see `domain::audit::colour_scope`).
pub async fn mark_moved(tx: &mut Tx, scopes: &[ColourScope], seq: i64) -> Result<()> {
    let mut residents = Vec::new();
    let mut everyone = false;
    for s in scopes {
        match s {
            ColourScope::Unmoved => {}
            ColourScope::Everyone => everyone = true,
            ColourScope::Lists(lists) => {
                for l in lists {
                    mark_list(tx, *l, seq).await?;
                }
            }
            ColourScope::Resident(id) => match Uuid::parse_str(id) {
                Ok(u) => residents.push(u),
                Err(_) => everyone = true,
            },
            ColourScope::Zone(id) => match Uuid::parse_str(id) {
                Ok(z) => {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "INSERT INTO status_moved (district, seq) SELECT zd.district, $2 \
                         FROM zone_districts zd JOIN zones z ON z.id = zd.zone_id \
                         WHERE z.public_id = $1{MOVED_AT}"
                    ));
                    on_tx!(tx, |c| {
                        sqlx::query(sql).bind(z).bind(seq).execute(c).await?;
                    });
                }
                Err(_) => everyone = true,
            },
        }
    }
    if !residents.is_empty() && !everyone {
        residents.sort_unstable();
        residents.dedup();
        for chunk in residents.chunks(1000) {
            let n = on_tx!(tx, |c| {
                let mut q =
                    QueryBuilder::new("INSERT INTO status_moved (district, seq) SELECT DISTINCT ");
                q.push(DISTRICT_OF_SLOT)
                    .push(", ")
                    .push_bind(seq)
                    .push(" FROM residents r WHERE r.public_id IN (");
                let mut sep = q.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                q.push(")").push(MOVED_AT);
                q.build().execute(c).await?.rows_affected()
            });
            // A subject no longer on file (forgotten, or an id from elsewhere): its list is
            // unknown, so every list is.
            if n == 0 {
                everyone = true;
            }
        }
    }
    if everyone {
        mark_list(tx, EVERYONE, seq).await?;
    }
    Ok(())
}

/// The newest audit seq that may have moved each district's colours (every district's
/// under `None`).
pub async fn moved(db: &Db) -> Result<(Option<i64>, Vec<(ListKey, i64)>)> {
    let rows: Vec<(i64, i64)> = on_db!(db, |c| sqlx::query_as(
        "SELECT district, seq FROM status_moved"
    )
    .fetch_all(c)
    .await?);
    let all = rows.iter().find(|(d, _)| *d == EVERYONE).map(|(_, s)| *s);
    Ok((
        all,
        rows.into_iter().filter(|(d, _)| *d != EVERYONE).collect(),
    ))
}

/// Records lists a zone's members hold slots in (`ListKey`s), so that an order on the zone
/// finds every list it moves.
pub async fn note_zone_lists(tx: &mut Tx, zone_id: i64, lists: &[ListKey]) -> Result<()> {
    if lists.is_empty() {
        return Ok(());
    }
    on_tx!(tx, |c| {
        let mut q = QueryBuilder::new("INSERT INTO zone_districts (zone_id, district) ");
        q.push_values(lists, |mut b, l| {
            b.push_bind(zone_id).push_bind(*l);
        });
        q.push(" ON CONFLICT (zone_id, district) DO NOTHING");
        q.build().execute(c).await?;
    });
    Ok(())
}

/// The same for residents just put into zones, read from the database (a registration, an
/// import batch).
pub async fn note_zone_districts(tx: &mut Tx, resident_ids: &[i64]) -> Result<()> {
    for chunk in resident_ids.chunks(5000) {
        on_tx!(tx, |c| {
            let mut q = QueryBuilder::new(
                "INSERT INTO zone_districts (zone_id, district) SELECT DISTINCT m.zone_id, ",
            );
            q.push(DISTRICT_OF_SLOT).push(
                " FROM zone_members m JOIN residents r ON r.id = m.resident_id WHERE m.resident_id IN (",
            );
            let mut sep = q.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            q.push(") ON CONFLICT (zone_id, district) DO NOTHING");
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

/// The audit chain's length: any change that can move a colour is audited, so a list built
/// at this length is current until it grows (or an order or override expires).
pub async fn audit_seq(db: &Db) -> Result<i64> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT seq FROM audit_head WHERE id = 1"
    )
    .fetch_one(c)
    .await?))
}

/// Residents with identical facts, counted once, with every status index they hold (as
/// comma-separated text: one row per distinct set of facts instead of one per resident).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SlotGroup {
    #[sqlx(flatten)]
    pub facts: super::facts::FactRow,
    pub slots: String,
}

/// Every live resident's status index grouped by facts. `with_birth_year` only when a rule
/// reads `age`: far fewer groups otherwise.
pub async fn slot_groups(
    db: &Db,
    window: Window,
    with_birth_year: bool,
    now: DateTime<Utc>,
) -> Result<Vec<SlotGroup>> {
    // The one difference between the two databases here: the name of string aggregation.
    let slots = match db {
        Db::Sqlite { .. } => "group_concat(r.status_index, ',')",
        Db::Postgres(_) => "string_agg(CAST(r.status_index AS TEXT), ',')",
    };
    // A district's window is a small share of the table: read through the slot index. The
    // default list's is nearly all of it: a scan (unary `+` keeps SQLite's planner off the
    // index, which would fetch every row by a seek).
    let slot = if window.0 == 0 {
        "+r.status_index"
    } else {
        "r.status_index"
    };
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {columns}, {slots} AS slots FROM residents r {joins} \
         WHERE r.standing <> 'retired' AND {slot} >= $2 AND {slot} < $3 \
         GROUP BY {group_by}",
        columns = super::facts::fact_columns(with_birth_year),
        joins = super::facts::fact_joins(),
        group_by = super::facts::fact_group_by(with_birth_year),
    ));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(now)
        .bind(window.0)
        .bind(window.1)
        .fetch_all(c)
        .await?))
}

/// The status slots of retired records: no code of theirs is good any more.
pub async fn retired_slots(db: &Db, slots: Window) -> Result<Vec<i32>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT status_index FROM residents WHERE standing = 'retired' \
         AND status_index >= $1 AND status_index < $2"
    )
    .bind(slots.0)
    .bind(slots.1)
    .fetch_all(c)
    .await?))
}

/// The stored status indexes `[start, end)` of one list's slots.
pub type Window = (i64, i64);
