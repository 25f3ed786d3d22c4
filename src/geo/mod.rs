//! Flood zones as geometry: parsing and checking GeoJSON, point-in-polygon, membership over
//! many residents with a spatial index. Pure, no IO. (`::geo` is the geometry crate; this
//! module is `crate::geo`.)

use crate::domain::{Invalid, Location};
use ::geo::{
    BoundingRect, Contains, Coord, Intersects, LineString, MultiPolygon, Point, Polygon, Rect,
    Validation,
};
use rstar::{AABB, RTree, primitives::GeomWithData};

pub const MAX_VERTICES: usize = 100_000;

/// A zone's area: a valid (Multi)Polygon in WGS 84, `[lon, lat]` order as in GeoJSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Area {
    pub shape: MultiPolygon<f64>,
    pub bbox: Rect<f64>,
    pub vertices: usize,
}

fn invalid(code: &'static str, msg: impl Into<String>) -> Invalid {
    Invalid::new("geometry", code, msg)
}

type RawRing = Vec<Vec<f64>>;

fn ring(raw: &RawRing, vertices: &mut usize) -> Result<LineString<f64>, Invalid> {
    if raw.len() < 4 {
        return Err(invalid(
            "too_few_positions",
            "a ring needs at least 4 positions (the first repeated last)",
        ));
    }
    *vertices += raw.len();
    if *vertices > MAX_VERTICES {
        return Err(invalid(
            "too_many_vertices",
            format!("a zone has at most {MAX_VERTICES} vertices"),
        ));
    }
    let mut coords = Vec::with_capacity(raw.len());
    for p in raw {
        let ok = p.len() >= 2
            && p[0].is_finite()
            && p[1].is_finite()
            && (-180.0..=180.0).contains(&p[0])
            && (-90.0..=90.0).contains(&p[1]);
        if !ok {
            return Err(invalid(
                "coordinates_out_of_range",
                "positions are [longitude, latitude] within ±180 and ±90",
            ));
        }
        coords.push(Coord { x: p[0], y: p[1] });
    }
    if coords.first() != coords.last() {
        return Err(invalid(
            "ring_not_closed",
            "a ring must end where it starts",
        ));
    }
    Ok(LineString::new(coords))
}

fn polygon(raw: &[RawRing], vertices: &mut usize) -> Result<Polygon<f64>, Invalid> {
    let Some((outer, holes)) = raw.split_first() else {
        return Err(invalid(
            "too_few_positions",
            "a polygon needs an outer ring",
        ));
    };
    let outer = ring(outer, vertices)?;
    let holes = holes
        .iter()
        .map(|h| ring(h, vertices))
        .collect::<Result<Vec<_>, _>>()?;
    // Ring orientation (RFC 7946 wants the outer ring counter-clockwise) is tolerated either
    // way: containment does not depend on it.
    Ok(Polygon::new(outer, holes))
}

impl Area {
    /// Parses a GeoJSON geometry object (`Polygon` or `MultiPolygon`).
    pub fn from_geometry(geometry: &serde_json::Value) -> Result<Self, Invalid> {
        let kind = geometry.get("type").and_then(|t| t.as_str()).unwrap_or("");
        let coords = geometry
            .get("coordinates")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        let mut vertices = 0;
        let polygons: Vec<Polygon<f64>> = match kind {
            "Polygon" => {
                let raw: Vec<RawRing> = serde_json::from_value(coords).map_err(|_| {
                    invalid(
                        "invalid_geometry",
                        "Polygon coordinates must be an array of rings of [lon, lat]",
                    )
                })?;
                vec![polygon(&raw, &mut vertices)?]
            }
            "MultiPolygon" => {
                let raw: Vec<Vec<RawRing>> = serde_json::from_value(coords).map_err(|_| {
                    invalid(
                        "invalid_geometry",
                        "MultiPolygon coordinates must be an array of polygons",
                    )
                })?;
                if raw.is_empty() {
                    return Err(invalid(
                        "too_few_positions",
                        "a MultiPolygon needs at least one polygon",
                    ));
                }
                raw.iter()
                    .map(|p| polygon(p, &mut vertices))
                    .collect::<Result<_, _>>()?
            }
            _ => {
                return Err(invalid(
                    "unsupported_geometry",
                    "a zone is a Polygon or a MultiPolygon",
                ));
            }
        };
        for p in &polygons {
            if let Err(e) = p.check_validation() {
                return Err(match e {
                    ::geo::algorithm::validation::InvalidPolygon::SelfIntersection(_) => {
                        invalid("self_intersection", "a ring crosses itself")
                    }
                    ::geo::algorithm::validation::InvalidPolygon::TooFewPointsInRing(_) => invalid(
                        "too_few_positions",
                        "a ring needs at least 3 distinct points",
                    ),
                    other => invalid("invalid_rings", other.to_string()),
                });
            }
        }
        let shape = MultiPolygon::new(polygons);
        let bbox = shape
            .bounding_rect()
            .ok_or_else(|| invalid("too_few_positions", "the zone has no area"))?;
        Ok(Self {
            shape,
            bbox,
            vertices,
        })
    }

    /// A resident at `loc` is in the zone when inside it or on its edge.
    pub fn contains(&self, loc: Location) -> bool {
        let p = Point::new(loc.lon, loc.lat);
        self.bbox.intersects(&p) && self.shape.intersects(&p)
    }

    /// Whether this area lies wholly inside `other` (a zone inside a jurisdiction).
    pub fn within(&self, other: &Area) -> bool {
        other.shape.contains(&self.shape)
    }

