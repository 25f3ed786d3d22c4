//! Base-map tiles from an MBTiles file (a SQLite database of tile images): what a deployment
//! with no internet shows under its zones. Opened read-only; safecode never writes to it.

use super::{Result, StoreError};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use std::path::Path;

/// An open MBTiles file and the image type its tiles are stored as.
#[derive(Clone, Debug)]
pub struct TileFile {
    pool: SqlitePool,
    pub content_type: &'static str,
    pub max_zoom: u8,
}

/// One tile's address in the XYZ scheme the map asks for.
#[derive(Debug, Clone, Copy)]
pub struct TileAddress {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileAddress {
    /// A tile that exists in the world at its zoom (x and y below 2^z), or nothing.
    pub fn new(z: u8, x: u32, y: u32) -> Option<Self> {
        (z <= 24 && u64::from(x) < (1u64 << z) && u64::from(y) < (1u64 << z)).then_some(Self {
            z,
            x,
            y,
        })
    }
}

impl TileFile {
    /// Opens the file and checks it is one (a start with a wrong file stops, naming it).
    pub async fn open(path: &Path) -> Result<Self> {
        Self::read(path).await.map_err(|e| {
            StoreError::Corrupt(format!(
                "the tiles file {} is not an MBTiles file of raster tiles: {e}",
                path.display()
            ))
        })
    }

    async fn read(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new().filename(path).read_only(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        let format: Option<String> =
            sqlx::query_scalar("SELECT value FROM metadata WHERE name = 'format'")
                .fetch_optional(&pool)
                .await?;
        // The map draws raster images; vector tiles (pbf) would need a style and a renderer.
        let content_type = match format.as_deref().unwrap_or("png") {
            "png" => "image/png",
            "jpg" | "jpeg" => "image/jpeg",
            "webp" => "image/webp",
            other => {
                return Err(StoreError::Corrupt(format!(
                    "the MBTiles file holds {other:?} tiles; the map needs png, jpg or webp"
                )));
            }
        };
        let max_zoom: Option<i64> = sqlx::query_scalar("SELECT MAX(zoom_level) FROM tiles")
            .fetch_one(&pool)
            .await?;
        Ok(Self {
            pool,
            content_type,
            max_zoom: max_zoom.unwrap_or(0).clamp(0, 24) as u8,
        })
    }

    /// The tile's image, if the file has it. MBTiles numbers rows from the south (TMS).
    pub async fn tile(&self, a: TileAddress) -> Result<Option<Vec<u8>>> {
        let tms_row = (1i64 << a.z) - 1 - i64::from(a.y);
        Ok(sqlx::query_scalar(
            "SELECT tile_data FROM tiles WHERE zoom_level = $1 AND tile_column = $2 AND tile_row = $3",
        )
        .bind(i64::from(a.z))
        .bind(i64::from(a.x))
        .bind(tms_row)
        .fetch_optional(&self.pool)
        .await?)
    }
}
