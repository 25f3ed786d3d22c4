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

/// The district an official may act in: a GeoJSON Polygon or MultiPolygon (WGS 84).
/// Stored now; enforced where zones and residents are matched against it.
#[derive(Debug, Clone, PartialEq)]
pub struct Jurisdiction(geojson::Geometry);

impl Jurisdiction {
    pub fn parse(raw: &serde_json::Value) -> Result<Self, Invalid> {
        let bad = |m: &str| Invalid::new("jurisdiction", "invalid_jurisdiction", m);
        let geometry: geojson::Geometry = serde_json::from_value(raw.clone())
            .map_err(|_| bad("jurisdiction must be a GeoJSON geometry"))?;
        let polygons: Vec<&geojson::PolygonType> = match &geometry.value {
            geojson::GeometryValue::Polygon { coordinates } => vec![coordinates],
            geojson::GeometryValue::MultiPolygon { coordinates } => coordinates.iter().collect(),
            _ => return Err(bad("jurisdiction must be a Polygon or a MultiPolygon")),
        };
        if polygons.is_empty() {
            return Err(bad("jurisdiction has no polygon"));
        }
        for ring in polygons.into_iter().flatten() {
            if ring.len() < 4 || ring.first() != ring.last() {
                return Err(bad(
                    "every ring must be closed and have at least 4 positions",
                ));
            }
            for pos in ring {
                let pos = pos.as_slice();
                let ok = pos.len() >= 2
                    && pos[0].is_finite()
                    && pos[1].is_finite()
                    && (-180.0..=180.0).contains(&pos[0])
                    && (-90.0..=90.0).contains(&pos[1]);
                if !ok {
                    return Err(bad("positions must be [lon, lat] within range"));
                }
            }
        }
        Ok(Self(geometry))
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or(serde_json::Value::Null)
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
    }
}