    /// Each polygon's outer ring as (lat, lon) pairs, first repeated last: what CAP's
    /// `polygon` can say (it has no holes).
    pub fn outer_rings(&self) -> Vec<Vec<(f64, f64)>> {
        self.shape
            .iter()
            .map(|p| p.exterior().coords().map(|c| (c.y, c.x)).collect())
            .collect()
    }

    pub fn to_geojson(&self) -> serde_json::Value {
        let ring =
            |l: &LineString<f64>| -> Vec<[f64; 2]> { l.coords().map(|c| [c.x, c.y]).collect() };
        let polys: Vec<Vec<Vec<[f64; 2]>>> = self
            .shape
            .iter()
            .map(|p| {
                std::iter::once(p.exterior())
                    .chain(p.interiors())
                    .map(ring)
                    .collect()
            })
            .collect();
        serde_json::json!({"type": "MultiPolygon", "coordinates": polys})
    }
}

/// Residents' positions, indexed for "who is inside this polygon".
pub struct PointIndex(RTree<GeomWithData<[f64; 2], i64>>);

impl PointIndex {
    pub fn new(points: Vec<(i64, Location)>) -> Self {
        Self(RTree::bulk_load(
            points
                .into_iter()
                .map(|(id, l)| GeomWithData::new([l.lon, l.lat], id))
                .collect(),
        ))
    }

    /// Ids of the residents inside or on the edge of `area`.
    pub fn members(&self, area: &Area) -> Vec<i64> {
        let b = area.bbox;
        let env = AABB::from_corners([b.min().x, b.min().y], [b.max().x, b.max().y]);
        let mut ids: Vec<i64> = self
            .0
            .locate_in_envelope_intersecting(&env)
            .filter(|p| area.shape.intersects(&Point::new(p.geom()[0], p.geom()[1])))
            .map(|p| p.data)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Great-circle distance in kilometres.
pub fn distance_km(a: Location, b: Location) -> f64 {
    let (la1, la2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = la2 - la1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> serde_json::Value {
        json!([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]])
    }

    #[test]
    fn points_inside_on_the_edge_and_in_holes() {
        let a = Area::from_geometry(&json!({"type": "Polygon", "coordinates": [square(120.0, 30.0, 121.0, 31.0), square(120.4, 30.4, 120.6, 30.6)]})).unwrap();
        let at = |lat, lon| a.contains(Location { lat, lon });
        assert!(at(30.2, 120.2));
        assert!(at(30.0, 120.5), "on the edge counts as inside");
        assert!(!at(30.5, 120.5), "in the hole");
        assert!(!at(29.9999, 120.5));
        assert!(at(30.00001, 120.5));
    }

    #[test]
    fn clockwise_rings_are_tolerated() {
        let cw = json!([
            [120.0, 30.0],
            [120.0, 31.0],
            [121.0, 31.0],
            [121.0, 30.0],
            [120.0, 30.0]
        ]);
        let a = Area::from_geometry(&json!({"type": "Polygon", "coordinates": [cw]})).unwrap();
        assert!(a.contains(Location {
            lat: 30.5,
            lon: 120.5
        }));
    }

    #[test]
    fn each_problem_has_its_own_code() {
        let code = |g: serde_json::Value| Area::from_geometry(&g).unwrap_err().code;
        assert_eq!(
            code(json!({"type": "Point", "coordinates": [1, 2]})),
            "unsupported_geometry"
        );
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]})),
            "too_few_positions"
        );
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]})),
            "ring_not_closed"
        );
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [square(0.0, 0.0, 190.0, 1.0)]})),
            "coordinates_out_of_range"
        );
        let bowtie = json!([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]);
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [bowtie]})),
            "self_intersection"
        );
        let many: Vec<[f64; 2]> = (0..=MAX_VERTICES)
            .map(|i| {
                let t = i as f64 / MAX_VERTICES as f64 * std::f64::consts::TAU;
                [t.cos(), t.sin()]
            })
            .chain(std::iter::once([1.0, 0.0]))
            .collect();
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": [many]})),
            "too_many_vertices"
        );
        assert_eq!(
            code(json!({"type": "Polygon", "coordinates": "x"})),
            "invalid_geometry"
        );
    }

    #[test]
    fn the_index_finds_exactly_the_members() {
        let a = Area::from_geometry(&json!({"type": "MultiPolygon", "coordinates": [[square(0.0, 0.0, 1.0, 1.0)], [square(2.0, 2.0, 3.0, 3.0)]]})).unwrap();
        let pts = vec![
            (1, Location { lat: 0.5, lon: 0.5 }),
            (2, Location { lat: 1.5, lon: 1.5 }),
            (3, Location { lat: 2.5, lon: 2.5 }),
            (4, Location { lat: 3.0, lon: 3.0 }),
            (
                5,
                Location {
                    lat: -0.1,
                    lon: 0.5,
                },
            ),
        ];
        assert_eq!(PointIndex::new(pts).members(&a), vec![1, 3, 4]);
    }

    #[test]
    fn a_zone_within_a_jurisdiction() {
        let district = Area::from_geometry(
            &json!({"type": "Polygon", "coordinates": [square(120.0, 30.0, 121.0, 31.0)]}),
        )
        .unwrap();
        let inside = Area::from_geometry(
            &json!({"type": "Polygon", "coordinates": [square(120.2, 30.2, 120.4, 30.4)]}),
        )
        .unwrap();
        let across = Area::from_geometry(
            &json!({"type": "Polygon", "coordinates": [square(120.8, 30.8, 121.4, 31.4)]}),
        )
        .unwrap();
        assert!(inside.within(&district));
        assert!(!across.within(&district));
    }
}
