//! Charts as SVG, drawn with plotters from the report's tables, so that they show exactly what
//! the tables show: a hidden figure is a missing bar labelled 「秘匿」, never a bar whose height
//! tells the number. The text is SVG text naming Noto Sans CJK JP: the browser draws the
//! Japanese, no font file is embedded.

use super::anonymity::{SUPPRESSED, group_digits};
use super::tables::{Cell, Table};
use super::{Report, ReportError, ReportResult};
use chrono::Datelike;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use serde::Serialize;

/// The font the SVG text asks for, with fallbacks.
pub const FONT_FAMILY: &str = "Noto Sans CJK JP, Noto Sans JP, sans-serif";

/// One chart of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chart {
    /// The table it plots (`daily`, `industry`, ...).
    pub id: &'static str,
    pub title: String,
    pub svg: String,
}

fn chart_error(e: impl std::fmt::Display) -> ReportError {
    ReportError::Chart(e.to_string())
}

/// The bars of a table: (label, yen) with `None` for a hidden figure.
fn bars(table: &Table, column: usize) -> Vec<(String, Option<i64>)> {
    table
        .rows
        .iter()
        .filter_map(|row| {
            let label = row.first()?.plain();
            let value = match row.get(column)? {
                Cell::Yen(y) => Some(y.get()),
                Cell::Count(n) => Some(*n),
                _ => None,
            };
            Some(match value {
                Some(v) => (label, Some(v)),
                None => (format!("{label}（{SUPPRESSED}）"), None),
            })
        })
        .collect()
}

/// How the bars run: up from a category axis at the bottom (days, short labels), or out from
/// a category axis on the left (long Japanese names, read without tilting the head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Orientation {
    Vertical,
    Horizontal,
}

/// A bar chart of yen by category.
pub fn bar_chart(
    title: &str,
    bars: &[(String, Option<i64>)],
    orientation: Orientation,
) -> ReportResult<String> {
    let n = u32::try_from(bars.len()).map_err(chart_error)?.max(1);
    let size = match orientation {
        Orientation::Vertical => (960, 420),
        Orientation::Horizontal => (960, 110 + 26 * n),
    };
    let values = bars.iter().filter_map(|b| b.1);
    let max = values.clone().max().unwrap_or(0).max(1);
    let min = values.min().unwrap_or(0).min(0);
    let amounts = min..max + max / 10;
    let label = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(i) => bars
            .get(*i as usize)
            .map(|b| b.0.clone())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let yen = |y: &i64| format!("¥{}", group_digits(*y));
    let colour = RGBColor(0x2e, 0x7d, 0x32).filled();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut builder = ChartBuilder::on(&root);
        builder.caption(title, (FONT_FAMILY, 20)).margin(16);
        match orientation {
            Orientation::Vertical => {
                let mut chart = builder
                    .x_label_area_size(36)
                    .y_label_area_size(100)
                    .build_cartesian_2d((0u32..n).into_segmented(), amounts)
                    .map_err(chart_error)?;
                chart
                    .configure_mesh()
                    .disable_x_mesh()
                    .light_line_style(WHITE)
                    .x_labels(bars.len().min(16))
                    .x_label_formatter(&label)
                    .y_label_formatter(&yen)
                    .label_style((FONT_FAMILY, 13))
                    .draw()
                    .map_err(chart_error)?;
                chart
                    .draw_series(bars.iter().enumerate().filter_map(|(i, (_, v))| {
                        let i = u32::try_from(i).ok()?;
                        let mut bar = Rectangle::new(
                            [
                                (SegmentValue::Exact(i), 0),
                                (SegmentValue::Exact(i + 1), (*v)?),
                            ],
                            colour,
                        );
                        bar.set_margin(0, 0, 2, 2);
                        Some(bar)
                    }))
                    .map_err(chart_error)?;
            }
            Orientation::Horizontal => {
                // The first row is drawn at the top: category i sits at n - 1 - i.
                let flipped = |v: &SegmentValue<u32>| match v {
                    SegmentValue::CenterOf(i) => n
                        .checked_sub(i + 1)
                        .map(|at| label(&SegmentValue::CenterOf(at)))
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                let mut chart = builder
                    .x_label_area_size(36)
                    .y_label_area_size(230)
                    .build_cartesian_2d(amounts, (0u32..n).into_segmented())
                    .map_err(chart_error)?;
                chart
                    .configure_mesh()
                    .disable_y_mesh()
                    .light_line_style(WHITE)
                    .y_labels(bars.len())
                    .y_label_formatter(&flipped)
                    .x_label_formatter(&yen)
                    .x_labels(6)
                    .label_style((FONT_FAMILY, 13))
                    .draw()
                    .map_err(chart_error)?;
                chart
                    .draw_series(bars.iter().enumerate().filter_map(|(i, (_, v))| {
                        let at = n - 1 - u32::try_from(i).ok()?;
                        let mut bar = Rectangle::new(
                            [
                                (0, SegmentValue::Exact(at)),
                                ((*v)?, SegmentValue::Exact(at + 1)),
                            ],
                            colour,
                        );
                        bar.set_margin(3, 3, 0, 0);
                        Some(bar)
                    }))
                    .map_err(chart_error)?;
            }
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

impl Report {
    /// Net spending by day, industry, age band and home district, as SVG.
    pub fn charts(&self) -> ReportResult<Vec<Chart>> {
        let tables = self.tables();
        let mut out = Vec::new();
        for (id, orientation) in [
            ("daily", Orientation::Vertical),
            ("industry", Orientation::Horizontal),
            ("age_band", Orientation::Vertical),
            ("resident_district", Orientation::Horizontal),
        ] {
            let Some(table) = tables.iter().find(|t| t.id == id) else {
                continue;
            };
            let Some(column) = table.chart_column else {
                continue;
            };
            let title = format!(
                "{}（{}）{}",
                table.title, table.headers[column], self.period.label
            );
            let mut bars = bars(table, column);
            if id == "daily" {
                // 2024-11-01 → 11/1: short enough to stand upright under each bar.
                for (label, _) in &mut bars {
                    if let Ok(d) = chrono::NaiveDate::parse_from_str(label, "%Y-%m-%d") {
                        *label = format!("{}/{}", d.month(), d.day());
                    }
                }
            }
            let svg = bar_chart(&title, &bars, orientation)?;
            out.push(Chart { id, title, svg });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_svg_with_japanese_text_in_a_cjk_font() {
        let svg = bar_chart(
            "業種別（利用額）",
            &[
                ("飲食店".into(), Some(12_000)),
                ("書店（秘匿）".into(), None),
            ],
            Orientation::Horizontal,
        )
        .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..80.min(svg.len())]);
        assert!(svg.contains("飲食店"));
        assert!(svg.contains("書店（秘匿）"));
        assert!(svg.contains("Noto Sans CJK JP"));
    }
}
