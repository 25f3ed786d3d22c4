//! The audit chain: each entry's hash covers the previous entry's hash and the entry's own
//! canonical content, so that editing, deleting or reordering any entry breaks every link after it.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a use case asks to be recorded. The store adds the sequence number, the time and the
/// chain hash in the same transaction as the change.
#[derive(Debug, Clone)]
pub struct AuditDraft {
    pub actor: String,
    pub action: &'static str,
    pub subject: Option<String>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: Option<String>,
    /// The resident whose key seals the entry's personal values when the subject is not
    /// that resident (see [`key_owner`]).
    pub about: Option<String>,
    /// Whose colours the change moved, when the use case knows better than [`colour_scope`]
    /// can tell from the action (an import batch: the lists its residents took slots in).
    /// Not part of the entry.
    pub moves: Option<ColourScope>,
}

impl AuditDraft {
    pub fn new(actor: impl Into<String>, action: &'static str) -> Self {
        Self {
            actor: actor.into(),
            action,
            subject: None,
            before: None,
            after: None,
            reason: None,
            about: None,
            moves: None,
        }
    }

    /// Names the status lists the change moved (0: the default list).
    pub fn moves_lists(mut self, lists: Vec<i64>) -> Self {
        self.moves = Some(ColourScope::Lists(lists));
        self
    }

    /// The resident this entry is about when its subject is something else (an approval).
    pub fn about(mut self, resident: impl std::fmt::Display) -> Self {
        self.about = Some(format!("resident:{resident}"));
        self
    }

    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    pub fn before(mut self, v: serde_json::Value) -> Self {
        self.before = Some(v);
        self
    }

    pub fn after(mut self, v: serde_json::Value) -> Self {
        self.after = Some(v);
        self
    }

    pub fn reason(mut self, r: impl Into<String>) -> Self {
        self.reason = Some(r.into());
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// The link before the first entry.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    pub fn from_slice(b: &[u8]) -> Option<Self> {
        b.try_into().ok().map(ChainHash)
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

/// One stored entry, exactly as it is hashed. `before` and `after` are kept as the JSON text
/// that was hashed: a database that re-orders JSON keys (PostgreSQL's JSONB does) must not
/// break the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRecord {
    pub seq: i64,
    #[serde(serialize_with = "micros")]
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
}

fn micros<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
}

impl AuditRecord {
    pub fn from_draft(seq: i64, at: DateTime<Utc>, d: &AuditDraft) -> Self {
        Self {
            seq,
            // Both databases keep microseconds; hashing more would not survive a round trip.
            at: at.trunc_subsecs(6),
            actor: d.actor.clone(),
            action: d.action.to_owned(),
            subject: d.subject.clone(),
            before: d.before.as_ref().map(|v| v.to_string()),
            after: d.after.as_ref().map(|v| v.to_string()),
            reason: d.reason.clone(),
        }
    }

    pub fn chain_hash(&self, prev: &ChainHash) -> ChainHash {
        let mut h = Sha256::new();
        h.update(prev.0);
        // Field order is fixed by the struct: this is the canonical form.
        h.update(serde_json::to_vec(self).unwrap_or_default());
        ChainHash(h.finalize().into())
    }
}

/// What begins a sealed value: `sealed:v1:<owner>:<base64url>`.
pub const SEALED: &str = "sealed:v1:";

/// The facts of an entry about a resident that identify nobody and stay readable in the
/// chain: ids, colours, counts, statuses and categories. Every other field of its
/// before/after (an address, a location, needs, whatever a later version adds) is sealed
/// under the resident's key: privacy is the default, readability the exception.
pub const CLEAR_FACTS: &[&str] = &[
    "acknowledged_alert",
    "appeal",
    "approval",
    "approved",
    "approved_by",
    "cleared",
    "colour",
    "day",
    "dependents",
    "dependents_detached",
    "document",
    "erased",
    "expires_at",
    "head",
    "id_card_checked",
    "item",
    "kept",
    "located",
    "other_records",
    "override",
    "quantity",
    "reason",
    "reason_code",
    "requested_by",
    "residents",
    "revoked_tokens",
    "shelter",
    "signed_out_devices",
    "standing",
    "status",
    "stay",
    "transferred_to",
    "upheld",
    "used",
    "waiting_for",
    "worse",
];

/// Whose key seals an entry's personal values: the resident it is about, else the season
/// (the year of the entry) for free text about no one person (a bulk override's reason).
pub fn key_owner(d: &AuditDraft, at: DateTime<Utc>) -> String {
    d.about
        .clone()
        .or_else(|| {
            d.subject
                .as_ref()
                .filter(|s| s.starts_with("resident:"))
                .cloned()
        })
        .unwrap_or_else(|| season_owner(at))
}

pub fn season_owner(at: DateTime<Utc>) -> String {
    use chrono::Datelike;
    format!("season:{}", at.year())
}

/// What binds a sealed value to its place: owner, entry and field.
pub fn seal_context(owner: &str, seq: i64, field: &str) -> String {
    format!("{owner}|{seq}|{field}")
}

