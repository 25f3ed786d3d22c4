//! Shelters and stays. Occupancy changes only by conditional updates and one open stay per
//! resident is a partial unique index: the limits hold with any number of desks and servers.

use super::{Db, Result, Tx};
use crate::{on_db, on_tx};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShelterRow {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub capacity: i32,
    pub occupancy: i32,
    pub accessibility: Json<Vec<String>>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Red residents admitted since the start of the day asked for.
    pub red_today: i64,
}

/// `$1`: the start of "today".
const COLUMNS: &str = "SELECT s.id, s.public_id, s.name, s.lat, s.lon, s.capacity, s.occupancy, \
    s.accessibility, s.status, s.created_at, s.updated_at, \
    (SELECT COUNT(*) FROM stays st WHERE st.shelter_id = s.id AND st.colour_at_entry = 2 \
     AND st.checked_in_at >= $1) AS red_today FROM shelters s";

pub struct NewShelter<'a> {
    pub public_id: Uuid,
    pub name: &'a str,
    pub lat: f64,
    pub lon: f64,
    pub capacity: i32,
    pub accessibility: &'a [String],
    pub created_by: &'a str,
}

pub async fn insert(tx: &mut Tx, s: &NewShelter<'_>, now: DateTime<Utc>) -> Result<i64> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_scalar(
        "INSERT INTO shelters (public_id, name, lat, lon, capacity, accessibility, status, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $8) RETURNING id"
    )
    .bind(s.public_id)
    .bind(s.name)
    .bind(s.lat)
    .bind(s.lon)
    .bind(s.capacity)
    .bind(Json(s.accessibility))
    .bind(s.created_by)
    .bind(now)
    .fetch_one(c)
    .await?
    }))
}

pub async fn list(db: &Db, day_start: DateTime<Utc>) -> Result<Vec<ShelterRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} ORDER BY s.id"));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(day_start)
        .fetch_all(c)
        .await?))
}

pub async fn get(db: &Db, public_id: Uuid, day_start: DateTime<Utc>) -> Result<Option<ShelterRow>> {
    let sql = sqlx::AssertSqlSafe(format!("{COLUMNS} WHERE s.public_id = $2"));
    Ok(on_db!(db, |c| sqlx::query_as(sql)
        .bind(day_start)
        .bind(public_id)
        .fetch_optional(c)
        .await?))
}

/// What a desk action needs to know of a shelter: no counts, so it stays cheap.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ShelterRef {
    pub id: i64,
    pub lat: f64,
    pub lon: f64,
    pub capacity: i32,
    pub status: String,
}

impl ShelterRef {
    pub fn location(&self) -> crate::domain::Location {
        crate::domain::Location {
            lat: self.lat,
            lon: self.lon,
        }
    }
}

pub async fn locate(tx: &mut Tx, public_id: Uuid) -> Result<Option<ShelterRef>> {
    Ok(on_tx!(tx, |c| sqlx::query_as(
        "SELECT id, lat, lon, capacity, status FROM shelters WHERE public_id = $1"
    )
    .bind(public_id)
    .fetch_optional(c)
    .await?))
}

/// [`locate`] outside a transaction (on SQLite, without waiting for the writer).
pub async fn locate_in(db: &Db, public_id: Uuid) -> Result<Option<ShelterRef>> {
    Ok(on_db!(db, |c| sqlx::query_as(
        "SELECT id, lat, lon, capacity, status FROM shelters WHERE public_id = $1"
    )
    .bind(public_id)
    .fetch_optional(c)
    .await?))
}

pub struct ShelterChange<'a> {
    pub name: Option<&'a str>,
    pub capacity: Option<i32>,
    pub status: Option<&'a str>,
    pub accessibility: Option<&'a [String]>,
}

/// Applies the given changes; `false` if there is no such shelter.
pub async fn update(
    tx: &mut Tx,
    id: i64,
    ch: &ShelterChange<'_>,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
        "UPDATE shelters SET name = COALESCE($2, name), capacity = COALESCE($3, capacity), \
         status = COALESCE($4, status), accessibility = COALESCE($5, accessibility), updated_at = $6 WHERE id = $1"
    )
    .bind(id)
    .bind(ch.name)
    .bind(ch.capacity)
    .bind(ch.status)
    .bind(ch.accessibility.map(Json))
    .bind(now)
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(n == 1)
}

