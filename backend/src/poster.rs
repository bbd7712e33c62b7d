//! Printable store posters (POP) in Japanese: the programme's name, 「ご利用いただけます」, the
//! store's name, its static QR code drawn large as vectors (sharp at any print size), and three
//! steps of how to pay. One page per store: a single poster, or every approved store's poster
//! in one PDF for the promotion kit. Pure: fonts and store codes in, PDF bytes out.

use crate::pdf::{self, BLACK, Faces, MM, PdfError};
use crate::programme::Programme;
use chiiki_core::protocol::{PosterSize, StoreDetail};
use chiiki_core::qr::QrError;
use chiiki_core::qr::render::to_modules;
use krilla::Document;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;

const GREEN: (u8, u8, u8) = (22, 96, 46);
const WHITE: (u8, u8, u8) = (255, 255, 255);
const GREY: (u8, u8, u8) = (80, 80, 80);
const QUIET_ZONE_MODULES: f32 = 4.0;

/// The steps printed under the code.
pub const STEPS: [&str; 3] = [
    "アプリの「支払う」を押して、このQRコードを読み取ります",
    "金額を入れて、お店の人に画面を見せます",
    "暗証番号を入れて「支払う」を押せば完了です",
];

#[derive(Debug, thiserror::Error)]
pub enum PosterError {
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error("store {store_id}'s code cannot be drawn: {source}")]
    Code { store_id: i64, source: QrError },
}

/// Page size in points.
pub fn page_size(size: PosterSize) -> (f32, f32) {
    match size {
        PosterSize::A4 => (210.0 * MM, 297.0 * MM),
        PosterSize::A5 => (148.0 * MM, 210.0 * MM),
    }
}

/// One poster per `(store, code payload)`, in order, as one PDF.
pub fn posters(
    faces: &Faces,
    programme: &Programme,
    stores: &[(StoreDetail, String)],
    size: PosterSize,
) -> Result<Vec<u8>, PosterError> {
    let mut document = Document::new();
    let title = match stores {
        [(store, _)] => format!("{} {} ポスター", store.name, programme.display_name),
        _ => format!("{} 加盟店ポスター", programme.display_name),
    };
    document.set_metadata(
        Metadata::new()
            .title(title)
            .language("ja".into())
            .creator("Chiiki".into()),
    );
    let (width, height) = page_size(size);
    for (store, payload) in stores {
        let modules = to_modules(payload).map_err(|source| PosterError::Code {
            store_id: store.id,
            source,
        })?;
        let settings = PageSettings::from_wh(width, height)
            .ok_or_else(|| PdfError::Write("bad page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        draw(&mut surface, faces, programme, store, &modules, width);
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| PosterError::Pdf(PdfError::Write(format!("{e:?}"))))
}

fn draw(
    surface: &mut krilla::surface::Surface<'_>,
    faces: &Faces,
    programme: &Programme,
    store: &StoreDetail,
    modules: &chiiki_core::qr::render::Modules,
    width: f32,
) {
    // Everything is laid out for A4 and scaled to the page's width.
    let s = width / (210.0 * MM);
    let cx = width / 2.0;
    let margin = 40.0 * s;

    // The band: whose currency, and that it is accepted here.
    pdf::rects(surface, GREEN, &[(0.0, 0.0, width, 150.0 * s)]);
    pdf::with_colour(surface, WHITE, |surface| {
        let name = &programme.display_name;
        let size = pdf::fitting_size(&faces.bold, name, 54.0 * s, width - 2.0 * margin);
        pdf::centred(surface, &faces.bold, size, cx, 78.0 * s, name);
        pdf::centred(
            surface,
            &faces.bold,
            32.0 * s,
            cx,
            128.0 * s,
            "ご利用いただけます",
        );
    });

    let name_size = pdf::fitting_size(&faces.bold, &store.name, 34.0 * s, width - 2.0 * margin);
    pdf::centred(surface, &faces.bold, name_size, cx, 205.0 * s, &store.name);

    // The code, with its quiet zone left white.
    let side = 300.0 * s;
    let top = 225.0 * s;
    let module = side / (modules.width as f32 + 2.0 * QUIET_ZONE_MODULES);
    let left = cx - side / 2.0 + QUIET_ZONE_MODULES * module;
    let code_top = top + QUIET_ZONE_MODULES * module;
    let mut dark = Vec::with_capacity(modules.dark.len() / 2);
    for y in 0..modules.width {
        for x in 0..modules.width {
            if modules.is_dark(x, y) {
                // A hair wider than the module so that neighbours meet without seams.
                dark.push((
                    left + x as f32 * module,
                    code_top + y as f32 * module,
                    module * 1.02,
                    module * 1.02,
                ));
            }
        }
    }
    pdf::rects(surface, BLACK, &dark);
    pdf::with_colour(surface, GREY, |surface| {
        let label = format!("店舗番号 {}", store.id);
        pdf::centred(
            surface,
            &faces.regular,
            11.0 * s,
            cx,
            top + side + 16.0 * s,
            &label,
        );
    });

    // How to pay.
    let steps_top = top + side + 50.0 * s;
    pdf::text(
        surface,
        &faces.bold,
        20.0 * s,
        margin,
        steps_top,
        "お支払いの方法",
    );
    for (i, step) in STEPS.iter().enumerate() {
        let y = steps_top + 40.0 * s + i as f32 * 36.0 * s;
        let badge = 22.0 * s;
        pdf::rects(surface, GREEN, &[(margin, y - 17.0 * s, badge, badge)]);
        pdf::with_colour(surface, WHITE, |surface| {
            let number = (i + 1).to_string();
            pdf::centred(
                surface,
                &faces.bold,
                15.0 * s,
                margin + badge / 2.0,
                y,
                &number,
            );
        });
        let text_left = margin + badge + 10.0 * s;
        let size = pdf::fitting_size(&faces.regular, step, 15.0 * s, width - margin - text_left);
        pdf::text(surface, &faces.regular, size, text_left, y, step);
    }

    pdf::with_colour(surface, GREY, |surface| {
        let footer = format!("{}　{}", programme.city.name, programme.name);
        let size = pdf::fitting_size(&faces.regular, &footer, 10.0 * s, width - 2.0 * margin);
        pdf::centred(surface, &faces.regular, size, cx, 800.0 * s, &footer);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_iso_a4_and_a5() {
        let (w4, h4) = page_size(PosterSize::A4);
        let (w5, h5) = page_size(PosterSize::A5);
        assert!((w4 - 595.3).abs() < 0.1 && (h4 - 841.9).abs() < 0.1);
        assert!((w5 - 419.5).abs() < 0.1 && (h5 - 595.3).abs() < 0.1);
    }
}
