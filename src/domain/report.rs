//! Hazard reports from residents, and the workflow officials move them through.

use super::Invalid;
use super::resident::{Location, vocabulary};
use serde::Deserialize;

vocabulary!(
    /// What a resident saw.
    ReportCategory, "category", "invalid_category", {
        Flooding => "flooding",
        Landslide => "landslide",
        LeveeBreach => "levee_breach",
        RoadBlocked => "road_blocked",
        PowerLine => "power_line",
        TrappedPeople => "trapped_people",
        Other => "other",
    }
);

vocabulary!(
    /// Where a report is in its handling.
    ReportStatus, "status", "invalid_status", {
        New => "new",
        Verified => "verified",
        Assigned => "assigned",
        Resolved => "resolved",
        Dismissed => "dismissed",
    }
);

impl ReportStatus {
    /// new → verified → assigned → resolved; any open report may be dismissed, and a verified
    /// one resolved without being assigned. Resolved and dismissed are final.
    pub fn may_become(self, next: ReportStatus) -> bool {
        use ReportStatus::*;
        matches!(
            (self, next),
            (New, Verified)
                | (Verified, Assigned)
                | (Verified, Resolved)
                | (Assigned, Resolved)
                | (New | Verified | Assigned, Dismissed)
        )
    }
}

impl ReportCategory {
    /// Reports that go to the top of the list.
    pub fn urgent(self) -> bool {
        self == ReportCategory::TrappedPeople
    }
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportForm {
    /// `lat` and `lon` (or, in a multipart form, the fields `lat` and `lon`).
    pub location: Option<Location>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub category: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct NewReport {
    pub location: Location,
    pub category: ReportCategory,
    pub text: String,
}

/// A photo the report may carry: JPEG or PNG by its first bytes.
pub fn photo_type(bytes: &[u8]) -> Result<&'static str, Invalid> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else {
        Err(Invalid::new(
            "photo",
            "invalid_photo",
            "the photo must be a JPEG or PNG image",
        ))
    }
}

impl NewReport {
    pub fn parse(f: &ReportForm) -> Result<NewReport, Invalid> {
        let loc = match (f.location, f.lat, f.lon) {
            (Some(l), None, None) => Location::parse(l.lat, l.lon)?,
            (None, Some(lat), Some(lon)) => Location::parse(lat, lon)?,
            _ => {
                return Err(Invalid::new(
                    "location",
                    "invalid_location",
                    "give location {lat, lon} (or the fields lat and lon)",
                ));
            }
        };
        let text = f.text.trim();
        if text.is_empty() || text.chars().count() > 2000 {
            return Err(Invalid::new(
                "text",
                "invalid_text",
                "text is 1 to 2000 characters",
            ));
        }
        Ok(NewReport {
            location: loc,
            category: ReportCategory::parse(&f.category)?,
            text: text.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ReportStatus::*;

    #[test]
    fn the_workflow_moves_forward_only() {
        assert!(New.may_become(Verified));
        assert!(Verified.may_become(Assigned));
        assert!(Assigned.may_become(Resolved));
        assert!(New.may_become(Dismissed));
        assert!(!New.may_become(Resolved));
        assert!(!Resolved.may_become(New));
        assert!(!Dismissed.may_become(Verified));
        assert!(!New.may_become(New));
    }
}
