//! PDF plumbing behind [`super::SheetWriter`]: the embedded font (glyph lookup, measuring,
//! subsetting, the font objects) and the byte bookkeeping behind the cross-reference table.
//!
//! Text uses one Type0 font with Identity-H encoding. A CID is the glyph's id in the
//! *subset*: `subsetter`'s remapper hands out new ids in order of first use and the subset
//! keeps that order (closure glyphs of composites come after), so the ids are known while
//! pages stream out, long before the subset exists, and `CIDToGIDMap` is `/Identity`.

use super::PrintError;
use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::{Chunk, Filter, Finish, Name, Rect, Ref, Settings, Str};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

/// The font's resource name on every page.
pub(super) const FONT_RESOURCE: Name<'static> = Name(b"F1");

/// Face 0: a font collection (`.ttc`) is accepted, its first face is used.
const FACE_INDEX: u32 = 0;

/// The layout cannot do without these; a font lacking them is refused up front rather than
/// printing thousands of cards with boxes instead of letters.
const REQUIRED: &str = "ID0123456789ABCXYZabcxyz*…·张明欧阳，。";

/// Level 2: content streams are mostly short `re` lines, on which miniz's level 6 takes four
/// times as long for a fifth less output (10,000 cards: level 1 1.6 s and 40 MB, level 2
/// 2.2 s and 32 MB, level 6 9 s and 26 MB).
const DEFLATE_LEVEL: u8 = 2;

/// Writer settings: compact output, the file goes to a print shop, not a human reader.
pub(super) const COMPACT: Settings = Settings { pretty: false };

pub(super) fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, DEFLATE_LEVEL)
}

/// One glyph as the layout sees it: which glyph, how wide, and which character it stands
/// for in extracted text (U+FFFD for a character the font lacks).
#[derive(Clone, Copy)]
struct Glyph {
    gid: u16,
    advance: u16,
    text: char,
}

/// The font: full face for lookups, plus the set of glyphs used so far.
pub(super) struct Font {
    data: &'static [u8],
    face: ttf_parser::Face<'static>,
    units_per_em: f32,
    cache: HashMap<char, Glyph>,
    fallback: Glyph,
    remapper: subsetter::GlyphRemapper,
    /// Indexed by CID: the character for ToUnicode (none for .notdef) and the advance.
    used: Vec<(Option<char>, u16)>,
}

impl Font {
    pub(super) fn new(data: &'static [u8]) -> Result<Self, PrintError> {
        let face = ttf_parser::Face::parse(data, FACE_INDEX)
            .map_err(|e| PrintError::Font(e.to_string()))?;
        // subsetter handles CFF too, but glyf is what was checked end to end.
        if face.tables().glyf.is_none() {
            return Err(PrintError::Font("no TrueType (glyf) outlines".into()));
        }
        let units_per_em = f32::from(face.units_per_em());
        let advance = |gid| face.glyph_hor_advance(gid).unwrap_or(0);
        let notdef = ttf_parser::GlyphId(0);
        let fallback = match face.glyph_index('\u{FFFD}') {
            Some(gid) => Glyph {
                gid: gid.0,
                advance: advance(gid),
                text: '\u{FFFD}',
            },
            None => Glyph {
                gid: 0,
                advance: advance(notdef),
                text: '\u{FFFD}',
            },
        };
        let notdef_advance = advance(notdef);
        let mut font = Font {
            data,
            face,
            units_per_em,
            cache: HashMap::new(),
            fallback,
            remapper: subsetter::GlyphRemapper::new(),
            used: vec![(None, notdef_advance)],
        };
        if let Some(c) = REQUIRED
            .chars()
            .find(|&c| font.face.glyph_index(c).is_none())
        {
            return Err(PrintError::Font(format!("no glyph for {c:?}")));
        }
        font.cache.reserve(512);
        Ok(font)
    }

    fn glyph(&mut self, c: char) -> Glyph {
        if let Some(g) = self.cache.get(&c) {
            return *g;
        }
        let g = match self.face.glyph_index(c) {
            Some(gid) => Glyph {
                gid: gid.0,
                advance: self.face.glyph_hor_advance(gid).unwrap_or(0),
                text: c,
            },
            None => self.fallback,
        };
        self.cache.insert(c, g);
        g
    }

