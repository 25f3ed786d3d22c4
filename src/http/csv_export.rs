//! CSV downloads: whether the client asked for one, and writing it (RFC 4180 quoting by the
//! `csv` crate).

use super::errors::ApiError;
use actix_web::HttpRequest;
use actix_web::http::{StatusCode, header};

/// The client sent `Accept: text/csv`.
pub fn wanted(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/csv"))
}

/// Rows written as CSV, header first.
pub struct Csv(csv::Writer<Vec<u8>>);

fn failed() -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "csv",
        "could not write the CSV",
    )
}

impl Csv {
    pub fn new(header: &[&str]) -> Result<Self, ApiError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(header).map_err(|_| failed())?;
        Ok(Csv(w))
    }

    pub fn row<I, F>(&mut self, fields: I) -> Result<(), ApiError>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<[u8]>,
    {
        self.0.write_record(fields).map_err(|_| failed())
    }

    pub fn into_bytes(self) -> Result<Vec<u8>, ApiError> {
        self.0.into_inner().map_err(|_| failed())
    }
}
