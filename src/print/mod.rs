//! Print-shop sheets of residents' QR cards: a PDF written page by page as it streams out.
//!
//! A4 portrait, [`COLS`] × [`ROWS`] cards of 88 × 62 mm with 8 mm gutters; cut marks sit at
//! each card's corners, outside the card, in the gutters. Each card has the code (vector
//! rectangles, 4-module quiet zone) on the left and on the right the masked name, its Latin
//! form, the last four characters of the ID, the address and a short bilingual instruction.
//! The card never shows a colour: the colour is what the live scan says.
//!
//! Text is real text in an embedded subset of one TrueType font (Chinese and Latin), so the
//! sheet is searchable and `pdftotext` gives back the names. Memory stays flat across a run:
//! a page's content is handed back as soon as it is drawn; only the used glyphs and the
//! objects' offsets are kept until [`SheetWriter::finish`] writes the font and the xref table.
//! (10,000 cards: about 2 s of CPU and 32 MB of PDF, under 8 MB of memory.)
//!
//! Text is not shaped: no kerning, ligatures or right-to-left reordering, which Chinese and
//! Latin names do not need; scripts that do (Arabic-script Uyghur) need their Latin form.

mod pdf;

use pdf::{Font, FontRefs, Ledger};
use pdf_writer::writers::{Catalog, DocumentInfo};
use pdf_writer::{Chunk, Content, Filter, Finish, Name, Rect, Ref, Str, TextStr};

/// One resident's card. Strings may hold any Unicode; characters the font lacks print as �.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Modules per side, quiet zone not included.
    pub qr_size: usize,
    /// Row-major, `qr_size * qr_size`, `true` = dark module.
    pub qr_dark: Vec<bool>,
    /// Masked name, e.g. "张*明"; shrunk, then cut with "…", to fit.
    pub name_zh: String,
    /// Masked name in Latin letters, e.g. "Z*** M***"; may be empty.
    pub name_en: String,
    /// Last four characters of the ID number; only the last four are ever printed.
    pub id_last4: String,
    /// Village or address; wrapped to at most three lines, then cut with "…".
    pub address: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PrintError {
    #[error("the font cannot be used: {0}")]
    Font(String),
    #[error("a sheet needs at least one card")]
    NoCards,
    #[error("a page takes 1 to {max} cards, got {got}")]
    PageSize { got: usize, max: usize },
    #[error("more cards than the {total} announced")]
    TooManyCards { total: usize },
    #[error("card {index} on the page has a malformed QR matrix")]
    BadQr { index: usize },
}

pub const COLS: usize = 2;
pub const ROWS: usize = 4;
pub const CARDS_PER_PAGE: usize = COLS * ROWS;

/// Largest QR code (version 40) has 177 modules a side.
const MAX_QR_SIZE: usize = 177;
/// Inputs are cut to this many characters before layout, so a hostile field cannot make
/// wrapping or measuring expensive; nothing longer fits on a card anyway.
const MAX_FIELD_CHARS: usize = 400;

// Geometry in millimetres, from the page's top-left corner (PDF's origin is bottom-left;
// `Pen` converts).
const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const CARD_W: f32 = 88.0;
const CARD_H: f32 = 62.0;
const GUTTER: f32 = 8.0;
const MARGIN_X: f32 = (PAGE_W - COLS as f32 * CARD_W - (COLS - 1) as f32 * GUTTER) / 2.0;
const MARGIN_Y: f32 = (PAGE_H - ROWS as f32 * CARD_H - (ROWS - 1) as f32 * GUTTER) / 2.0;
/// The code with its quiet zone: 50 mm makes a version-11/12 code about 44 mm wide with
/// modules near 0.7 mm, easy for any phone at arm's length.
const QR_BOX: f32 = 50.0;
/// Inset from the card's left edge: a cut that drifts 1 mm still leaves the quiet zone whole.
const QR_LEFT: f32 = 1.0;
const QUIET_ZONE: usize = 4;
/// The text column, right of the code.
const TEXT_X: f32 = QR_LEFT + QR_BOX + 1.0;
const TEXT_RIGHT_PAD: f32 = 3.0;
/// Cut marks start this far from the corner (so they never print on the card if the cut
/// drifts) and stop short of the gutter's middle (so neighbours' marks do not merge).
const MARK_GAP: f32 = 1.0;
const MARK_LEN: f32 = 2.5;

/// Text sizes in points: (preferred, smallest before truncating).
const NAME_ZH_PT: (f32, f32) = (16.0, 9.0);
const NAME_EN_PT: (f32, f32) = (9.0, 6.0);
const ID_PT: f32 = 9.0;
const ADDRESS_PT: f32 = 7.0;
const ADDRESS_MAX_LINES: usize = 3;
const NOTE_PT: f32 = 6.5;
const LEADING: f32 = 1.25;
/// Rough ascent/descent of this font's glyphs as a fraction of the size, to align the first
/// line with the top of the code and the last with its bottom.
const ASCENT: f32 = 0.86;
const DESCENT: f32 = 0.14;

const NOTE_EN: &str =
    "Show this code at a shelter or checkpoint. Your colour is checked live when scanned.";
const NOTE_ZH: &str = "请在安置点或检查点出示此码，扫码时实时核验颜色。";

const FOOTER_PT: f32 = 6.0;

fn pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

