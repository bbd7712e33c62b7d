//! Japanese PDF documents (store posters, settlement statements): the fonts they use and a few
//! drawing helpers over krilla. Fonts are Noto Sans CJK JP from Debian's `fonts-noto-cjk`,
//! read from disk at first use (paths configurable) and subset into each PDF by krilla, so a
//! document carries only the glyphs it shows. Never falls back to another font silently: a
//! Japanese document without a Japanese font would be unreadable.

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::paint::Fill;
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where Debian's fonts-noto-cjk puts its collections.
pub const DEFAULT_REGULAR_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
pub const DEFAULT_BOLD_FONT: &str = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc";
/// The collections hold one face per region (JP, KR, SC, TC, HK, then the Mono faces); a
/// plain `.otf` has only one face, also at index 0.
const JAPANESE_FACE: u32 = 0;

#[derive(Debug, Clone, thiserror::Error)]
pub enum PdfError {
    #[error(
        "font {path} cannot be read ({reason}); install Debian's fonts-noto-cjk or set CHIIKI_FONT_REGULAR / CHIIKI_FONT_BOLD"
    )]
    FontMissing { path: String, reason: String },
    #[error("font {0} is not an OpenType font krilla can use")]
    FontInvalid(String),
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// One font face, with its bytes kept for measuring text.
#[derive(Clone)]
pub struct Face {
    data: Arc<Vec<u8>>,
    pub font: Font,
}

impl std::fmt::Debug for Face {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Face({} bytes)", self.data.len())
    }
}

impl Face {
    fn load(path: &Path) -> Result<Face, PdfError> {
        let bytes = std::fs::read(path).map_err(|e| PdfError::FontMissing {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let data = Arc::new(bytes);
        let font = Font::new(data.clone().into(), JAPANESE_FACE)
            .ok_or_else(|| PdfError::FontInvalid(path.display().to_string()))?;
        Ok(Face { data, font })
    }

    /// How wide `text` is at `size` points (advance widths, no kerning: close enough to centre
    /// a line).
    pub fn width(&self, text: &str, size: f32) -> f32 {
        let Ok(font) = skrifa::FontRef::from_index(&self.data, JAPANESE_FACE) else {
            return 0.0;
        };
        let charmap = font.charmap();
        let metrics = font.glyph_metrics(Size::new(size), LocationRef::default());
        text.chars()
            .filter_map(|c| charmap.map(c))
            .filter_map(|g| metrics.advance_width(g))
            .sum()
    }
}

/// The fonts documents use.
#[derive(Debug, Clone)]
pub struct Faces {
    pub regular: Face,
    pub bold: Face,
}

/// Font paths, loaded once on first use and then shared.
#[derive(Debug)]
pub struct Fonts {
    regular: PathBuf,
    bold: PathBuf,
    loaded: tokio::sync::OnceCell<Faces>,
}

impl Default for Fonts {
    fn default() -> Self {
        Fonts::from_env()
    }
}

impl Fonts {
    /// `CHIIKI_FONT_REGULAR` and `CHIIKI_FONT_BOLD` when set, else Debian's fonts-noto-cjk.
    pub fn from_env() -> Fonts {
        let path = |var: &str, default: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(default))
        };
        Fonts::new(
            path("CHIIKI_FONT_REGULAR", DEFAULT_REGULAR_FONT),
            path("CHIIKI_FONT_BOLD", DEFAULT_BOLD_FONT),
        )
    }

    pub fn new(regular: PathBuf, bold: PathBuf) -> Fonts {
        Fonts {
            regular,
            bold,
            loaded: tokio::sync::OnceCell::new(),
        }
    }

    /// The faces, read from disk the first time (a failure is not remembered: installing the
    /// fonts later fixes it without a restart).
    pub async fn get(&self) -> Result<Faces, PdfError> {
        self.loaded
            .get_or_try_init(|| async {
                let (regular, bold) = (self.regular.clone(), self.bold.clone());
                tokio::task::spawn_blocking(move || {
                    Ok(Faces {
                        regular: Face::load(&regular)?,
                        bold: Face::load(&bold)?,
                    })
                })
                .await
                .map_err(|e| PdfError::Write(e.to_string()))?
            })
            .await
            .cloned()
    }
}

/// Points per millimetre.
pub const MM: f32 = 72.0 / 25.4;

pub fn fill(colour: (u8, u8, u8)) -> Fill {
    Fill {
        paint: rgb::Color::new(colour.0, colour.1, colour.2).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

pub const BLACK: (u8, u8, u8) = (0, 0, 0);

/// Text with its baseline's left end at (x, y); y grows downwards.
pub fn text(surface: &mut Surface<'_>, face: &Face, size: f32, x: f32, y: f32, s: &str) {
    surface.draw_text(
        Point::from_xy(x, y),
        face.font.clone(),
        size,
        s,
        false,
        TextDirection::Auto,
    );
}

/// Text centred on `cx`.
pub fn centred(surface: &mut Surface<'_>, face: &Face, size: f32, cx: f32, y: f32, s: &str) {
    let x = cx - face.width(s, size) / 2.0;
    text(surface, face, size, x, y, s);
}

/// Text whose right end is at `right`.
pub fn right_aligned(
    surface: &mut Surface<'_>,
    face: &Face,
    size: f32,
    right: f32,
    y: f32,
    s: &str,
) {
    let x = right - face.width(s, size);
    text(surface, face, size, x, y, s);
}

/// The largest size (at most `max`) at which `s` fits in `width`.
pub fn fitting_size(face: &Face, s: &str, max: f32, width: f32) -> f32 {
    let at_max = face.width(s, max);
    if at_max <= width || at_max <= 0.0 {
        max
    } else {
        max * width / at_max
    }
}

/// Filled rectangles, one path (QR modules, rules and boxes); the fill is black afterwards.
pub fn rects(surface: &mut Surface<'_>, colour: (u8, u8, u8), rects: &[(f32, f32, f32, f32)]) {
    let mut pb = PathBuilder::new();
    for &(x, y, w, h) in rects {
        if let Some(r) = Rect::from_xywh(x, y, w, h) {
            pb.push_rect(r);
        }
    }
    if let Some(path) = pb.finish() {
        surface.set_fill(Some(fill(colour)));
        surface.draw_path(&path);
        surface.set_fill(Some(fill(BLACK)));
    }
}

/// Text drawn in `colour`, then the fill set back to black.
pub fn with_colour(
    surface: &mut Surface<'_>,
    colour: (u8, u8, u8),
    draw: impl FnOnce(&mut Surface<'_>),
) {
    surface.set_fill(Some(fill(colour)));
    draw(surface);
    surface.set_fill(Some(fill(BLACK)));
}
