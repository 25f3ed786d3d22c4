//! Alerts as they arrive, parsed: the CAP 1.2 enumerations (OASIS Common Alerting Protocol),
//! text within limits, at least one zone.

use super::Invalid;
use super::message::Language;
use super::resident::vocabulary;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

vocabulary!(
    /// CAP `category`.
    Category, "category", "invalid_category", {
        Geo => "Geo", Met => "Met", Safety => "Safety", Security => "Security",
        Rescue => "Rescue", Fire => "Fire", Health => "Health", Env => "Env",
        Transport => "Transport", Infra => "Infra", Cbrne => "CBRNE", Other => "Other",
    }
);

vocabulary!(
    /// CAP `responseType`.
    ResponseType, "response_type", "invalid_response_type", {
        Shelter => "Shelter", Evacuate => "Evacuate", Prepare => "Prepare", Execute => "Execute",
        Avoid => "Avoid", Monitor => "Monitor", Assess => "Assess", AllClear => "AllClear",
        NoResponse => "None",
    }
);

vocabulary!(
    /// CAP `urgency`.
    Urgency, "urgency", "invalid_urgency", {
        Immediate => "Immediate", Expected => "Expected", Future => "Future", Past => "Past",
        Unknown => "Unknown",
    }
);

vocabulary!(
    /// CAP `severity`.
    Severity, "severity", "invalid_severity", {
        Extreme => "Extreme", Severe => "Severe", Moderate => "Moderate", Minor => "Minor",
        Unknown => "Unknown",
    }
);

vocabulary!(
    /// CAP `certainty`.
    Certainty, "certainty", "invalid_certainty", {
        Observed => "Observed", Likely => "Likely", Possible => "Possible", Unlikely => "Unlikely",
        Unknown => "Unknown",
    }
);

vocabulary!(
    /// CAP `msgType`, the ones an official sends.
    MsgType, "msg_type", "invalid_msg_type", {
        Alert => "Alert", Update => "Update", Cancel => "Cancel",
    }
);

/// An alert as sent by an official.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertForm {
    /// The zones whose residents receive it (snapshotted when sent).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub zones: Vec<Uuid>,
    /// And/or a drawn area, a GeoJSON Polygon or MultiPolygon: whoever lives inside it.
    #[schema(value_type = Option<Object>)]
    pub area: Option<serde_json::Value>,
    /// The area's name as people know it (CAP `areaDesc`), e.g. "Yiqiao riverside".
    pub area_desc: Option<String>,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    /// CAP category, default `Met`.
    pub category: Option<String>,
    pub event: String,
    pub response_type: String,
    pub urgency: String,
    pub severity: String,
    pub certainty: String,
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub incident_id: Option<Uuid>,
    /// `Alert` (default), `Update` or `Cancel`; the last two need `references`.
    pub msg_type: Option<String>,
    /// The alert this one updates or cancels.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub references: Option<Uuid>,
    /// Minutes between the steps of escalation for whoever has not acknowledged: an SMS,
    /// then a voice call, then the village's DingTalk group and email (1 to 1440).
    pub escalate_after: Option<i64>,
    /// The language of `headline`, `description` and `instruction`: `zh` (default) or `en`.
    pub language: Option<String>,
    /// The same alert in the other language; each resident is sent the one they read.
    pub translation: Option<TranslationForm>,
}

/// An alert's text in its second language.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TranslationForm {
    pub headline: String,
    pub description: String,
    #[serde(default)]
    pub instruction: String,
}

/// The words of an alert in one language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct AlertText {
    pub language: Language,
    pub headline: String,
    pub description: String,
    pub instruction: String,
}

impl AlertText {
    fn parse(
        language: Language,
        headline: &str,
        description: &str,
        instruction: &str,
    ) -> Result<Self, Invalid> {
        Ok(Self {
            language,
            headline: text("headline", headline, 160, true)?,
            description: text("description", description, 4000, true)?,
            instruction: text("instruction", instruction, 2000, false)?,
        })
    }

    /// The short message a phone shows: headline and what to do.
    pub fn short(&self) -> String {
        let s = if self.instruction.is_empty() {
            self.headline.clone()
        } else {
            let sep = if self.language == Language::Zh {
                "："
            } else {
                ": "
            };
            format!("{}{sep}{}", self.headline, self.instruction)
        };
        s.chars().take(500).collect()
    }
}