/// Two decimals are a hundredth of a point, far below what a printer resolves, and keep the
/// content stream short.
fn r2(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

/// Fixed object numbers; pages and their content streams follow from [`FIRST_FREE`].
const CATALOG: Ref = Ref::new(1);
const PAGES: Ref = Ref::new(2);
const INFO: Ref = Ref::new(3);
const FONT: FontRefs = FontRefs {
    type0: Ref::new(4),
    cid_font: Ref::new(5),
    descriptor: Ref::new(6),
    font_file: Ref::new(7),
    tounicode: Ref::new(8),
};
const FIRST_FREE: i32 = 9;

/// Writes one sheet: [`SheetWriter::page`] per page as cards arrive, then
/// [`SheetWriter::finish`]. Concatenating everything returned is the PDF.
pub struct SheetWriter {
    font: Font,
    total_cards: usize,
    cards_done: usize,
    ledger: Ledger,
    next_id: i32,
    page_refs: Vec<Ref>,
    /// The instruction wrapped to the column once, at its fixed size.
    note_lines: Vec<String>,
}

impl SheetWriter {
    /// `font`: a TrueType font, or a collection whose first face is used, with Chinese and
    /// Latin glyphs (glyf outlines). `total_cards`: the count the progress lines announce.
    pub fn new(font: &'static [u8], total_cards: usize) -> Result<Self, PrintError> {
        if total_cards == 0 {
            return Err(PrintError::NoCards);
        }
        let mut font = Font::new(font)?;
        let column = pt(CARD_W - TEXT_X - TEXT_RIGHT_PAD);
        let mut note_lines = wrap(&mut font, NOTE_EN, NOTE_PT, column, usize::MAX);
        note_lines.extend(wrap(&mut font, NOTE_ZH, NOTE_PT, column, usize::MAX));
        Ok(SheetWriter {
            font,
            total_cards,
            cards_done: 0,
            ledger: Ledger::new(),
            next_id: FIRST_FREE,
            page_refs: Vec::new(),
            note_lines,
        })
    }

    /// Lays out one page from up to [`CARDS_PER_PAGE`] cards and returns the bytes to send
    /// now. The first call's bytes start with the PDF header; after it (or at the start, on
    /// later calls) comes `%safecode-progress <done>/<total>\n`, a PDF comment a streaming
    /// client can read to show progress. On error nothing is emitted and the writer is
    /// unchanged.
    pub fn page(&mut self, cards: &[Card]) -> Result<Vec<u8>, PrintError> {
        self.check(cards)?;
        let mut out = Vec::new();
        if self.ledger.position(0) == 0 {
            out.extend_from_slice(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");
        }
        self.cards_done += cards.len();
        out.extend_from_slice(
            format!(
                "%safecode-progress {}/{}\n",
                self.cards_done, self.total_cards
            )
            .as_bytes(),
        );

        let content = self.draw_page(cards);
        let packed = pdf::deflate(&content);
        let (content_ref, page_ref) = (self.alloc(), self.alloc());
        let mut chunk = Chunk::with_settings_and_capacity(pdf::COMPACT, packed.len() + 256);
        self.ledger
            .record(content_ref, self.ledger.position(out.len()));
        chunk
            .stream(content_ref, &packed)
            .filter(Filter::FlateDecode);
        self.ledger
            .record(page_ref, self.ledger.position(out.len() + chunk.len()));
        // MediaBox, Resources and the font are inherited from the page tree.
        chunk.page(page_ref).parent(PAGES).contents(content_ref);
        out.extend_from_slice(chunk.as_bytes());

        self.page_refs.push(page_ref);
        self.ledger.emit(&out);
        Ok(out)
    }

    /// Writes the font subset (only the glyphs used), its widths and ToUnicode map, the page
    /// tree, catalog, document info, the xref table and the trailer. Fewer cards than
    /// announced is allowed (a resident removed mid-run should not cost the whole download);
    /// no page at all is not, as a PDF without pages is broken.
    pub fn finish(mut self) -> Result<Vec<u8>, PrintError> {
        if self.page_refs.is_empty() {
            return Err(PrintError::NoCards);
        }
        let mut chunk = Chunk::with_settings_and_capacity(pdf::COMPACT, 1 << 16);
        let base = self.ledger.position(0);
        let ledger = &mut self.ledger;
        self.font
            .write(&mut chunk, FONT, &mut |id, at| ledger.record(id, base + at))?;
        self.write_structure(&mut chunk, base);
        let mut out = chunk.as_bytes().to_vec();
        self.ledger.emit(&out);
        out.extend(self.ledger.trailer(CATALOG, INFO));
        Ok(out)
    }

    fn write_structure(&mut self, chunk: &mut Chunk, base: usize) {
        let a4 = Rect::new(0.0, 0.0, r2(pt(PAGE_W)), r2(pt(PAGE_H)));
        self.ledger.record(PAGES, base + chunk.len());
        let count = i32::try_from(self.page_refs.len()).unwrap_or(i32::MAX);
        let mut pages = chunk.pages(PAGES);
        pages
            .kids(self.page_refs.iter().copied())
            .count(count)
            .media_box(a4);
        pages
            .resources()
            .fonts()
            .pair(pdf::FONT_RESOURCE, FONT.type0);
        pages.finish();

        self.ledger.record(CATALOG, base + chunk.len());
        let mut catalog = chunk.indirect(CATALOG).start::<Catalog>();
        catalog.pages(PAGES);
        // Scaling to "fit" would print cards smaller than 88 x 62 mm, off the cutting plan.
        catalog
            .viewer_preferences()
            .pair(Name(b"PrintScaling"), Name(b"None"));
        catalog.finish();

        self.ledger.record(INFO, base + chunk.len());
        chunk
            .indirect(INFO)
            .start::<DocumentInfo>()
            .title(TextStr("Resident QR cards 居民二维码卡"))
            .producer(TextStr("safecode"));
    }

    fn check(&self, cards: &[Card]) -> Result<(), PrintError> {
        if cards.is_empty() || cards.len() > CARDS_PER_PAGE {
            return Err(PrintError::PageSize {
                got: cards.len(),
                max: CARDS_PER_PAGE,
            });
        }
        if self.cards_done + cards.len() > self.total_cards {
            return Err(PrintError::TooManyCards {
                total: self.total_cards,
            });
        }
        for (index, card) in cards.iter().enumerate() {
            let n = card.qr_size;
            if n == 0 || n > MAX_QR_SIZE || card.qr_dark.len() != n * n {
                return Err(PrintError::BadQr { index });
            }
        }
        Ok(())
    }

    fn alloc(&mut self) -> Ref {
        let id = Ref::new(self.next_id);
        self.next_id += 1;
        id
    }

    fn draw_page(&mut self, cards: &[Card]) -> Vec<u8> {
        let mut content = Content::with_settings_and_capacity(pdf::COMPACT, 96 * 1024);
        for (i, card) in cards.iter().enumerate() {
            let left = MARGIN_X + (i % COLS) as f32 * (CARD_W + GUTTER);
            let top = MARGIN_Y + (i / COLS) as f32 * (CARD_H + GUTTER);
            let mut pen = Pen {
                content: &mut content,
                font: &mut self.font,
                left,
                top,
            };
            pen.card(card, &self.note_lines);
        }
        draw_cut_marks(&mut content, cards.len());
        self.draw_footer(&mut content, cards.len());
        content.finish().into_vec()
    }

    /// Page number and card range in the bottom margin, so the shop can check order.
    fn draw_footer(&mut self, content: &mut Content, on_page: usize) {
        let first = self.cards_done - on_page + 1;
        let text = format!(
            "safecode · page {} · cards {}–{} of {}",
            self.page_refs.len() + 1,
            first,
            self.cards_done,
            self.total_cards
        );
        let mut pen = Pen {
            content,
            font: &mut self.font,
            left: 0.0,
            top: 0.0,
        };
        pen.content.set_fill_gray(0.4);
        pen.text(&text, FOOTER_PT, pt(MARGIN_X), pt(5.0));
        pen.content.set_fill_gray(0.0);
    }
}

/// Ticks at every card corner, pointing away from the card along its edges.
fn draw_cut_marks(content: &mut Content, cards: usize) {
    content.set_stroke_gray(0.0).set_line_width(0.3);
    for i in 0..cards {
        let left = MARGIN_X + (i % COLS) as f32 * (CARD_W + GUTTER);
        let top = MARGIN_Y + (i / COLS) as f32 * (CARD_H + GUTTER);
        for (x, dx) in [(left, -1.0), (left + CARD_W, 1.0)] {
            for (y, dy) in [(top, -1.0), (top + CARD_H, 1.0)] {
                let (px, py) = (pt(x), pt(PAGE_H - y));
                let (gap, len) = (pt(MARK_GAP), pt(MARK_GAP + MARK_LEN));
                // Horizontal tick on the line of the card's top or bottom edge.
                content.move_to(r2(px + dx * gap), r2(py));
                content.line_to(r2(px + dx * len), r2(py));
                // Vertical tick on the line of its left or right edge (PDF y points up).
                content.move_to(r2(px), r2(py - dy * gap));
                content.line_to(r2(px), r2(py - dy * len));
            }
        }
    }
    content.stroke();
}

/// Draws into one card: positions are millimetres from the card's top-left corner.
struct Pen<'a> {
    content: &'a mut Content,
    font: &'a mut Font,
    left: f32,
    top: f32,
}

impl Pen<'_> {
    fn card(&mut self, card: &Card, note_lines: &[String]) {
        self.border();
        let module = QR_BOX / (card.qr_size + 2 * QUIET_ZONE) as f32;
        let box_top = (CARD_H - QR_BOX) / 2.0;
        let code_top = box_top + module * QUIET_ZONE as f32;
        let code_bottom = box_top + QR_BOX - module * QUIET_ZONE as f32;
        self.qr(card, module, code_top);
        self.text_column(card, note_lines, pt(code_top), pt(code_bottom));
    }

    /// A light hairline: helps whoever cuts by hand, and is faint enough that a slightly
    /// off guillotine cut does not show.
    fn border(&mut self) {
        let (x, y) = (pt(self.left), pt(PAGE_H - self.top - CARD_H));
        self.content
            .set_stroke_gray(0.8)
            .set_line_width(0.25)
            .rect(r2(x), r2(y), r2(pt(CARD_W)), r2(pt(CARD_H)))
            .stroke();
    }

    /// The code in module units, all rectangles filled at once, so neighbouring rectangles
    /// never show hairline seams.
    fn qr(&mut self, card: &Card, module: f32, code_top: f32) {
        let m = pt(module);
        let x0 = pt(self.left + QR_LEFT + module * QUIET_ZONE as f32);
        let y0 = pt(PAGE_H - self.top - code_top);
        // Flip y so rows count down from the top, as in the matrix.
        self.content
            .save_state()
            .transform([m, 0.0, 0.0, -m, r2(x0), r2(y0)])
            .set_fill_gray(0.0);
        for r in dark_rects(card.qr_size, &card.qr_dark) {
            self.content.rect(r.x, r.y, r.w, r.h);
        }
        self.content.fill_nonzero().restore_state();
    }

    /// Name, Latin name and ID from the top of the code down; the instruction up from its
    /// bottom; the address takes what is left between them (at most three lines).
    fn text_column(&mut self, card: &Card, note_lines: &[String], top: f32, bottom: f32) {
        let width = pt(CARD_W - TEXT_X - TEXT_RIGHT_PAD);
        let x = pt(self.left + TEXT_X);
        let name = clean(&card.name_zh);
        let (name, size) = fit(self.font, &name, width, NAME_ZH_PT);
        let mut y = top + size * ASCENT;
        self.text(&name, size, x, self.page_y(y));
        let latin = clean(&card.name_en);
        if !latin.is_empty() {
            let (latin, size) = fit(self.font, &latin, width, NAME_EN_PT);
            y += size * LEADING + 2.0;
            self.text(&latin, size, x, self.page_y(y));
        }
        let id = format!("ID …{}", last_chars(&clean(&card.id_last4), 4));
        y += ID_PT * LEADING + if latin.is_empty() { 2.0 } else { 0.0 };
        self.text(&id, ID_PT, x, self.page_y(y));

        let note_step = NOTE_PT * LEADING;
        let note_last = bottom - NOTE_PT * DESCENT;
        let note_first = note_last - note_step * note_lines.len().saturating_sub(1) as f32;
        let step = ADDRESS_PT * LEADING;
        // Room between the ID line and the instruction's first ascender, with a small gap.
        let room = note_first - NOTE_PT * ASCENT - 4.0 - y;
        let lines = ((room / step).floor().max(1.0) as usize).min(ADDRESS_MAX_LINES);
        let address = clean(&card.address);
        for line in wrap(self.font, &address, ADDRESS_PT, width, lines) {
            y += step;
            self.text(&line, ADDRESS_PT, x, self.page_y(y));
        }
        for (i, line) in note_lines.iter().enumerate() {
            let y = note_first + note_step * i as f32;
            self.text(line, NOTE_PT, x, self.page_y(y));
        }
    }

    /// PDF y of a baseline `y` points below the card's top.
    fn page_y(&self, y: f32) -> f32 {
        pt(PAGE_H - self.top) - y
    }

    /// One line at absolute page coordinates (points).
    fn text(&mut self, text: &str, size: f32, x: f32, y: f32) {
        if text.is_empty() {
            return;
        }
        let cids = self.font.encode(text);
        self.content
            .begin_text()
            .set_font(pdf::FONT_RESOURCE, size)
            .set_text_matrix([1.0, 0.0, 0.0, 1.0, r2(x), r2(y)])
            .show(Str(&cids))
            .end_text();
    }
}

