//! Token text → QR images (PNG, SVG), and photos → token text.
//!
//! Encoding: level Q (wet, cracked screens), alphanumeric mode (base45's alphabet is the QR
//! alphanumeric set), a 4-module quiet zone; the matrix from `fast_qr`, the PNG from `image`.
//! Decoding: `rqrr` on a greyscale image, downscaled first when large, tried again at smaller
//! scales and with the contrast stretched, because phone photos are big, soft and uneven.

use fast_qr::convert::Builder;
use fast_qr::convert::svg::SvgBuilder;
use fast_qr::{ECL, Mode, QRBuilder, QRCode};
use image::{GrayImage, imageops};
#[cfg(test)]
use image::{ImageEncoder, Luma};

pub const QUIET_ZONE: usize = 4;
/// Pixels per module allowed for PNG output.
pub const SCALES: std::ops::RangeInclusive<u32> = 1..=32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QrError {
    #[error("the text is too long for a QR code")]
    TooLong,
    #[error("the image could not be read")]
    BadImage,
    #[error("no QR code could be read in the image")]
    NoQrFound,
}

fn matrix(text: &str) -> Result<QRCode, QrError> {
    QRBuilder::new(text)
        .ecl(ECL::Q)
        .mode(Mode::Alphanumeric)
        .build()
        .map_err(|_| QrError::TooLong)
}

/// The QR version (1–40) a text needs at level Q.
pub fn version(text: &str) -> Result<usize, QrError> {
    Ok((matrix(text)?.size - 17) / 4)
}

/// A PNG of the code, `scale` pixels per module, black on white. One bit per pixel and the
/// `Up` filter: rows repeat `scale` times, so the image compresses to almost nothing, fast.
pub fn png(text: &str, scale: u32) -> Result<Vec<u8>, QrError> {
    let qr = matrix(text)?;
    let scale = scale.clamp(*SCALES.start(), *SCALES.end()) as usize;
    let side = (qr.size + 2 * QUIET_ZONE) * scale;
    let row_bytes = side.div_ceil(8);
    let mut data = vec![0xffu8; row_bytes * side];
    for y in 0..qr.size {
        let mut row = vec![0xffu8; row_bytes];
        for x in 0..qr.size {
            if qr.data[y * qr.size + x].value() {
                let x0 = (x + QUIET_ZONE) * scale;
                for px in x0..x0 + scale {
                    row[px / 8] &= !(0x80 >> (px % 8));
                }
            }
        }
        let y0 = (y + QUIET_ZONE) * scale;
        for py in y0..y0 + scale {
            data[py * row_bytes..(py + 1) * row_bytes].copy_from_slice(&row);
        }
    }
    let mut out = Vec::with_capacity(4096);
    let mut enc = png::Encoder::new(&mut out, side as u32, side as u32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::Filter::Up);
    let mut writer = enc.write_header().map_err(|_| QrError::BadImage)?;
    writer
        .write_image_data(&data)
        .map_err(|_| QrError::BadImage)?;
    writer.finish().map_err(|_| QrError::BadImage)?;
    Ok(out)
}

/// An SVG of the code (scales to any size; for printing).
pub fn svg(text: &str) -> Result<String, QrError> {
    let qr = matrix(text)?;
    Ok(SvgBuilder::default().margin(QUIET_ZONE).to_str(&qr))
}

