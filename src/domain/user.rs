//! Staff, officials, admins and gateways as the admin creates them: a display name, and for an
//! official the jurisdiction (a district polygon, validated as zones are) they act within.

use super::Invalid;

/// A staff member's or official's display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 100 || name.chars().any(char::is_control) {
            return Err(Invalid::new(
                "name",
                "invalid_name",
                "name must be 1 to 100 characters, without control characters",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The district an official may act in: a GeoJSON Polygon or MultiPolygon (WGS 84). Parsed
/// once, by the same validator as zones (a ring that crosses itself is refused here rather
/// than stored and later silently denying everything), and carried with the principal.
#[derive(Debug, Clone, PartialEq)]
pub struct Jurisdiction(std::sync::Arc<crate::geo::Area>);

impl Jurisdiction {
    pub fn parse(raw: &serde_json::Value) -> Result<Self, Invalid> {
        crate::geo::Area::from_geometry(raw)
            .map(|a| Self(std::sync::Arc::new(a)))
            .map_err(|e| {
                Invalid::new(
                    "jurisdiction",
                    "invalid_jurisdiction",
                    format!("jurisdiction: {}", e.message),
                )
            })
    }

    /// Nothing is inside it: what a stored jurisdiction that no longer parses becomes, so that
    /// it denies everything rather than grants everything.
    pub fn nowhere() -> Self {
        Self(std::sync::Arc::new(crate::geo::Area {
            shape: ::geo::MultiPolygon::new(Vec::new()),
            bbox: ::geo::Rect::new((0.0, 0.0), (0.0, 0.0)),
            vertices: 0,
        }))
    }

    pub fn area(&self) -> &crate::geo::Area {
        &self.0
    }

    /// A resident at `location` is inside (edges count as inside).
    pub fn contains(&self, location: super::Location) -> bool {
        !self.0.shape.0.is_empty() && self.0.contains(location)
    }

    /// A zone or drawn area lies wholly inside.
    pub fn covers(&self, area: &crate::geo::Area) -> bool {
        !self.0.shape.0.is_empty() && area.within(&self.0)
    }

    pub fn to_json(&self) -> serde_json::Value {
        self.0.to_geojson()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn polygon_jurisdiction() {
        let ok = json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.5, 30.0], [120.5, 30.5], [120.0, 30.0]]]});
        assert!(Jurisdiction::parse(&ok).is_ok());
        let open = json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.5, 30.0], [120.5, 30.5], [120.1, 30.0]]]});
        assert!(Jurisdiction::parse(&open).is_err());
        let point = json!({"type": "Point", "coordinates": [120.0, 30.0]});
        assert!(Jurisdiction::parse(&point).is_err());
        assert!(Jurisdiction::parse(&json!("district 9")).is_err());
        // A bow tie: the zone validator refuses it, so the jurisdiction validator does too.
        let bow_tie = json!({"type": "Polygon", "coordinates": [[[120.0, 30.0], [120.5, 30.5], [120.5, 30.0], [120.0, 30.5], [120.0, 30.0]]]});
        let e = Jurisdiction::parse(&bow_tie).unwrap_err();
        assert_eq!(e.field, "jurisdiction");
        assert!(e.message.contains("crosses itself"), "{}", e.message);
        let j = Jurisdiction::parse(&ok).unwrap();
        assert!(j.contains(crate::domain::Location {
            lat: 30.1,
            lon: 120.3
        }));
        assert!(!Jurisdiction::nowhere().contains(crate::domain::Location {
            lat: 30.1,
            lon: 120.3
        }));
    }
}