/// Takes `n` places if the shelter is open and has them, in one statement. `None`: full or
/// closed (nothing changed).
pub async fn take_places(tx: &mut Tx, shelter_id: i64, n: i32) -> Result<Option<(i32, i32)>> {
    Ok(on_tx!(tx, |c| {
        sqlx::query_as(
        "UPDATE shelters SET occupancy = occupancy + $2 \
         WHERE id = $1 AND status = 'open' AND occupancy + $2 <= capacity RETURNING occupancy, capacity"
    )
    .bind(shelter_id)
    .bind(n)
    .fetch_optional(c)
    .await?
    }))
}

/// Gives back one place (a check-out): the occupancy and capacity after, `None` if the
/// shelter was already empty.
pub async fn free_place(tx: &mut Tx, shelter_id: i64) -> Result<Option<(i32, i32)>> {
    Ok(on_tx!(tx, |c| sqlx::query_as(
        "UPDATE shelters SET occupancy = occupancy - 1 WHERE id = $1 AND occupancy > 0 \
         RETURNING occupancy, capacity"
    )
    .bind(shelter_id)
    .fetch_optional(c)
    .await?))
}

pub struct NewStay<'a> {
    pub public_id: Uuid,
    pub shelter_id: i64,
    pub resident_id: i64,
    pub colour_at_entry: i32,
    pub by: &'a str,
}

/// Opens a stay unless the resident already has one open (the partial unique index decides,
/// also between servers). `false`: already sheltered, nothing written.
pub async fn open_stay(tx: &mut Tx, s: &NewStay<'_>, now: DateTime<Utc>) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
        "INSERT INTO stays (public_id, shelter_id, resident_id, colour_at_entry, checked_in_at, checked_in_by) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (resident_id) WHERE checked_out_at IS NULL DO NOTHING"
    )
    .bind(s.public_id)
    .bind(s.shelter_id)
    .bind(s.resident_id)
    .bind(s.colour_at_entry)
    .bind(now)
    .bind(s.by)
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(n == 1)
}

/// [`open_stay`] for many at once, one statement per 500: the public ids of the stays that
/// were opened. A resident who already has an open stay (also one opened earlier in this same
/// statement) gets none.
pub async fn open_stays(
    tx: &mut Tx,
    stays: &[NewStay<'_>],
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>> {
    let mut opened = Vec::with_capacity(stays.len());
    for chunk in stays.chunks(500) {
        on_tx!(tx, |c| {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO stays (public_id, shelter_id, resident_id, colour_at_entry, checked_in_at, checked_in_by) ",
            );
            q.push_values(chunk, |mut b, s| {
                b.push_bind(s.public_id)
                    .push_bind(s.shelter_id)
                    .push_bind(s.resident_id)
                    .push_bind(s.colour_at_entry)
                    .push_bind(now)
                    .push_bind(s.by);
            });
            q.push(
                " ON CONFLICT (resident_id) WHERE checked_out_at IS NULL DO NOTHING RETURNING public_id",
            );
            let ids: Vec<Uuid> = q.build_query_scalar().fetch_all(&mut *c).await?;
            opened.extend(ids);
        });
    }
    Ok(opened)
}

/// Takes back stays opened earlier in this transaction (an admission that then found no
/// room), as if they had never been.
pub async fn unopen_stays(tx: &mut Tx, stay_ids: &[Uuid]) -> Result<()> {
    for id in stay_ids {
        on_tx!(tx, |c| {
            sqlx::query("DELETE FROM stays WHERE public_id = $1")
                .bind(id)
                .execute(c)
                .await?;
        });
    }
    Ok(())
}

/// Where a resident is sheltered now, if anywhere.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OpenStay {
    pub stay_id: Uuid,
    pub stay_internal: i64,
    pub shelter_internal: i64,
    pub shelter_id: Uuid,
    pub shelter_name: String,
    pub resident_id: i64,
    pub since: DateTime<Utc>,
}

