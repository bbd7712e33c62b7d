//! Downloads: Excel (one sheet per table, a column chart beside the tables that have one) and
//! CSV (UTF-8 with a byte order mark, so that Excel reads the Japanese headers right).

use super::tables::{Cell, Table};
use super::{Report, ReportError, ReportResult};
use rust_xlsxwriter::{Chart, ChartType, Format, Workbook, XlsxError};

fn xlsx_error(e: XlsxError) -> ReportError {
    ReportError::Xlsx(e.to_string())
}

/// The UTF-8 byte order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

impl Report {
    /// The report as an .xlsx workbook.
    pub fn to_xlsx(&self) -> ReportResult<Vec<u8>> {
        let mut book = Workbook::new();
        let header = Format::new().set_bold().set_background_color("#DDEBF7");
        let count = Format::new().set_num_format("#,##0");
        let percent = Format::new().set_num_format("0.0%");
        let title = format!("{} {}", self.programme_name, self.period.label);
        for table in self.tables() {
            let sheet = book.add_worksheet();
            sheet.set_name(table.title).map_err(xlsx_error)?;
            sheet.write_string(0, 0, &title).map_err(xlsx_error)?;
            for (c, h) in table.headers.iter().enumerate() {
                sheet
                    .write_string_with_format(2, col(c)?, *h, &header)
                    .map_err(xlsx_error)?;
            }
            for (r, row) in table.rows.iter().enumerate() {
                let r =
                    3 + u32::try_from(r).map_err(|_| ReportError::Xlsx("too many rows".into()))?;
                for (c, cell) in row.iter().enumerate() {
                    let c = col(c)?;
                    match cell {
                        // Counts and yen are far below 2^53: exact as f64.
                        Cell::Count(n) => sheet.write_number_with_format(r, c, *n as f64, &count),
                        Cell::Yen(y) => {
                            sheet.write_number_with_format(r, c, y.get() as f64, &count)
                        }
                        Cell::Ratio(ratio) => match ratio.fraction() {
                            Some(x) => sheet.write_number_with_format(r, c, x, &percent),
                            None => sheet.write_string(r, c, "—"),
                        },
                        Cell::Text(s) => sheet.write_string(r, c, s),
                        Cell::Hidden(s) => sheet.write_string(r, c, *s),
                    }
                    .map_err(xlsx_error)?;
                }
            }
            sheet.set_column_width(0, 36).map_err(xlsx_error)?;
            for c in 1..table.headers.len() {
                sheet.set_column_width(col(c)?, 16).map_err(xlsx_error)?;
            }
            if let (Some(value_col), false) = (table.chart_column, table.rows.is_empty()) {
                let chart = column_chart(&table, value_col)?;
                sheet
                    .insert_chart(3, col(table.headers.len() + 1)?, &chart)
                    .map_err(xlsx_error)?;
            }
        }
        book.save_to_buffer().map_err(xlsx_error)
    }

    /// One table as CSV: UTF-8 with BOM, CRLF line ends, Japanese headers.
    pub fn to_csv(&self, table: &str) -> ReportResult<Vec<u8>> {
        let table = self
            .table(table)
            .ok_or_else(|| ReportError::UnknownTable(table.chars().take(40).collect()))?;
        let mut out = String::new();
        let line = |out: &mut String, fields: Vec<String>| {
            let quoted: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            out.push_str(&quoted.join(","));
            out.push_str("\r\n");
        };
        line(
            &mut out,
            table.headers.iter().map(|h| h.to_string()).collect(),
        );
        for row in &table.rows {
            line(&mut out, row.iter().map(Cell::plain).collect());
        }
        let mut bytes = BOM.to_vec();
        bytes.extend_from_slice(out.as_bytes());
        Ok(bytes)
    }
}

fn col(c: usize) -> ReportResult<u16> {
    u16::try_from(c).map_err(|_| ReportError::Xlsx("too many columns".into()))
}

/// A column chart of `value_col` against the first column, on the table's own sheet. Hidden
/// cells are text, which Excel plots as nothing.
fn column_chart(table: &Table, value_col: usize) -> ReportResult<Chart> {
    let last = 2 + u32::try_from(table.rows.len())
        .map_err(|_| ReportError::Xlsx("too many rows".into()))?;
    let v = col(value_col)?;
    let mut chart = Chart::new(ChartType::Column);
    chart
        .add_series()
        .set_name(table.headers[value_col])
        .set_categories((table.title, 3, 0, last, 0))
        .set_values((table.title, 3, v, last, v));
    chart
        .title()
        .set_name(&format!("{}（{}）", table.title, table.headers[value_col]));
    chart.legend().set_hidden();
    Ok(chart)
}

/// RFC 4180 quoting; a leading `=`, `+`, `-` or `@` is defused so that a store's name can
/// never run as a formula when the file is opened.
fn csv_field(s: &str) -> String {
    let defused =
        if s.starts_with(['=', '+', '@']) || (s.starts_with('-') && s.parse::<f64>().is_err()) {
            format!("'{s}")
        } else {
            s.to_string()
        };
    if defused.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1200"), "-1200");
        assert_eq!(csv_field("-x"), "'-x");
        assert_eq!(csv_field("5未満"), "5未満");
    }
}