/// The code's dark modules as one SVG path in module units (quiet zone included in `size`),
/// for drawing the code inside a larger SVG such as the printable card.
pub fn svg_path(text: &str) -> Result<(usize, String), QrError> {
    let qr = matrix(text)?;
    let mut d = String::new();
    for y in 0..qr.size {
        for x in 0..qr.size {
            if qr.data[y * qr.size + x].value() {
                d.push_str(&format!("M{} {}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE));
            }
        }
    }
    Ok((qr.size + 2 * QUIET_ZONE, d))
}

/// The longest side a photo is reduced to before the first attempt.
const FIRST_SIDE: u32 = 1600;

fn try_decode(img: &GrayImage) -> Option<String> {
    let mut prepared = rqrr::PreparedImage::prepare(img.clone());
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode() {
            return Some(text);
        }
    }
    None
}

/// Stretches the darkest 1 % to black and the lightest 1 % to white (glare, dim light).
fn stretch(img: &GrayImage) -> GrayImage {
    let mut hist = [0usize; 256];
    for p in img.pixels() {
        hist[p.0[0] as usize] += 1;
    }
    let total = img.pixels().len().max(1);
    let cut = total / 100;
    let (mut lo, mut hi, mut acc) = (0usize, 255usize, 0usize);
    for (v, n) in hist.iter().enumerate() {
        acc += n;
        if acc > cut {
            lo = v;
            break;
        }
    }
    acc = 0;
    for (v, n) in hist.iter().enumerate().rev() {
        acc += n;
        if acc > cut {
            hi = v;
            break;
        }
    }
    if hi <= lo {
        return img.clone();
    }
    let mut out = img.clone();
    for p in out.pixels_mut() {
        let v = (p.0[0] as usize).clamp(lo, hi);
        p.0[0] = ((v - lo) * 255 / (hi - lo)) as u8;
    }
    out
}

/// Reads the first QR code in a PNG or JPEG photo.
pub fn decode(bytes: &[u8]) -> Result<String, QrError> {
    let img = image::load_from_memory(bytes)
        .map_err(|_| QrError::BadImage)?
        .to_luma8();
    let (w, h) = img.dimensions();
    let longest = w.max(h).max(1);
    let base = if longest > FIRST_SIDE {
        let f = FIRST_SIDE as f64 / longest as f64;
        imageops::resize(
            &img,
            (w as f64 * f) as u32,
            (h as f64 * f) as u32,
            imageops::FilterType::Triangle,
        )
    } else {
        img
    };
    let (w, h) = base.dimensions();
    for factor in [1.0, 0.5, 0.3] {
        let scaled = if factor == 1.0 {
            base.clone()
        } else {
            let (sw, sh) = ((w as f64 * factor) as u32, (h as f64 * factor) as u32);
            if sw < 21 || sh < 21 {
                continue;
            }
            imageops::resize(&base, sw, sh, imageops::FilterType::Triangle)
        };
        if let Some(t) = try_decode(&scaled) {
            return Ok(t);
        }
        if let Some(t) = try_decode(&stretch(&scaled)) {
            return Ok(t);
        }
    }
    Err(QrError::NoQrFound)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "SC1:RRQT 9P60GO0%7WWP59 ULW98CK5HF980HQEN.CUPC6VCSH7MED14E 8D$+DL8FGOC-A6ZW69466W5WJCQZC/Q6/CC8X5E%66L60R6WF6/TC646C564:6FN0UNDAFRWY0TNDQ1HJ-0X507H0QS00+0/E7V50200/E7V50C601005RS/E7V50KB0/E7V50LJ0DCTVQH$6TO/H646IG627BYX25DK.+U8AT2CJE:13MOCG7%A6SYSXQF2SBU 5U-D:W7B9DVKG/04VSABX4H34$MS%/3*%0C.V2ZOYE3Y3LIFVAWHQP0QH1";

    #[test]
    fn a_rendered_png_decodes_back_to_the_token() {
        for scale in [3, 4, 8] {
            let png = png(TOKEN, scale).unwrap();
            assert_eq!(decode(&png).unwrap(), TOKEN, "scale {scale}");
        }
    }

    #[test]
    fn a_real_token_fits_version_13_at_level_q() {
        assert!(
            version(TOKEN).unwrap() <= 13,
            "version {}",
            version(TOKEN).unwrap()
        );
    }

    #[test]
    fn a_blurred_and_dimmed_photo_still_reads() {
        let png = png(TOKEN, 6).unwrap();
        let img = image::load_from_memory(&png).unwrap().to_luma8();
        let blurred = imageops::blur(&img, 1.5);
        let mut dim = blurred.clone();
        for p in dim.pixels_mut() {
            p.0[0] = 90 + p.0[0] / 3;
        }
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 60)
            .write_image(
                dim.as_raw(),
                dim.width(),
                dim.height(),
                image::ExtendedColorType::L8,
            )
            .unwrap();
        assert_eq!(decode(&jpeg).unwrap(), TOKEN);
    }

    #[test]
    fn images_without_a_code_and_garbage_are_errors() {
        let blank = GrayImage::from_pixel(200, 200, Luma([255]));
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut png)
            .write_image(blank.as_raw(), 200, 200, image::ExtendedColorType::L8)
            .unwrap();
        assert_eq!(decode(&png), Err(QrError::NoQrFound));
        assert_eq!(decode(b"not an image"), Err(QrError::BadImage));
        assert!(svg(TOKEN).unwrap().starts_with("<svg"));
    }
}