/// A rectangle of dark modules, in module units.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ModuleRect {
    x: f32,
    y: f32,
    w: f32,
    h: f32,
}

/// The dark modules as rectangles: each horizontal run of dark modules is one, and a run
/// repeated exactly in the rows below grows downwards instead of starting another. Fewer
/// rectangles make the content stream shorter and quicker to compress (about a fifth
/// fewer than runs alone on real codes).
fn dark_rects(size: usize, dark: &[bool]) -> Vec<ModuleRect> {
    if size == 0 {
        return Vec::new();
    }
    let mut done = Vec::with_capacity(size * size / 4);
    // Runs still growing: (x, width, first row), in order of x.
    let mut open: Vec<(usize, usize, usize)> = Vec::new();
    let mut next = Vec::new();
    let close = |(x, w, y): (usize, usize, usize), row: usize| ModuleRect {
        x: x as f32,
        y: y as f32,
        w: w as f32,
        h: (row - y) as f32,
    };
    for (row, cells) in dark.chunks_exact(size).enumerate() {
        let mut waiting = open.iter().copied().peekable();
        for (x, w) in runs(cells) {
            // Runs that end before this one starts, or differ from it, are finished.
            while let Some(&run) = waiting.peek() {
                if run.0 > x || (run.0 == x && run.1 == w) {
                    break;
                }
                done.push(close(run, row));
                waiting.next();
            }
            match waiting.peek() {
                Some(&(ox, ow, oy)) if ox == x && ow == w => {
                    next.push((x, w, oy));
                    waiting.next();
                }
                _ => next.push((x, w, row)),
            }
        }
        done.extend(waiting.map(|run| close(run, row)));
        std::mem::swap(&mut open, &mut next);
        next.clear();
    }
    let rows = dark.len() / size;
    done.extend(open.into_iter().map(|run| close(run, rows)));
    done
}