/// `(owner, ciphertext)` of a sealed value.
pub fn sealed_parts(s: &str) -> Option<(&str, &str)> {
    s.strip_prefix(SEALED)?.rsplit_once(':')
}

/// The fields of `record` that must be sealed under `owner`, as (field, plaintext): every
/// free-text reason, and for an entry about a resident every before/after field that is not
/// a [`CLEAR_FACTS`] fact. Values already sealed are left alone, so sealing twice is sealing
/// once.
pub fn personal_fields(record: &AuditRecord, owner: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(r) = &record.reason
        && sealed_parts(r).is_none()
    {
        out.push(("reason".to_owned(), r.clone()));
    }
    if owner.starts_with("resident:") {
        for (side, text) in [("before", &record.before), ("after", &record.after)] {
            let Some(obj) = text
                .as_deref()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
                .and_then(|v| match v {
                    serde_json::Value::Object(o) => Some(o),
                    _ => None,
                })
            else {
                continue;
            };
            for (k, v) in obj {
                let already = v.as_str().is_some_and(|s| sealed_parts(s).is_some());
                if !CLEAR_FACTS.contains(&k.as_str()) && !already {
                    out.push((format!("{side}.{k}"), v.to_string()));
                }
            }
        }
    }
    out
}

/// Puts sealed values in place of the fields named (from [`personal_fields`]).
pub fn replace_fields(record: &mut AuditRecord, sealed: &[(String, String)]) {
    for (field, value) in sealed {
        if field == "reason" {
            record.reason = Some(value.clone());
            continue;
        }
        let Some((side, key)) = field.split_once('.') else {
            continue;
        };
        let slot = if side == "before" {
            &mut record.before
        } else {
            &mut record.after
        };
        if let Some(mut v) = slot
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            && let Some(o) = v.as_object_mut()
        {
            o.insert(key.to_owned(), serde_json::Value::String(value.clone()));
            *slot = Some(v.to_string());
        }
    }
}

/// Opens the sealed values of one side (before/after) in place: `open(owner, context,
/// ciphertext)` gives the plaintext JSON text, or None when the key is gone (then the value
/// reads `"forgotten"`).
pub fn open_side(
    v: &mut serde_json::Value,
    seq: i64,
    side: &str,
    open: &impl Fn(&str, &str, &str) -> Option<String>,
) {
    let Some(o) = v.as_object_mut() else {
        return;
    };
    for (k, val) in o.iter_mut() {
        let Some((owner, ct)) = val.as_str().and_then(sealed_parts) else {
            continue;
        };
        let context = seal_context(owner, seq, &format!("{side}.{k}"));
        *val = open(owner, &context, ct)
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_else(|| serde_json::Value::String(FORGOTTEN.into()));
    }
}

/// What a sealed value reads once its key was destroyed.
pub const FORGOTTEN: &str = "forgotten";

#[cfg(test)]
mod tests {
    use super::*;

    fn record(seq: i64, reason: &str) -> AuditRecord {
        let d = AuditDraft::new("user:a", "resident.update")
            .subject("resident:b")
            .after(serde_json::json!({"needs": ["elderly"]}))
            .reason(reason);
        AuditRecord::from_draft(
            seq,
            DateTime::from_timestamp(1_790_000_000, 123_456_789).unwrap(),
            &d,
        )
    }

    #[test]
    fn hash_depends_on_content_and_previous_link() {
        let a = record(1, "x").chain_hash(&ChainHash::GENESIS);
        assert_eq!(a, record(1, "x").chain_hash(&ChainHash::GENESIS));
        assert_ne!(a, record(1, "y").chain_hash(&ChainHash::GENESIS));
        assert_ne!(a, record(2, "x").chain_hash(&ChainHash::GENESIS));
        assert_ne!(a, record(1, "x").chain_hash(&a));
    }

    #[test]
    fn an_entry_about_a_resident_seals_everything_but_its_facts() {
        let d = AuditDraft::new("official:x", "resident.update")
            .subject("resident:b")
            .before(serde_json::json!({"location": {"lat": 30.1, "lon": 120.2}, "colour": "red"}))
            .after(serde_json::json!({"address": "No. 5 River Road", "colour": "red"}))
            .reason("dialysis three times a week");
        // A fixed time: the record's timestamp is in the text below, and a time of day such
        // as 04:25:30.1… would contain "30.1", the latitude the test looks for.
        let at = chrono::DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let owner = key_owner(&d, at);
        assert_eq!(owner, "resident:b");
        let r = AuditRecord::from_draft(1, at, &d);
        let mut fields: Vec<String> = personal_fields(&r, &owner)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        fields.sort();
        assert_eq!(fields, ["after.address", "before.location", "reason"]);
        let mut sealed = r.clone();
        let replaced: Vec<(String, String)> = personal_fields(&r, &owner)
            .into_iter()
            .map(|(f, _)| (f, format!("{SEALED}{owner}:xyz")))
            .collect();
        replace_fields(&mut sealed, &replaced);
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(!text.contains("River") && !text.contains("dialysis") && !text.contains("30.1"));
        assert!(text.contains("red"), "the colour stays readable: {text}");
        assert!(
            personal_fields(&sealed, &owner).is_empty(),
            "sealing twice is once"
        );
    }

