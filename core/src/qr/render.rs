//! Draws payloads as QR symbols: PNG bytes, SVG text, or Unicode half blocks for a terminal.
//! Error correction M, four-module quiet zone. Returns images; never writes them anywhere.

use super::QrError;
use qrcode::bits::Bits;
use qrcode::optimize::{Optimizer, Parser, Segment};
use qrcode::render::svg;
use qrcode::render::unicode::Dense1x2;
use qrcode::types::{Mode, QrError as SymbolError};
use qrcode::{Color, EcLevel, QrCode, Version};

/// The quiet zone ISO/IEC 18004 asks for, in modules.
pub const QUIET_ZONE_MODULES: usize = 4;
/// Largest accepted module size for PNG output (a version 40 symbol is then 5,920 px wide).
pub const MAX_MODULE_PX: u32 = 32;
const EC_LEVEL: EcLevel = EcLevel::M;
/// No QR symbol holds more characters than this (version 40-L, all digits); a quick bound.
const MAX_SYMBOL_CHARS: usize = 7089;

/// A PNG (1-bit greyscale) of the payload's QR symbol, `module_px` pixels per module
/// (1 to [`MAX_MODULE_PX`]).
pub fn to_png(payload: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    if !(1..=MAX_MODULE_PX).contains(&module_px) {
        return Err(QrError::InvalidSpec {
            field: "module_px",
            reason: "must be 1 to 32",
        });
    }
    let code = symbol(payload)?;
    let modules = code.width();
    let scale = module_px as usize;
    let side = (modules + 2 * QUIET_ZONE_MODULES) * scale;
    let side_u32 = u32::try_from(side).map_err(|_| QrError::RenderFailed {
        reason: "image too large",
    })?;

    // One bit per pixel, most significant first, 1 = white: start all white, ink the dark ones.
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0xFF_u8; row_bytes * side];
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color != Color::Dark {
            continue;
        }
        let left = (index % modules + QUIET_ZONE_MODULES) * scale;
        let top = (index / modules + QUIET_ZONE_MODULES) * scale;
        for y in top..top + scale {
            for x in left..left + scale {
                if let Some(byte) = pixels.get_mut(y * row_bytes + x / 8) {
                    *byte &= !(0x80 >> (x % 8));
                }
            }
        }
    }

    let failed = |_| QrError::RenderFailed {
        reason: "PNG encoding failed",
    };
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, side_u32, side_u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(&pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(png)
}

/// An SVG document of the payload's QR symbol, 8 user units per module, black on white.
pub fn to_svg(payload: &str) -> Result<String, QrError> {
    Ok(symbol(payload)?
        .render::<svg::Color>()
        .quiet_zone(true)
        .module_dimensions(8, 8)
        .build())
}

/// The payload's QR symbol as a grid of modules, for drawing it as vectors (posters): `width`
/// modules a side, row by row, `true` for dark. The quiet zone is not included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modules {
    pub width: usize,
    pub dark: Vec<bool>,
}

impl Modules {
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && self.dark.get(y * self.width + x).copied().unwrap_or(false)
    }
}

pub fn to_modules(payload: &str) -> Result<Modules, QrError> {
    let code = symbol(payload)?;
    Ok(Modules {
        width: code.width(),
        dark: code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect(),
    })
}

