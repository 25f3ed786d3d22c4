//! A WGS 84 position, checked on the way in.

use super::Invalid;
use serde::{Deserialize, Serialize};

/// A WGS 84 position.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
}

impl Location {
    /// A stored position, if both halves are there.
    pub fn from_columns(lat: Option<f64>, lon: Option<f64>) -> Option<Self> {
        lat.zip(lon).map(|(lat, lon)| Location { lat, lon })
    }

    pub fn parse(lat: f64, lon: f64) -> Result<Self, Invalid> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(Invalid::new(
                "location.lat",
                "invalid_location",
                "lat must be between -90 and 90",
            ));
        }
        if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
            return Err(Invalid::new(
                "location.lon",
                "invalid_location",
                "lon must be between -180 and 180",
            ));
        }
        Ok(Self { lat, lon })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert!(Location::parse(90.0, 180.0).is_ok());
        assert!(Location::parse(90.1, 0.0).is_err());
        assert!(Location::parse(0.0, -180.5).is_err());
        assert!(Location::parse(f64::NAN, 0.0).is_err());
    }
}
