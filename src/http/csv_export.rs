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

    /// Writes one row. A field a spreadsheet would run as a formula (starting with `=`, `+`,
    /// `-`, `@`, tab or carriage return: OWASP's CSV injection list) is prefixed with `'`, so
    /// a name typed by a resident cannot run on an official's computer.
    pub fn row<I, F>(&mut self, fields: I) -> Result<(), ApiError>
    where
        I: IntoIterator<Item = F>,
        F: AsRef<[u8]>,
    {
        let record: Vec<std::borrow::Cow<'_, [u8]>> = fields
            .into_iter()
            .map(|f| {
                let f = f.as_ref();
                match f.first() {
                    Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => {
                        let mut guarded = Vec::with_capacity(f.len() + 1);
                        guarded.push(b'\'');
                        guarded.extend_from_slice(f);
                        std::borrow::Cow::Owned(guarded)
                    }
                    _ => std::borrow::Cow::Owned(f.to_vec()),
                }
            })
            .collect();
        self.0.write_record(&record).map_err(|_| failed())
    }

    pub fn into_bytes(self) -> Result<Vec<u8>, ApiError> {
        self.0.into_inner().map_err(|_| failed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_plain_text_kept() {
        let mut c = Csv::new(&["name", "phone"]).unwrap();
        c.row(["=HYPERLINK(\"http://x\")", "+8613800000000"])
            .unwrap();
        c.row(["Wang Fang", "@SUM(A1)"]).unwrap();
        let text = String::from_utf8(c.into_bytes().unwrap()).unwrap();
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
        assert_eq!(&rows[0][0], "'=HYPERLINK(\"http://x\")");
        assert_eq!(&rows[0][1], "'+8613800000000");
        assert_eq!(&rows[1][0], "Wang Fang");
        assert_eq!(&rows[1][1], "'@SUM(A1)");
    }
}