/// The payload's QR symbol as lines of Unicode half blocks (two modules per character cell).
/// Light modules are drawn as ink, so the symbol reads correctly on the usual dark-background
/// terminal; on a light background it shows inverted, which phone scanners also read.
pub fn to_terminal(payload: &str) -> Result<String, QrError> {
    Ok(symbol(payload)?
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// The smallest symbol at level M. The payload's bytes are split into numeric, alphanumeric
/// and byte segments, never Kanji: the qrcode crate would take pairs of UTF-8 bytes for Shift
/// JIS Kanji, and phone scanners would then turn a Japanese store name into garbage.
fn symbol(payload: &str) -> Result<QrCode, QrError> {
    let data = payload.as_bytes();
    if data.len() > MAX_SYMBOL_CHARS {
        return Err(QrError::TooLong);
    }
    let segments: Vec<Segment> = Parser::new(data)
        .map(|segment| match segment.mode {
            Mode::Kanji => Segment {
                mode: Mode::Byte,
                ..segment
            },
            _ => segment,
        })
        .collect();
    for number in 1..=40 {
        let version = Version::Normal(number);
        let mut bits = Bits::new(version);
        let pushed = bits
            .push_segments(data, Optimizer::new(segments.iter().copied(), version))
            .and_then(|()| bits.push_terminator(EC_LEVEL));
        match pushed {
            Ok(()) => return QrCode::with_bits(bits, EC_LEVEL).map_err(symbol_error),
            Err(SymbolError::DataTooLong) => continue,
            Err(other) => return Err(symbol_error(other)),
        }
    }
    Err(QrError::TooLong)
}

fn symbol_error(error: SymbolError) -> QrError {
    match error {
        SymbolError::DataTooLong => QrError::TooLong,
        _ => QrError::RenderFailed {
            reason: "QR symbol encoding failed",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Yen;
    use crate::protocol::Industry;
    use crate::qr::{ResidentToken, StoreCodeSpec, encode_amount_code, encode_store_code};

    /// Reads a PNG made by [`to_png`] back into text with rqrr, as a phone would.
    fn scan(png_bytes: &[u8]) -> String {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
        let frame = reader.next_frame(&mut buffer).unwrap();
        assert_eq!(frame.color_type, png::ColorType::Grayscale);
        let (width, height) = (frame.width as usize, frame.height as usize);
        let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
            buffer[y * frame.line_size + x]
        });
        let grids = image.detect_grids();
        assert_eq!(grids.len(), 1, "one QR symbol expected");
        grids[0].decode().unwrap().1
    }

    fn spec() -> StoreCodeSpec {
        StoreCodeSpec {
            programme_id: "midori-2024".into(),
            store_id: 1234,
            industry: Industry::Bakery,
            romanised_name: "Pan no Mori".into(),
            romanised_city: "Midori".into(),
            postal_code: Some("3760195".into()),
            name_ja: Some("パンの森 大間々店".into()),
            city_ja: Some("みどり市".into()),
        }
    }

    #[test]
    fn store_code_png_with_japanese_scans_back() {
        let payload = encode_store_code(&spec()).unwrap();
        assert!(!payload.is_ascii());
        assert_eq!(scan(&to_png(&payload, 4).unwrap()), payload);
    }

    #[test]
    fn amount_code_png_scans_back() {
        let payload = encode_amount_code(&spec(), Yen(3980), Some("A-77"), None).unwrap();
        assert_eq!(scan(&to_png(&payload, 3).unwrap()), payload);
    }

    #[test]
    fn resident_code_png_scans_back_in_a_small_symbol() {
        let token = ResidentToken {
            device_id: 99,
            issued_at: 1_732_000_000,
            validity_secs: 60,
            nonce: [3; 16],
        };
        let payload = token.encode(&[0x5A; 64]).unwrap();
        assert_eq!(scan(&to_png(&payload, 4).unwrap()), payload);
        // Alphanumeric mode keeps it at version 7 (45 modules) rather than version 8 in bytes.
        assert_eq!(symbol(&payload).unwrap().version(), Version::Normal(7));
    }

    #[test]
    fn japanese_text_is_never_put_in_kanji_mode() {
        // "メ" is E3 83 A1 in UTF-8; E3 83 would otherwise pass for a Shift JIS Kanji pair.
        let payload = "メルペイ カフェ";
        assert_eq!(scan(&to_png(payload, 4).unwrap()), payload);
        let segments: Vec<Segment> = Parser::new(payload.as_bytes()).collect();
        assert!(
            segments.iter().any(|s| s.mode == Mode::Kanji),
            "test no longer exercises the fix"
        );
    }

    #[test]
    fn png_size_follows_module_size_and_quiet_zone() {
        let png_bytes = to_png("HELLO", 2).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(&png_bytes[..]));
        let info = decoder.read_info().unwrap().info().clone();
        assert_eq!(info.width, (21 + 8) * 2);
        assert_eq!(info.height, info.width);
        assert!(matches!(
            to_png("HELLO", 0),
            Err(QrError::InvalidSpec { .. })
        ));
        assert!(matches!(
            to_png("HELLO", 33),
            Err(QrError::InvalidSpec { .. })
        ));
    }

    #[test]
    fn svg_and_terminal_renderings_have_the_symbols_shape() {
        let svg = to_svg("HELLO").unwrap();
        assert!(
            svg.contains("<svg") && svg.contains(r#"width="232""#),
            "{svg}"
        );
        let text = to_terminal("HELLO").unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), (21 + 8_usize).div_ceil(2));
        assert!(lines.iter().all(|line| line.chars().count() == 21 + 8));
        assert!(
            lines[0].chars().all(|c| c == '█'),
            "quiet zone drawn as light"
        );
    }

    #[test]
    fn modules_match_the_png_symbol() {
        let modules = to_modules("HELLO").unwrap();
        assert_eq!(modules.width, 21);
        assert_eq!(modules.dark.len(), 21 * 21);
        // Finder pattern corners are dark, the separator beside them light.
        assert!(modules.is_dark(0, 0) && modules.is_dark(20, 0) && modules.is_dark(0, 20));
        assert!(!modules.is_dark(7, 0) && !modules.is_dark(21, 0));
    }

    #[test]
    fn payloads_too_big_for_any_symbol_are_refused() {
        let huge = "あ".repeat(1000);
        assert_eq!(to_svg(&huge), Err(QrError::TooLong));
        assert_eq!(to_terminal(&"x".repeat(2400)), Err(QrError::TooLong));
        assert_eq!(to_png(&"9".repeat(10_000), 1), Err(QrError::TooLong));
    }
}