/// (start, length) of each run of `true` in a row.
fn runs(cells: &[bool]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut x = 0;
    std::iter::from_fn(move || {
        while x < cells.len() && !cells[x] {
            x += 1;
        }
        let start = x;
        while x < cells.len() && cells[x] {
            x += 1;
        }
        (x > start).then(|| (start, x - start))
    })
}

/// Printable text only: whitespace (newlines too) becomes single spaces, control and
/// bidi-override characters go (they could reorder a name on screen), length is capped.
fn clean(s: &str) -> String {
    let invisible = |c: char| {
        c.is_control()
            || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    let mut out = String::with_capacity(s.len().min(MAX_FIELD_CHARS * 4));
    for c in s.chars().take(MAX_FIELD_CHARS) {
        if c.is_whitespace() {
            if !out.is_empty() && !out.ends_with(' ') {
                out.push(' ');
            }
        } else if !invisible(c) {
            out.push(c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

fn last_chars(s: &str, n: usize) -> String {
    let skip = s.chars().count().saturating_sub(n);
    s.chars().skip(skip).collect()
}

/// The line at the largest size in `sizes` (preferred, smallest) that fits `width`; below
/// the smallest it is cut and ends with "…".
fn fit(font: &mut Font, text: &str, width: f32, sizes: (f32, f32)) -> (String, f32) {
    let (size, min) = sizes;
    let full = font.width(text, size);
    if full <= width {
        return (text.to_string(), size);
    }
    // Half-point steps: steadier looking than exact fractional sizes.
    let shrunk = ((size * width / full) * 2.0).floor() / 2.0;
    if shrunk >= min {
        return (text.to_string(), shrunk);
    }
    (ellipsize(font, text, min, width), min)
}

/// The longest prefix of `text` that, followed by "…", fits `width`.
fn ellipsize(font: &mut Font, text: &str, size: f32, width: f32) -> String {
    let room = width - font.width("…", size);
    let mut used = 0.0;
    let mut out = String::new();
    for c in text.chars() {
        let w = font.width(c.encode_utf8(&mut [0; 4]), size);
        if used + w > room {
            break;
        }
        used += w;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

/// Greedy line breaking: Latin breaks at spaces, CJK between any two characters (closing
/// punctuation stays with the character before it). A word wider than the line is split.
/// More than `max_lines` lines: the last one kept ends with "…".
fn wrap(font: &mut Font, text: &str, size: f32, width: f32, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for (word, spaced) in words(text) {
        let candidate = if line.is_empty() {
            word.clone()
        } else if spaced {
            format!("{line} {word}")
        } else {
            format!("{line}{word}")
        };
        if font.width(&candidate, size) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        for c in word.chars() {
            let mut next = line.clone();
            next.push(c);
            if !line.is_empty() && font.width(&next, size) > width {
                lines.push(std::mem::replace(&mut line, c.to_string()));
            } else {
                line = next;
            }
        }
        if lines.len() > max_lines {
            break;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        if let Some(last) = lines.last_mut() {
            // The "…" says text was dropped, even when the kept line had room to spare.
            *last = ellipsize(font, last, size, width);
        }
    }
    lines
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFFEF | 0x20000..=0x3FFFF)
}

fn is_closing(c: char) -> bool {
    "，。、；：！？）》」』】〕,.;:!?)".contains(c)
}

/// Break units of `text` and whether a space preceded each.
fn words(text: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    let mut word = String::new();
    let mut spaced = false;
    let flush = |word: &mut String, spaced: &mut bool, out: &mut Vec<(String, bool)>| {
        if !word.is_empty() {
            out.push((std::mem::take(word), *spaced));
            *spaced = false;
        }
    };
    for c in text.chars() {
        if c == ' ' {
            flush(&mut word, &mut spaced, &mut out);
            spaced = true;
        } else if is_closing(c) && word.is_empty() && !spaced && !out.is_empty() {
            if let Some(last) = out.last_mut() {
                last.0.push(c);
            }
        } else if is_cjk(c) {
            flush(&mut word, &mut spaced, &mut out);
            word.push(c);
            flush(&mut word, &mut spaced, &mut out);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut spaced, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    static FONT_DATA: &[u8] = include_bytes!("../../fonts/wqy-microhei.ttc");

    /// A code-shaped matrix: finder squares in three corners, noise elsewhere.
    fn matrix(seed: u64, n: usize) -> Vec<bool> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let finder = |r: usize, c: usize| {
            let ring = r.max(c).min(6) as i32 - 3;
            ring.abs() != 2
        };
        (0..n * n)
            .map(|i| {
                let (r, c) = (i / n, i % n);
                match (r < 7, c < 7, c >= n - 7) {
                    (true, true, _) => finder(r, c),
                    (true, _, true) => finder(r, c - (n - 7)),
                    _ if r >= n - 7 && c < 7 => finder(r - (n - 7), c),
                    _ => {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x & 1 == 1
                    }
                }
            })
            .collect()
    }

    const LONG_ADDRESS: &str = "广东省清远市英德市连江口镇某某村民委员会第十二村民小组东头巷十八号之三（河堤旁，近旧粮站）Lianjiangkou Town, Yingde, Qingyuan, Guangdong Province, China";

    fn card(i: usize) -> Card {
        let names = [
            ("张*明", "Z*** M***"),
            ("欧阳**英", "O***** Y***"),
            ("王*堃", "W*** K***"),
            ("Ng* Ka*-wai", ""),
        ];
        let (zh, en) = names[i % names.len()];
        Card {
            qr_size: 61,
            qr_dark: matrix(i as u64, 61),
            name_zh: zh.into(),
            name_en: en.into(),
            id_last4: format!("{:03}X", i % 1000),
            address: if i == 5 {
                LONG_ADDRESS.into()
            } else {
                format!("连江口镇石螺村 {} 号", i + 1)
            },
        }
    }

    /// Each call's output, in order, for `n` cards in full pages.
    fn sheet_parts(cards: &[Card]) -> Vec<Vec<u8>> {
        let mut w = SheetWriter::new(FONT_DATA, cards.len()).expect("font loads");
        let mut parts: Vec<Vec<u8>> = cards
            .chunks(CARDS_PER_PAGE)
            .map(|page| w.page(page).expect("page"))
            .collect();
        parts.push(w.finish().expect("finish"));
        parts
    }

    fn sheet(n: usize) -> Vec<u8> {
        let cards: Vec<Card> = (0..n).map(card).collect();
        sheet_parts(&cards).concat()
    }

    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).rposition(|w| w == needle)
    }

    fn number_after(hay: &[u8], at: usize) -> usize {
        let digits: String = hay[at..]
            .iter()
            .skip_while(|b| b.is_ascii_whitespace())
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| char::from(b))
            .collect();
        digits.parse().expect("a number")
    }

    /// Object offsets from the xref table, checked against the `N 0 obj` they point at.
    fn xref(pdf: &[u8]) -> Vec<usize> {
        let start = rfind(pdf, b"startxref\n").expect("startxref");
        let at = number_after(pdf, start + 10);
        assert!(
            pdf[at..].starts_with(b"xref\n0 "),
            "startxref points at xref"
        );
        let size = number_after(pdf, at + 7);
        let table = at + find(&pdf[at..], b"0000000000 65535 f\r\n").expect("free head");
        let offsets: Vec<usize> = (1..size)
            .map(|id| {
                let line = &pdf[table + 20 * id..table + 20 * (id + 1)];
                assert_eq!(&line[10..], b" 00000 n\r\n", "entry {id} in use");
                let offset = number_after(line, 0);
                let head = format!("{id} 0 obj");
                assert!(
                    pdf[offset..].starts_with(head.as_bytes()),
                    "xref entry {id}"
                );
                offset
            })
            .collect();
        let trailer = &pdf[table + 20 * size..];
        assert!(trailer.starts_with(format!("trailer\n<< /Size {size} ").as_bytes()));
        offsets
    }

    /// The (decoded) data of stream object `id`.
    fn stream(pdf: &[u8], offsets: &[usize], id: usize) -> Vec<u8> {
        let obj = &pdf[offsets[id - 1]..];
        let dict_end = find(obj, b"stream\n").expect("a stream");
        let dict = &obj[..dict_end];
        let len = number_after(dict, find(dict, b"/Length").expect("length") + 7);
        let data = &obj[dict_end + 7..dict_end + 7 + len];
        assert!(obj[dict_end + 7 + len..].starts_with(b"\nendstream"));
        if find(dict, b"/FlateDecode").is_some() {
            miniz_oxide::inflate::decompress_to_vec_zlib(data).expect("inflates")
        } else {
            data.to_vec()
        }
    }

    fn tounicode(pdf: &[u8], offsets: &[usize]) -> HashMap<u16, String> {
        let cmap = stream(pdf, offsets, FONT.tounicode.get() as usize);
        let text = String::from_utf8(cmap).expect("ascii cmap");
        let hex = |s: &str| u16::from_str_radix(s, 16).expect("hex");
        text.lines()
            .filter_map(|l| l.strip_prefix('<')?.split_once("> <"))
            .filter(|(cid, _)| cid.len() == 4)
            .map(|(cid, utf16)| {
                let units: Vec<u16> = utf16
                    .trim_end_matches('>')
                    .as_bytes()
                    .chunks(4)
                    .map(|u| hex(std::str::from_utf8(u).expect("ascii")))
                    .collect();
                (hex(cid), String::from_utf16(&units).expect("utf-16"))
            })
            .collect()
    }

    /// The strings shown by `Tj` in a content stream (literal or hex), as raw bytes.
    fn shown_strings(content: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < content.len() {
            match content[i] {
                b'(' => {
                    let mut s = Vec::new();
                    i += 1;
                    while content[i] != b')' {
                        if content[i] == b'\\' {
                            i += 1;
                            let octal: Vec<u8> = content[i..]
                                .iter()
                                .take(3)
                                .take_while(|b| (b'0'..=b'7').contains(b))
                                .copied()
                                .collect();
                            if octal.is_empty() {
                                s.push(match content[i] {
                                    b'n' => b'\n',
                                    b'r' => b'\r',
                                    b't' => b'\t',
                                    b'b' => 8,
                                    b'f' => 12,
                                    other => other,
                                });
                            } else {
                                let text = std::str::from_utf8(&octal).expect("ascii");
                                s.push(u8::from_str_radix(text, 8).expect("octal"));
                                i += octal.len() - 1;
                            }
                        } else {
                            s.push(content[i]);
                        }
                        i += 1;
                    }
                    out.push(s);
                }
                b'<' => {
                    let end = i + find(&content[i..], b">").expect("hex end");
                    let hex = std::str::from_utf8(&content[i + 1..end]).expect("ascii");
                    let bytes = (0..hex.len())
                        .step_by(2)
                        .map(|k| u8::from_str_radix(&hex[k..k + 2], 16).expect("hex"))
                        .collect();
                    out.push(bytes);
                    i = end;
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    /// What a text extractor sees: every line shown, mapped through ToUnicode.
    fn extracted_lines(pdf: &[u8]) -> Vec<String> {
        let offsets = xref(pdf);
        let map = tounicode(pdf, &offsets);
        let mut lines = Vec::new();
        // Pages come in pairs from FIRST_FREE: content stream, then page.
        for id in (FIRST_FREE as usize..=offsets.len()).step_by(2) {
            let content = stream(pdf, &offsets, id);
            for s in shown_strings(&content) {
                let line: String = s
                    .chunks(2)
                    .map(|c| map[&u16::from_be_bytes([c[0], c[1]])].as_str())
                    .collect();
                lines.push(line);
            }
        }
        lines
    }

    #[test]
    fn three_pages_are_well_formed() {
        let pdf = sheet(20);
        assert!(pdf.starts_with(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let offsets = xref(&pdf);
        assert_eq!(offsets.len(), FIRST_FREE as usize - 1 + 3 * 2);
        let pages = offsets[PAGES.get() as usize - 1];
        let tree = &pdf[pages..pages + find(&pdf[pages..], b"endobj").expect("end")];
        assert!(find(tree, b"/Count 3").is_some());
        assert!(find(tree, b"/Font<</F1 4 0 R>>").is_some());
        assert!(find(tree, b"/MediaBox[0 0 595.28 841.89]").is_some());
        assert_eq!(pdf.windows(10).filter(|w| w == b"/Type/Page").count(), 4);
    }

    #[test]
    fn every_page_opens_with_its_progress_line() {
        let cards: Vec<Card> = (0..20).map(card).collect();
        let parts = sheet_parts(&cards);
        assert!(parts[0].starts_with(b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n%safecode-progress 8/20\n"));
        assert!(parts[1].starts_with(b"%safecode-progress 16/20\n"));
        assert!(parts[2].starts_with(b"%safecode-progress 20/20\n"));
        assert!(
            parts[3].starts_with(b"4 0 obj"),
            "finish starts with the font"
        );
    }

    #[test]
    fn text_extracts_through_tounicode() {
        let lines = extracted_lines(&sheet(20));
        for want in [
            "张*明",
            "欧阳**英",
            "王*堃",
            "Ng* Ka*-wai",
            "Z*** M***",
            "ID …005X",
        ] {
            assert!(lines.iter().any(|l| l == want), "{want} in {lines:?}");
        }
        let all = lines.concat();
        assert!(all.contains("请在安置点或检查点出示此码，扫码时实时核验颜色。"));
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("Show this code at a shelter"))
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "safecode · page 3 · cards 17–20 of 20")
        );
        // The long address: three lines, the last cut with "…".
        let start = lines
            .iter()
            .position(|l| l.starts_with("广东省"))
            .expect("address");
        assert!(
            lines[start + 2].ends_with('…'),
            "{:?}",
            &lines[start..start + 3]
        );
        assert!(!all.contains("Guangdong Province"));
    }

    #[test]
    fn embedded_font_is_a_subset_in_cid_order() {
        let cards: Vec<Card> = (0..10).map(card).collect();
        let mut w = SheetWriter::new(FONT_DATA, cards.len()).expect("font");
        let mut pdf = w.page(&cards[..8]).expect("page");
        pdf.extend(w.page(&cards[8..]).expect("page"));
        let used = w.font.used_glyphs();
        pdf.extend(w.finish().expect("finish"));

        let offsets = xref(&pdf);
        let file = stream(&pdf, &offsets, FONT.font_file.get() as usize);
        assert!(
            file.len() < 200_000,
            "subset, not the 5 MB font: {}",
            file.len()
        );
        let full = ttf_parser::Face::parse(FONT_DATA, 0).expect("full");
        let sub = ttf_parser::Face::parse(&file, 0).expect("subset parses");
        assert!(usize::from(sub.number_of_glyphs()) >= used.len());
        for (cid, (gid, _)) in used.iter().enumerate() {
            let (old, new) = (ttf_parser::GlyphId(*gid), ttf_parser::GlyphId(cid as u16));
            assert_eq!(full.glyph_hor_advance(old), sub.glyph_hor_advance(new));
            assert_eq!(full.glyph_bounding_box(old), sub.glyph_bounding_box(new));
        }
        let desc = offsets[FONT.descriptor.get() as usize - 1];
        let name = &pdf[desc + find(&pdf[desc..], b"/FontName/").expect("name") + 10..];
        assert!(name[..6].iter().all(u8::is_ascii_uppercase) && name[6] == b'+');
        assert!(name[7..].starts_with(b"WenQuanYiMicroHei"));
    }

    #[test]
    fn same_cards_same_bytes() {
        assert_eq!(sheet(9), sheet(9));
    }

    #[test]
    fn only_the_last_four_of_an_id_print() {
        let mut c = card(0);
        c.id_last4 = "11010119900101123X".into();
        c.name_zh = "刘\u{202E}䶮\n".into();
        let lines = extracted_lines(&sheet_parts(&[c]).concat());
        assert!(lines.iter().any(|l| l == "ID …123X"));
        // Bidi override dropped; a character the font lacks shows, and extracts, as U+FFFD.
        assert!(lines.iter().any(|l| l == "刘\u{FFFD}"), "{lines:?}");
    }

    #[test]
    fn long_lines_shrink_then_cut() {
        let mut font = Font::new(FONT_DATA).expect("font");
        let width = pt(CARD_W - TEXT_X - TEXT_RIGHT_PAD);
        let (short, size) = fit(&mut font, "张*明", width, NAME_ZH_PT);
        assert_eq!((short.as_str(), size), ("张*明", NAME_ZH_PT.0));
        let (mid, size) = fit(&mut font, "欧阳**英 Ouyang", width, NAME_ZH_PT);
        assert!(size < NAME_ZH_PT.0 && size >= NAME_ZH_PT.1 && !mid.ends_with('…'));
        assert!(font.width(&mid, size) <= width);
        let (cut, size) = fit(&mut font, LONG_ADDRESS, width, NAME_ZH_PT);
        assert_eq!(size, NAME_ZH_PT.1);
        assert!(cut.ends_with('…') && font.width(&cut, size) <= width);
    }

    #[test]
    fn wrapping_breaks_at_spaces_and_between_cjk() {
        let mut font = Font::new(FONT_DATA).expect("font");
        let width = pt(30.0);
        let lines = wrap(&mut font, NOTE_EN, NOTE_PT, width, usize::MAX);
        assert_eq!(lines.join(" "), NOTE_EN, "no word split, no word lost");
        let lines = wrap(&mut font, NOTE_ZH, NOTE_PT, width, usize::MAX);
        assert_eq!(lines.concat(), NOTE_ZH);
        assert!(
            lines
                .iter()
                .all(|l| !l.starts_with('，') && !l.starts_with('。'))
        );
        for l in &lines {
            assert!(font.width(l, NOTE_PT) <= width, "{l}");
        }
        let cut = wrap(&mut font, LONG_ADDRESS, ADDRESS_PT, width, 2);
        assert_eq!(cut.len(), 2);
        assert!(cut[1].ends_with('…') && font.width(&cut[1], ADDRESS_PT) <= width);
        let word = wrap(&mut font, &"W".repeat(60), ADDRESS_PT, width, 9);
        assert!(word.len() > 1 && word.iter().all(|l| font.width(l, ADDRESS_PT) <= width));
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(clean("  a\n\tb \u{200B}c\u{7}  "), "a b c");
        assert_eq!(last_chars("123456", 4), "3456");
        assert_eq!(last_chars("9X", 4), "9X");
        assert_eq!(clean(&"长".repeat(10_000)).chars().count(), MAX_FIELD_CHARS);
    }

    #[test]
    fn misuse_is_refused_without_side_effects() {
        assert_eq!(
            SheetWriter::new(FONT_DATA, 0).err(),
            Some(PrintError::NoCards)
        );
        assert!(matches!(
            SheetWriter::new(b"not a font", 1).err(),
            Some(PrintError::Font(_))
        ));
        let mut w = SheetWriter::new(FONT_DATA, 9).expect("font");
        let nine: Vec<Card> = (0..9).map(card).collect();
        let page_size = PrintError::PageSize {
            got: 9,
            max: CARDS_PER_PAGE,
        };
        assert_eq!(w.page(&nine).err(), Some(page_size));
        assert!(matches!(
            w.page(&[]),
            Err(PrintError::PageSize { got: 0, .. })
        ));
        let mut bad = card(1);
        bad.qr_dark.pop();
        assert_eq!(
            w.page(&[card(0), bad]).err(),
            Some(PrintError::BadQr { index: 1 })
        );
        let first = w.page(&nine[..8]).expect("page");
        assert!(first.starts_with(b"%PDF-1.7"), "nothing emitted before");
        assert_eq!(
            w.page(&nine[..2]).err(),
            Some(PrintError::TooManyCards { total: 9 })
        );
        let empty = SheetWriter::new(FONT_DATA, 3).expect("font");
        assert_eq!(empty.finish().err(), Some(PrintError::NoCards));
    }

    #[test]
    fn rectangles_cover_exactly_the_dark_modules() {
        for (seed, n) in [(1, 21), (2, 61), (3, 177), (4, 1)] {
            let dark = matrix(seed, n.max(8))
                .into_iter()
                .take(n * n)
                .collect::<Vec<_>>();
            let mut painted = vec![0u8; n * n];
            let rects = dark_rects(n, &dark);
            for r in &rects {
                for y in r.y as usize..(r.y + r.h) as usize {
                    for x in r.x as usize..(r.x + r.w) as usize {
                        painted[y * n + x] += 1;
                    }
                }
            }
            let want: Vec<u8> = dark.iter().map(|&d| u8::from(d)).collect();
            assert_eq!(painted, want, "size {n}");
            let runs: usize = dark.chunks(n).map(|row| runs(row).count()).sum();
            assert!(rects.len() <= runs);
        }
        let all = vec![true; 9];
        assert_eq!(
            dark_rects(3, &all),
            [ModuleRect {
                x: 0.0,
                y: 0.0,
                w: 3.0,
                h: 3.0
            }]
        );
    }

    #[test]
    fn a_page_is_small() {
        let cards: Vec<Card> = (0..8).map(card).collect();
        let parts = sheet_parts(&cards);
        // Eight codes of 61 modules; compressed runs, not images.
        assert!(parts[0].len() < 40_000, "{}", parts[0].len());
    }
}