const OPEN_STAY: &str = "SELECT st.public_id AS stay_id, st.id AS stay_internal, s.id AS shelter_internal, \
    s.public_id AS shelter_id, s.name AS shelter_name, st.resident_id, st.checked_in_at AS since \
    FROM stays st JOIN shelters s ON s.id = st.shelter_id WHERE st.checked_out_at IS NULL";

pub async fn open_stay_of(tx: &mut Tx, resident_id: i64) -> Result<Option<OpenStay>> {
    let sql = sqlx::AssertSqlSafe(format!("{OPEN_STAY} AND st.resident_id = $1"));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(resident_id)
        .fetch_optional(c)
        .await?))
}

pub async fn open_stay_by_id(tx: &mut Tx, stay: Uuid) -> Result<Option<OpenStay>> {
    let sql = sqlx::AssertSqlSafe(format!("{OPEN_STAY} AND st.public_id = $1"));
    Ok(on_tx!(tx, |c| sqlx::query_as(sql)
        .bind(stay)
        .fetch_optional(c)
        .await?))
}

/// Closes an open stay once; `false` if it was closed already (by another desk).
pub async fn close_stay(
    tx: &mut Tx,
    stay_internal: i64,
    reason: &str,
    transferred_to: Option<i64>,
    by: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let n = on_tx!(tx, |c| {
        sqlx::query(
        "UPDATE stays SET checked_out_at = $2, checked_out_by = $3, checkout_reason = $4, transferred_to = $5 \
         WHERE id = $1 AND checked_out_at IS NULL"
    )
    .bind(stay_internal)
    .bind(now)
    .bind(by)
    .bind(reason)
    .bind(transferred_to)
    .execute(c)
    .await?
    .rows_affected()
    });
    Ok(n == 1)
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Occupant {
    pub stay_id: Uuid,
    pub resident_id: Uuid,
    pub name: String,
    pub id_last4: String,
    pub needs: Json<Vec<crate::domain::Need>>,
    pub since: DateTime<Utc>,
}

/// Who is in a shelter now, longest there first; `after` pages by stay id.
pub async fn occupants(
    db: &Db,
    shelter_id: i64,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, Occupant)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        #[sqlx(flatten)]
        o: Occupant,
    }
    let rows: Vec<Row> = on_db!(db, |c| {
        sqlx::query_as(
        "SELECT st.id, st.public_id AS stay_id, r.public_id AS resident_id, r.name, r.id_last4, r.needs, \
         st.checked_in_at AS since FROM stays st JOIN residents r ON r.id = st.resident_id \
         WHERE st.shelter_id = $1 AND st.checked_out_at IS NULL AND st.id > $2 ORDER BY st.id LIMIT $3"
    )
    .bind(shelter_id)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await?
    });
    Ok(rows.into_iter().map(|r| (r.id, r.o)).collect())
}

/// Open shelters with room, nearest to a point first (an equirectangular distance is exact
/// enough to order shelters within a city).
pub async fn nearest_with_room(
    tx: &mut Tx,
    lat: f64,
    lon: f64,
    except: i64,
    limit: i64,
) -> Result<Vec<(Uuid, String, f64, f64, i32)>> {
    let k = lat.to_radians().cos();
    Ok(on_tx!(tx, |c| sqlx::query_as(
        "SELECT public_id, name, lat, lon, capacity - occupancy FROM shelters \
         WHERE status = 'open' AND occupancy < capacity AND id <> $3 \
         ORDER BY (lat - $1) * (lat - $1) + (lon - $2) * (lon - $2) * $4 * $4, id LIMIT $5"
    )
    .bind(lat)
    .bind(lon)
    .bind(except)
    .bind(k)
    .bind(limit)
    .fetch_all(c)
    .await?))
}

/// A shelter's id inside the database.
pub async fn internal_id_of(db: &Db, public_id: Uuid) -> Result<Option<i64>> {
    Ok(on_db!(db, |c| sqlx::query_scalar(
        "SELECT id FROM shelters WHERE public_id = $1"
    )
    .bind(public_id)
    .fetch_optional(c)
    .await?))
}