    /// Width of `text` at `size` points, in points (no kerning: names and short lines).
    pub(super) fn width(&mut self, text: &str, size: f32) -> f32 {
        let units: u32 = text.chars().map(|c| u32::from(self.glyph(c).advance)).sum();
        units as f32 * size / self.units_per_em
    }

    /// The 2-byte CIDs for `text`, marking its glyphs as used for the subset.
    pub(super) fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let g = self.glyph(c);
            let cid = self.remapper.remap(g.gid);
            if usize::from(cid) == self.used.len() {
                self.used.push((Some(g.text), g.advance));
            }
            out.extend_from_slice(&cid.to_be_bytes());
        }
        out
    }

    fn to_pdf_units(&self, units: impl Into<f32>) -> f32 {
        units.into() * 1000.0 / self.units_per_em
    }

    /// The PostScript name, reduced to characters that need no escaping in a PDF name.
    fn postscript_name(&self) -> String {
        let name = self
            .face
            .names()
            .into_iter()
            .filter(|n| n.name_id == ttf_parser::name_id::POST_SCRIPT_NAME)
            .find_map(|n| n.to_string())
            .unwrap_or_default();
        let clean: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(60)
            .collect();
        if clean.is_empty() {
            "Embedded".into()
        } else {
            clean
        }
    }

    /// Six capital letters that differ between subsets (PDF 32000 §9.6.4).
    fn subset_tag(&self) -> String {
        let mut h = DefaultHasher::new();
        self.remapper.hash(&mut h);
        let mut n = Hasher::finish(&h);
        (0..6)
            .map(|_| {
                let c = char::from(b'A' + (n % 26) as u8);
                n /= 26;
                c
            })
            .collect()
    }

    fn tounicode(&self) -> Vec<u8> {
        let info = SystemInfo {
            registry: Str(b"Adobe"),
            ordering: Str(b"UCS"),
            supplement: 0,
        };
        let mut cmap = UnicodeCmap::new(Name(b"Adobe-Identity-UCS"), info);
        for (cid, (text, _)) in self.used.iter().enumerate() {
            if let (Some(c), Ok(cid)) = (text, u16::try_from(cid)) {
                cmap.pair(cid, *c);
            }
        }
        cmap.finish().into_vec()
    }

    /// Writes the Type0 font at `refs.type0` and everything it needs into `chunk`, calling
    /// `mark` before each object so the caller can note its offset.
    pub(super) fn write(
        &self,
        chunk: &mut Chunk,
        refs: FontRefs,
        mark: &mut dyn FnMut(Ref, usize),
    ) -> Result<(), PrintError> {
        let subset = subsetter::subset(self.data, FACE_INDEX, &self.remapper)
            .map_err(|e| PrintError::Font(format!("subsetting failed: {e}")))?;
        let base_font = format!("{}+{}", self.subset_tag(), self.postscript_name());
        let base_font = Name(base_font.as_bytes());

        mark(refs.type0, chunk.len());
        chunk
            .type0_font(refs.type0)
            .base_font(base_font)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(refs.cid_font)
            .to_unicode(refs.tounicode);

        mark(refs.cid_font, chunk.len());
        let mut cid = chunk.cid_font(refs.cid_font);
        cid.subtype(CidFontType::Type2)
            .base_font(base_font)
            .system_info(SystemInfo {
                registry: Str(b"Adobe"),
                ordering: Str(b"Identity"),
                supplement: 0,
            })
            .font_descriptor(refs.descriptor)
            .default_width(1000.0)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        let widths = self.used.iter().map(|&(_, adv)| self.to_pdf_units(adv));
        cid.widths().consecutive(0, widths);
        cid.finish();

        mark(refs.descriptor, chunk.len());
        let bbox = self.face.global_bounding_box();
        let cap = self.face.capital_height().unwrap_or(self.face.ascender());
        chunk
            .font_descriptor(refs.descriptor)
            .name(base_font)
            .flags(FontFlags::SYMBOLIC)
            .bbox(Rect::new(
                self.to_pdf_units(bbox.x_min),
                self.to_pdf_units(bbox.y_min),
                self.to_pdf_units(bbox.x_max),
                self.to_pdf_units(bbox.y_max),
            ))
            .italic_angle(0.0)
            .ascent(self.to_pdf_units(self.face.ascender()))
            .descent(self.to_pdf_units(self.face.descender()))
            .cap_height(self.to_pdf_units(cap))
            .stem_v(80.0)
            .font_file2(refs.font_file);

        mark(refs.font_file, chunk.len());
        let packed = deflate(&subset);
        chunk
            .stream(refs.font_file, &packed)
            .filter(Filter::FlateDecode)
            .pair(
                Name(b"Length1"),
                i32::try_from(subset.len()).unwrap_or(i32::MAX),
            );

        mark(refs.tounicode, chunk.len());
        let cmap = deflate(&self.tounicode());
        chunk
            .cmap(refs.tounicode, &cmap)
            .filter(Filter::FlateDecode);
        Ok(())
    }

    #[cfg(test)]
    pub(super) fn used_glyphs(&self) -> Vec<(u16, Option<char>)> {
        self.remapper
            .remapped_gids()
            .zip(self.used.iter().map(|u| u.0))
            .collect()
    }
}