#[derive(Debug, Clone)]
pub struct NewAlert {
    pub zones: Vec<Uuid>,
    pub area: Option<TargetArea>,
    pub headline: String,
    pub description: String,
    pub instruction: String,
    pub category: Category,
    pub event: String,
    pub response_type: ResponseType,
    pub urgency: Urgency,
    pub severity: Severity,
    pub certainty: Certainty,
    pub expires_at: Option<DateTime<Utc>>,
    pub incident_id: Option<Uuid>,
    pub msg_type: MsgType,
    pub references: Option<Uuid>,
    pub escalate_at: Option<DateTime<Utc>>,
    pub escalate_every: Option<chrono::Duration>,
    pub language: Language,
    pub translation: Option<AlertText>,
}

/// A drawn target area and what to call it.
#[derive(Debug, Clone)]
pub struct TargetArea {
    pub shape: crate::geo::Area,
    pub desc: String,
}

pub const MAX_ZONES: usize = 100;

fn text(field: &'static str, raw: &str, max: usize, required: bool) -> Result<String, Invalid> {
    let t = raw.trim();
    if required && t.is_empty() {
        return Err(Invalid::new(
            field,
            "required",
            format!("{field} is required"),
        ));
    }
    if t.chars().count() > max {
        return Err(Invalid::new(
            field,
            "too_long",
            format!("{field} is at most {max} characters"),
        ));
    }
    // Nor the two characters XML forbids outright: this text becomes CAP and Atom.
    if t.chars()
        .any(|c| (c.is_control() && c != '\n') || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
    {
        return Err(Invalid::new(
            field,
            "invalid_text",
            format!("{field} contains control characters or characters XML forbids"),
        ));
    }
    Ok(t.to_owned())
}

impl NewAlert {
    pub fn parse(f: &AlertForm, now: DateTime<Utc>) -> Result<NewAlert, Invalid> {
        let mut zones = f.zones.clone();
        zones.sort();
        zones.dedup();
        let area = match &f.area {
            None => None,
            Some(g) => Some(TargetArea {
                shape: crate::geo::Area::from_geometry(g).map_err(|mut e| {
                    e.field = "area".into();
                    e
                })?,
                desc: text(
                    "area_desc",
                    f.area_desc.as_deref().unwrap_or("Alert area"),
                    200,
                    true,
                )?,
            }),
        };
        if f.area.is_none() && f.area_desc.is_some() {
            return Err(Invalid::new(
                "area_desc",
                "invalid_area",
                "area_desc names an area; give the area too",
            ));
        }
        if (zones.is_empty() && area.is_none()) || zones.len() > MAX_ZONES {
            return Err(Invalid::new(
                "zones",
                "invalid_zones",
                format!("give 1 to {MAX_ZONES} zones, or an area, or both"),
            ));
        }
        let msg_type = MsgType::parse(f.msg_type.as_deref().unwrap_or("Alert"))?;
        if (msg_type != MsgType::Alert) != f.references.is_some() {
            return Err(Invalid::new(
                "references",
                "invalid_references",
                "an Update or Cancel names the alert it references; an Alert names none",
            ));
        }
        if f.expires_at.is_some_and(|e| e <= now) {
            return Err(Invalid::new(
                "expires_at",
                "invalid_expiry",
                "expires_at must be in the future",
            ));
        }
        if f.escalate_after.is_some_and(|m| !(1..=1440).contains(&m)) {
            return Err(Invalid::new(
                "escalate_after",
                "invalid_escalation",
                "escalate_after is 1 to 1440 minutes",
            ));
        }
        let language = Language::parse(f.language.as_deref().unwrap_or("zh"))?;
        let translation = match &f.translation {
            None => None,
            Some(t) => Some(
                AlertText::parse(
                    language.other(),
                    &t.headline,
                    &t.description,
                    &t.instruction,
                )
                .map_err(|mut e| {
                    e.field = format!("translation.{}", e.field);
                    e
                })?,
            ),
        };
        Ok(NewAlert {
            escalate_at: f.escalate_after.map(|m| now + chrono::Duration::minutes(m)),
            escalate_every: f.escalate_after.map(chrono::Duration::minutes),
            language,
            translation,
            zones,
            area,
            headline: text("headline", &f.headline, 160, true)?,
            description: text("description", &f.description, 4000, true)?,
            instruction: text("instruction", &f.instruction, 2000, false)?,
            category: Category::parse(f.category.as_deref().unwrap_or("Met"))?,
            event: text("event", &f.event, 100, true)?,
            response_type: ResponseType::parse(&f.response_type)?,
            urgency: Urgency::parse(&f.urgency)?,
            severity: Severity::parse(&f.severity)?,
            certainty: Certainty::parse(&f.certainty)?,
            expires_at: f.expires_at,
            incident_id: f.incident_id,
            msg_type,
            references: f.references,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> AlertForm {
        AlertForm {
            zones: vec![Uuid::nil()],
            area: None,
            area_desc: None,
            headline: "Levee breach at Yiqiao".into(),
            description: "Water rising 30 cm an hour.".into(),
            instruction: "Go to the school on high ground now.".into(),
            category: None,
            event: "Flood".into(),
            response_type: "Evacuate".into(),
            urgency: "Immediate".into(),
            severity: "Extreme".into(),
            certainty: "Observed".into(),
            expires_at: None,
            incident_id: None,
            msg_type: None,
            references: None,
            escalate_after: None,
            language: None,
            translation: None,
        }
    }

    #[test]
    fn a_translation_is_the_other_language_and_checked_like_the_original() {
        let mut f = form();
        f.language = Some("en".into());
        f.translation = Some(TranslationForm {
            headline: "义桥溃堤".into(),
            description: "水位每小时上涨30厘米。".into(),
            instruction: "立即前往高处的学校。".into(),
        });
        let a = NewAlert::parse(&f, Utc::now()).unwrap();
        assert_eq!(a.language, Language::En);
        let t = a.translation.unwrap();
        assert_eq!(t.language, Language::Zh);
        assert_eq!(t.short(), "义桥溃堤：立即前往高处的学校。");
        f.translation.as_mut().unwrap().headline = String::new();
        let e = NewAlert::parse(&f, Utc::now()).unwrap_err();
        assert_eq!(e.field, "translation.headline");
        f.translation = None;
        f.language = Some("de".into());
        assert_eq!(
            NewAlert::parse(&f, Utc::now()).unwrap_err().code,
            "invalid_language"
        );
    }

    #[test]
    fn cap_values_parse_as_cap_spells_them() {
        let a = NewAlert::parse(&form(), Utc::now()).unwrap();
        assert_eq!(a.category.as_str(), "Met");
        assert_eq!(a.response_type.as_str(), "Evacuate");
        assert_eq!(ResponseType::parse("None").unwrap().as_str(), "None");
        assert_eq!(Category::parse("CBRNE").unwrap(), Category::Cbrne);
        let mut f = form();
        f.urgency = "immediate".into();
        assert_eq!(
            NewAlert::parse(&f, Utc::now()).unwrap_err().code,
            "invalid_urgency"
        );
    }

    #[test]
    fn updates_need_a_reference_and_alerts_none() {
        let mut f = form();
        f.msg_type = Some("Update".into());
        assert!(NewAlert::parse(&f, Utc::now()).is_err());
        f.references = Some(Uuid::nil());
        assert!(NewAlert::parse(&f, Utc::now()).is_ok());
        f.msg_type = None;
        assert!(NewAlert::parse(&f, Utc::now()).is_err());
        let mut f = form();
        f.zones.clear();
        assert!(NewAlert::parse(&f, Utc::now()).is_err());
        let mut f = form();
        f.headline = "x".repeat(161);
        assert!(NewAlert::parse(&f, Utc::now()).is_err());
    }

    #[test]
    fn an_area_may_stand_in_for_zones_and_is_checked() {
        let mut f = form();
        f.zones.clear();
        f.area = Some(serde_json::json!({"type": "Polygon",
            "coordinates": [[[120.0, 30.0], [120.1, 30.0], [120.1, 30.1], [120.0, 30.0]]]}));
        let a = NewAlert::parse(&f, Utc::now()).unwrap();
        assert_eq!(a.area.unwrap().desc, "Alert area");
        f.area = Some(serde_json::json!({"type": "Point", "coordinates": [120.0, 30.0]}));
        let e = NewAlert::parse(&f, Utc::now()).unwrap_err();
        assert_eq!((e.field.as_str(), e.code), ("area", "unsupported_geometry"));
        let mut f = form();
        f.area_desc = Some("Riverside".into());
        assert_eq!(
            NewAlert::parse(&f, Utc::now()).unwrap_err().code,
            "invalid_area"
        );
    }
}