    #[test]
    fn free_text_about_no_one_resident_is_sealed_under_the_season() {
        let d = AuditDraft::new("official:x", "override.bulk")
            .subject("zone:z")
            .after(serde_json::json!({"name": "West bank"}))
            .reason("the old people's home on the west bank");
        let at = DateTime::from_timestamp(1_790_000_000, 0).unwrap();
        let owner = key_owner(&d, at);
        assert_eq!(owner, "season:2026");
        let r = AuditRecord::from_draft(1, at, &d);
        let fields: Vec<String> = personal_fields(&r, &owner)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert_eq!(
            fields,
            ["reason"],
            "a zone's name is no one's personal data"
        );
        assert_eq!(
            key_owner(&d.clone().about("r1"), at),
            "resident:r1",
            "an approval names the resident it is about"
        );
    }

    #[test]
    fn time_is_hashed_at_microsecond_precision() {
        assert_eq!(record(1, "x").at.timestamp_subsec_nanos(), 123_456_000);
    }
}

/// Whose colours an audited change may have moved: what decides which status lists are
/// rebuilt (DESIGN.md, "Status lists per district"). Every change that can move a colour is
/// audited, so this one function, applied where every entry is appended, covers them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColourScope {
    /// Nothing a colour is computed from changed (a sign-in, a read, an alert…).
    Unmoved,
    /// One resident's (their public id).
    Resident(String),
    /// A zone's members', past and present (its public id).
    Zone(String),
    /// Those of whoever holds a slot in these lists (0: the default list).
    Lists(Vec<i64>),
    /// Anyone's: a rule set, an import, an incident, or an action this list does not know.
    Everyone,
}

/// Actions that never move a colour. Anything not named here, and not about one resident or
/// one zone, moves everyone's: a new action is safe (if slow) until it is classified. (A key
/// rotation moves no colour but is left to move every list: each is then signed by the new key.)
const UNMOVED_PREFIXES: &[&str] = &[
    "auth.",
    "alert.",
    "alert_contact.",
    "device.",
    "report.",
    "relief.",
    "user.",
    "audit.",
    "district.",
];
const UNMOVED: &[&str] = &[
    "codes.print",
    "resident.lookup",
    "rules.create",
    "rules.activation_requested",
    "resident.delete_requested",
    "appeal.open",
];

pub fn colour_scope(d: &AuditDraft) -> ColourScope {
    if let Some(m) = &d.moves {
        return m.clone();
    }
    if d.action.ends_with(".read")
        || d.action.ends_with("_requested")
        || d.action.ends_with("_reject")
        || UNMOVED.contains(&d.action)
        || UNMOVED_PREFIXES.iter().any(|p| d.action.starts_with(p))
    {
        return ColourScope::Unmoved;
    }
    let about = d.about.as_deref().or(d.subject.as_deref()).unwrap_or("");
    if let Some(r) = about.strip_prefix("resident:") {
        return ColourScope::Resident(r.to_owned());
    }
    if let Some(z) = d.subject.as_deref().and_then(|s| s.strip_prefix("zone:")) {
        return ColourScope::Zone(z.to_owned());
    }
    ColourScope::Everyone
}

#[cfg(test)]
mod scope_tests {
    use super::*;

    #[test]
    fn a_change_moves_the_colours_it_is_about_and_an_unknown_one_moves_everyone() {
        let scope = |d: AuditDraft| colour_scope(&d);
        assert_eq!(
            scope(AuditDraft::new("staff:x", "shelter.checkin").subject("resident:r1")),
            ColourScope::Resident("r1".into())
        );
        assert_eq!(
            scope(
                AuditDraft::new("official:x", "override.approve")
                    .subject("approval:a1")
                    .about("r2")
            ),
            ColourScope::Resident("r2".into())
        );
        assert_eq!(
            scope(AuditDraft::new("official:x", "order.issue").subject("zone:z1")),
            ColourScope::Zone("z1".into())
        );
        for unmoved in [
            "auth.sign_in",
            "alert.send",
            "zone.residents.read",
            "codes.print",
        ] {
            assert_eq!(
                scope(AuditDraft::new("x", unmoved).subject("resident:r1")),
                ColourScope::Unmoved,
                "{unmoved}"
            );
        }
        assert_eq!(
            scope(AuditDraft::new("x", "override.set_requested").subject("resident:r1")),
            ColourScope::Unmoved
        );
        assert_eq!(
            scope(AuditDraft::new("operator", "residents.import").moves_lists(vec![0, 3])),
            ColourScope::Lists(vec![0, 3])
        );
        for everyone in [
            "rules.activate",
            "residents.import",
            "incident.all_clear",
            "new.thing",
        ] {
            assert_eq!(
                scope(AuditDraft::new("x", everyone).subject("incident:i1")),
                ColourScope::Everyone,
                "{everyone}"
            );
        }
    }
}