/// The pre-allocated objects of the font.
#[derive(Clone, Copy)]
pub(super) struct FontRefs {
    pub type0: Ref,
    pub cid_font: Ref,
    pub descriptor: Ref,
    pub font_file: Ref,
    pub tounicode: Ref,
}

/// Counts every byte handed out so objects' offsets are known for the xref table without
/// keeping the bytes; also hashes them for the trailer's `/ID`.
pub(super) struct Ledger {
    emitted: usize,
    /// Offset of object `i + 1`; `None` until written.
    offsets: Vec<Option<usize>>,
    hasher: DefaultHasher,
}

impl Ledger {
    pub(super) fn new() -> Self {
        Ledger {
            emitted: 0,
            offsets: Vec::new(),
            hasher: DefaultHasher::new(),
        }
    }

    /// Offset the next byte will have once `pending` bytes (not yet handed out) precede it.
    pub(super) fn position(&self, pending: usize) -> usize {
        self.emitted + pending
    }

    pub(super) fn record(&mut self, id: Ref, offset: usize) {
        let Ok(index) = usize::try_from(id.get() - 1) else {
            return;
        };
        if self.offsets.len() <= index {
            self.offsets.resize(index + 1, None);
        }
        self.offsets[index] = Some(offset);
    }

    /// Notes that `bytes` leave now.
    pub(super) fn emit(&mut self, bytes: &[u8]) {
        self.emitted += bytes.len();
        self.hasher.write(bytes);
    }

    /// The xref table, trailer and `%%EOF`, to follow everything emitted so far.
    pub(super) fn trailer(&self, root: Ref, info: Ref) -> Vec<u8> {
        let size = self.offsets.len() + 1;
        let mut out = Vec::with_capacity(64 + 20 * size);
        out.extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f\r\n").as_bytes());
        for offset in &self.offsets {
            let line = match offset {
                Some(at) => format!("{at:010} 00000 n\r\n"),
                // Never happens by construction; a free entry keeps the table well formed.
                None => "0000000000 65535 f\r\n".to_string(),
            };
            out.extend_from_slice(line.as_bytes());
        }
        let id = self.file_id();
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {size} /Root {} 0 R /Info {} 0 R /ID [<{id}> <{id}>] >>\n\
                 startxref\n{}\n%%EOF\n",
                root.get(),
                info.get(),
                self.emitted
            )
            .as_bytes(),
        );
        out
    }

    fn file_id(&self) -> String {
        let first = Hasher::finish(&self.hasher);
        let mut h = self.hasher.clone();
        h.write_u8(0x5c);
        format!("{first:016X}{:016X}", Hasher::finish(&h))
    }
}
