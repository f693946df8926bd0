//! Result sets as text: an aligned table, RFC 4180 CSV (header row first, NULL as the bare word
//! `NULL`, dates `YYYY-MM-DD`, decimals with their declared scale), or JSON (an array of
//! objects, NULL as `null`).

use datafusion::arrow::array::Array;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::error::{Error, Result};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns with borders.
    Table,
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Every cell as text (`None` for NULL), row by row.
pub fn cells(batches: &[RecordBatch]) -> Result<Vec<Vec<Option<String>>>> {
    let options = FormatOptions::default();
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::Plan(e.into()))?;
        for row in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(column, f)| (!column.is_null(row)).then(|| f.value(row).to_string()))
                    .collect(),
            );
        }
    }
    Ok(rows)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn json_value(text: &str, data_type: &DataType) -> serde_json::Value {
    let numeric =
        data_type.is_integer() || matches!(data_type, DataType::Float64 | DataType::Float32);
    if numeric {
        if let Ok(number) = text.parse::<serde_json::Number>() {
            return serde_json::Value::Number(number);
        }
    }
    serde_json::Value::String(text.to_string())
}

/// Renders a result set.
pub fn render(schema: &SchemaRef, batches: &[RecordBatch], format: Format) -> Result<String> {
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let rows = cells(batches)?;
    Ok(match format {
        Format::Csv => {
            let mut out = names
                .iter()
                .map(|n| csv_field(n))
                .collect::<Vec<_>>()
                .join(",");
            out.push_str("\r\n");
            for row in &rows {
                let line: Vec<String> = row
                    .iter()
                    .map(|c| c.as_deref().map_or_else(|| "NULL".to_string(), csv_field))
                    .collect();
                out.push_str(&line.join(","));
                out.push_str("\r\n");
            }
            out
        }
        Format::Json => {
            let objects: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    let map = names
                        .iter()
                        .zip(row)
                        .zip(schema.fields())
                        .map(|((name, cell), field)| {
                            let value = cell.as_deref().map_or(serde_json::Value::Null, |t| {
                                json_value(t, field.data_type())
                            });
                            (name.to_string(), value)
                        })
                        .collect();
                    serde_json::Value::Object(map)
                })
                .collect();
            let mut text = serde_json::to_string_pretty(&objects)
                .map_err(|e| Error::InvalidValue(e.to_string()))?;
            text.push('\n');
            text
        }
        Format::Table => {
            let mut widths: Vec<usize> = names.iter().map(|n| n.chars().count()).collect();
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.as_deref().unwrap_or("NULL").chars().count());
                }
            }
            let border: String = widths
                .iter()
                .map(|w| format!("+{}", "-".repeat(w + 2)))
                .collect::<String>()
                + "+\n";
            let line = |cells: Vec<&str>| -> String {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("| {c}{} ", " ".repeat(w - c.chars().count())))
                    .collect::<String>()
                    + "|\n"
            };
            let mut out = border.clone();
            out += &line(names.clone());
            out += &border;
            for row in &rows {
                out += &line(row.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect());
            }
            out += &border;
            out += &format!(
                "{} row{} in set\n",
                rows.len(),
                if rows.len() == 1 { "" } else { "s" }
            );
            out
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, Int64Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn csv_quotes_and_writes_null_bare() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
            Field::new("price", DataType::Decimal128(15, 2), true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("a,\"b\""), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(1050), None])
                        .with_precision_and_scale(15, 2)
                        .unwrap(),
                ),
            ],
        )
        .unwrap();
        let csv = render(&schema, std::slice::from_ref(&batch), Format::Csv).unwrap();
        assert_eq!(
            csv,
            "id,name,price\r\n1,\"a,\"\"b\"\"\",10.50\r\nNULL,NULL,NULL\r\n"
        );
        let json = render(&schema, &[batch], Format::Json).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(parsed[0]["id"], 1);
        assert_eq!(parsed[0]["price"], "10.50");
        assert!(parsed[1]["name"].is_null());
    }
}
