//! The GeoJSON zone validator on any JSON: never panics; an accepted area answers
//! point-in-polygon and its own GeoJSON parses again.
#![no_main]
use libfuzzer_sys::fuzz_target;
use safecode::domain::Location;
use safecode::geo::Area;

fuzz_target!(|text: &str| {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return;
    };
    if let Ok(area) = Area::from_geometry(&value) {
        let _ = area.contains(Location {
            lat: 30.1,
            lon: 120.1,
        });
        let again = Area::from_geometry(&area.to_geojson());
        assert!(again.is_ok(), "an accepted area's own GeoJSON is refused");
        let _ = area.outer_rings();
    }
});
