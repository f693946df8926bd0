//! TPC-H answer checks: runs every `queries/qNN.sql` of a directory through a [`Session`] and
//! compares the rows with the expected answer in `answers/qNN.csv`.
//!
//! The answers are RFC 4180 CSV written by DuckDB (`sql-tests/tpch/regenerate.sh`): a header
//! row of column names, then one record per row, NULL as the bare (unquoted) word `NULL`.
//! Rows are compared in order; column names are not compared (DataFusion and DuckDB name
//! unaliased expressions differently). A cell passes when its text is equal, when both sides are
//! numbers whose absolute difference is at most [`ABSOLUTE_TOLERANCE`] or whose relative
//! difference is at most [`RELATIVE_TOLERANCE`] (DuckDB averages in doubles, DataFusion in
//! decimals), or when the texts are equal after trimming trailing spaces (CHAR columns).
//!
//! A query that fails to plan or run is a failed [`QueryOutcome`] carrying the error text; only
//! an unreadable query directory aborts the check.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::error::{Error, Result};
use crate::format::cells;
use crate::session::{Output, Session};

/// Numbers this close are equal (money is shown with two decimals).
pub const ABSOLUTE_TOLERANCE: f64 = 0.01;

/// Numbers whose difference is at most this fraction of the larger magnitude are equal.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;

/// What one query did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOutcome {
    /// The query's name (`q01`).
    pub name: String,
    /// Whether its rows matched the answer.
    pub passed: bool,
    /// The row count when passed; otherwise the error or the first difference.
    pub detail: String,
    /// Time to plan and run the query, in milliseconds.
    pub millis: u128,
}

/// One cell of a result or an answer; `None` is NULL.
type Cell = Option<String>;

/// An expected answer: column names and rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The header row.
    pub columns: Vec<String>,
    /// The rows after the header.
    pub rows: Vec<Vec<Cell>>,
}

/// Runs every `dir/queries/qNN.sql` (in name order) and compares each with
/// `dir/answers/qNN.csv`.
pub async fn check(session: &Session, dir: &Path) -> Result<Vec<QueryOutcome>> {
    let mut outcomes = Vec::new();
    for (name, path) in query_files(&dir.join("queries"))? {
        let answer_path = dir.join("answers").join(format!("{name}.csv"));
        outcomes.push(check_one(session, name, &path, &answer_path).await);
    }
    Ok(outcomes)
}

/// The `qNN.sql` files of `dir`, by name.
fn query_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::InvalidValue(format!("reading {}: {e}", dir.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::InvalidValue(format!("reading {}: {e}", dir.display())))?;
        let file_name = entry.file_name();
        let Some(stem) = file_name
            .to_str()
            .and_then(|name| name.strip_suffix(".sql"))
        else {
            continue;
        };
        let numbered = stem
            .strip_prefix('q')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if numbered {
            files.push((stem.to_string(), entry.path()));
        }
    }
    if files.is_empty() {
        return Err(Error::InvalidValue(format!(
            "no qNN.sql files in {}",
            dir.display()
        )));
    }
    files.sort();
    Ok(files)
}

async fn check_one(session: &Session, name: String, query: &Path, answer: &Path) -> QueryOutcome {
    let failed = |detail: String, millis: u128| QueryOutcome {
        name: name.clone(),
        passed: false,
        detail,
        millis,
    };
    let sql = match std::fs::read_to_string(query) {
        Ok(sql) => sql,
        Err(e) => return failed(format!("reading {}: {e}", query.display()), 0),
    };
    let expected = match std::fs::read_to_string(answer) {
        Ok(text) => parse_answer(&text),
        Err(e) => Err(format!("reading {}: {e}", answer.display())),
    };
    let expected = match expected {
        Ok(expected) => expected,
        Err(e) => return failed(format!("answer {}: {e}", answer.display()), 0),
    };
    let started = Instant::now();
    let output = session.execute(&sql).await;
    let millis = started.elapsed().as_millis();
    let (columns, actual) = match output {
        Ok(Output::Rows { schema, batches }) => match cells(&batches) {
            Ok(rows) => (schema.fields().len(), rows),
            Err(e) => return failed(format!("rendering the result: {e}"), millis),
        },
        Ok(Output::Affected(n)) => {
            return failed(format!("returned no rows ({n} affected)"), millis)
        }
        Ok(Output::Done) => return failed("returned no rows".into(), millis),
        Err(e) => return failed(format!("error: {e}"), millis),
    };
    match compare(columns, &actual, &expected) {
        Ok(()) => QueryOutcome {
            name,
            passed: true,
            detail: format!("{} rows", actual.len()),
            millis,
        },
        Err(detail) => failed(detail, millis),
    }
}

/// Parses an answer file: the header and the rows, all records as wide as the header.
pub fn parse_answer(text: &str) -> std::result::Result<Answer, String> {
    let mut records = parse_csv(text)?.into_iter();
    let header = records.next().ok_or("no header row")?;
    let columns = header
        .into_iter()
        .map(|name| name.unwrap_or_else(|| "NULL".to_string()))
        .collect::<Vec<_>>();
    let rows: Vec<Vec<Cell>> = records.collect();
    if let Some((i, row)) = rows
        .iter()
        .enumerate()
        .find(|(_, row)| row.len() != columns.len())
    {
        return Err(format!(
            "row {} has {} fields, the header {}",
            i + 1,
            row.len(),
            columns.len()
        ));
    }
    Ok(Answer { columns, rows })
}

/// Parses RFC 4180 CSV into records of fields; an unquoted `NULL` is `None`. Lines end in CRLF
/// or LF; a quoted field may hold commas, line breaks and doubled quotes; the last line break
/// is optional.
pub fn parse_csv(text: &str) -> std::result::Result<Vec<Vec<Cell>>, String> {
    let mut records = Vec::new();
    let mut record = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        let mut field = String::new();
        let quoted = chars.peek() == Some(&'"');
        if quoted {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("line {line}: unterminated quoted field")),
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => {
                        if c == '\n' {
                            line += 1;
                        }
                        field.push(c);
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                match c {
                    ',' | '\r' | '\n' => break,
                    '"' => return Err(format!("line {line}: quote inside an unquoted field")),
                    _ => {
                        field.push(c);
                        chars.next();
                    }
                }
            }
        }
        record.push((quoted || field != "NULL").then_some(field));
        match chars.next() {
            Some(',') => {
                if chars.peek().is_none() {
                    // A trailing comma ends the text with one more, empty field.
                    record.push(Some(String::new()));
                }
            }
            Some('\r') | Some('\n') | None => {
                // The CR of a CRLF is followed by its LF.
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                line += 1;
                records.push(std::mem::take(&mut record));
            }
            Some(c) => return Err(format!("line {line}: {c:?} after a closing quote")),
        }
    }
    if !record.is_empty() {
        records.push(record);
    }
    Ok(records)
}

/// Whether a result cell matches an answer cell.
pub fn cell_matches(actual: Option<&str>, expected: Option<&str>) -> bool {
    let (Some(actual), Some(expected)) = (actual, expected) else {
        return actual.is_none() && expected.is_none();
    };
    if actual == expected {
        return true;
    }
    if let (Some(a), Some(b)) = (number(actual), number(expected)) {
        let difference = (a - b).abs();
        return difference <= ABSOLUTE_TOLERANCE
            || difference <= RELATIVE_TOLERANCE * a.abs().max(b.abs());
    }
    actual.trim_end_matches(' ') == expected.trim_end_matches(' ')
}

/// A finite number, or `None` for text that is not one.
fn number(text: &str) -> Option<f64> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|value| value.is_finite())
}

fn show_row(row: &[Cell]) -> String {
    let fields: Vec<&str> = row.iter().map(|c| c.as_deref().unwrap_or("NULL")).collect();
    format!("[{}]", fields.join(", "))
}

/// Compares a result (`columns` wide) with an answer: the first difference, if any.
pub fn compare(
    columns: usize,
    actual: &[Vec<Cell>],
    expected: &Answer,
) -> std::result::Result<(), String> {
    if columns != expected.columns.len() {
        return Err(format!(
            "{columns} columns, expected {} ({})",
            expected.columns.len(),
            expected.columns.join(", ")
        ));
    }
    let first_difference = actual
        .iter()
        .zip(&expected.rows)
        .enumerate()
        .find_map(|(i, (a, e))| {
            let column = (0..columns).find(|&c| {
                !cell_matches(
                    a.get(c).and_then(|v| v.as_deref()),
                    e.get(c).and_then(|v| v.as_deref()),
                )
            })?;
            Some(format!(
                "row {} column {} ({}): got {}, expected {}",
                i + 1,
                column + 1,
                expected.columns[column],
                show_row(a),
                show_row(e)
            ))
        });
    let counts = (actual.len() != expected.rows.len())
        .then(|| format!("{} rows, expected {}", actual.len(), expected.rows.len()));
    match (counts, first_difference) {
        (None, None) => Ok(()),
        (Some(counts), None) => {
            let shorter = actual.len().min(expected.rows.len());
            let extra = actual
                .get(shorter)
                .map(|row| format!("first extra row {}", show_row(row)))
                .or_else(|| {
                    expected
                        .rows
                        .get(shorter)
                        .map(|row| format!("first missing row {}", show_row(row)))
                })
                .unwrap_or_default();
            Err(format!("{counts}; {extra}"))
        }
        (None, Some(difference)) => Err(difference),
        (Some(counts), Some(difference)) => Err(format!("{counts}; {difference}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::SqlType;
    use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::{SessionConfig, SessionContext};
    use datafusion::sql::sqlparser::ast::{ColumnOption, Statement};
    use std::sync::Arc;

    fn some(fields: &[&str]) -> Vec<Cell> {
        fields.iter().map(|f| Some(f.to_string())).collect()
    }

    fn answer(text: &str) -> Answer {
        parse_answer(text).expect("test answer parses")
    }

    #[test]
    fn csv_plain_quoted_and_null() {
        let records = parse_csv("a,b,c\r\n1,\"x, \"\"y\"\"\",NULL\r\n\"NULL\",,z\r\n").unwrap();
        assert_eq!(
            records,
            vec![
                some(&["a", "b", "c"]),
                vec![Some("1".into()), Some("x, \"y\"".into()), None],
                some(&["NULL", "", "z"]),
            ]
        );
    }

    #[test]
    fn csv_line_breaks() {
        // LF endings, a line break inside quotes, no final line break.
        let records = parse_csv("a\n\"two\nlines\"\nlast").unwrap();
        assert_eq!(
            records,
            vec![some(&["a"]), some(&["two\nlines"]), some(&["last"])]
        );
        assert_eq!(parse_csv("").unwrap(), Vec::<Vec<Cell>>::new());
        assert_eq!(parse_csv("a,\r\n").unwrap(), vec![some(&["a", ""])]);
        assert_eq!(parse_csv("a,").unwrap(), vec![some(&["a", ""])]);
        // Spaces are data.
        assert_eq!(parse_csv(" a , b\n").unwrap(), vec![some(&[" a ", " b"])]);
    }

    #[test]
    fn csv_errors() {
        assert!(parse_csv("\"open\r\n")
            .unwrap_err()
            .contains("unterminated"));
        assert!(parse_csv("a\"b\r\n").unwrap_err().contains("quote inside"));
        assert!(parse_csv("\"a\"b\r\n")
            .unwrap_err()
            .contains("after a closing quote"));
        assert!(parse_answer("").unwrap_err().contains("header"));
        assert!(parse_answer("a,b\r\n1\r\n").unwrap_err().contains("row 1"));
    }

    #[test]
    fn numbers_within_tolerance() {
        assert!(cell_matches(Some("25.522006"), Some("25.522005853257337")));
        assert!(cell_matches(Some("100.00"), Some("100.009")));
        assert!(!cell_matches(Some("100.00"), Some("100.02")));
        assert!(cell_matches(Some("1995"), Some("1995.0")));
        // Relative: 1e-9 of 1e15 is 1e6, of 1e9 is 1.
        assert!(cell_matches(
            Some("1000000000000000"),
            Some("1000000000000500")
        ));
        assert!(cell_matches(Some("1000000000"), Some("1000000001")));
        assert!(!cell_matches(Some("1000000000"), Some("1000000002")));
        assert!(!cell_matches(Some("inf"), Some("infinity")));
        assert!(!cell_matches(Some("NaN"), Some("nan")));
    }

    #[test]
    fn text_and_null_cells() {
        assert!(cell_matches(Some("MAIL"), Some("MAIL")));
        assert!(cell_matches(Some("Brand#12  "), Some("Brand#12")));
        assert!(!cell_matches(Some("  Brand#12"), Some("Brand#12")));
        assert!(!cell_matches(Some("MAIL"), Some("SHIP")));
        assert!(cell_matches(None, None));
        assert!(!cell_matches(None, Some("NULL")));
        assert!(!cell_matches(Some("0"), None));
    }

    #[test]
    fn compare_rows() {
        let expected = answer("flag,total\r\nA,10.50\r\nN,NULL\r\n");
        let same = vec![some(&["A", "10.5"]), vec![Some("N".into()), None]];
        assert_eq!(compare(2, &same, &expected), Ok(()));

        let wrong = vec![some(&["A", "10.5"]), some(&["N", "3"])];
        let detail = compare(2, &wrong, &expected).unwrap_err();
        assert_eq!(
            detail,
            "row 2 column 2 (total): got [N, 3], expected [N, NULL]"
        );

        let short = vec![some(&["A", "10.50"])];
        let detail = compare(2, &short, &expected).unwrap_err();
        assert_eq!(detail, "1 rows, expected 2; first missing row [N, NULL]");

        let detail = compare(1, &short, &expected).unwrap_err();
        assert!(detail.starts_with("1 columns, expected 2"), "{detail}");

        let long = vec![some(&["B", "1"]), some(&["N", "1"]), some(&["R", "1"])];
        let detail = compare(2, &long, &expected).unwrap_err();
        assert!(
            detail.starts_with("3 rows, expected 2; row 1 column 1"),
            "{detail}"
        );
    }

    /// The TPC-H schema of [`crate::tpch::TABLES`] as Arrow schemas.
    fn tpch_schemas() -> Vec<(String, SchemaRef)> {
        crate::tpch::TABLES
            .iter()
            .map(|(name, ddl, _)| {
                let statement = crate::session::parse(ddl).expect("DDL parses").remove(0);
                let Statement::CreateTable(create) = statement else {
                    panic!("{name}: not CREATE TABLE");
                };
                let fields: Vec<Field> = create
                    .columns
                    .iter()
                    .map(|def| {
                        let ty = SqlType::parse(&def.data_type.to_string()).expect("type");
                        let not_null = def
                            .options
                            .iter()
                            .any(|o| matches!(o.option, ColumnOption::NotNull));
                        Field::new(def.name.value.clone(), ty.arrow_type(), !not_null)
                    })
                    .collect();
                (name.to_string(), Arc::new(Schema::new(fields)))
            })
            .collect()
    }

    /// Every query plans and runs in DataFusion (configured as a [`Session`] is) over empty
    /// tables of the TPC-H schema: no server needed.
    #[tokio::test]
    async fn the_repository_queries_plan() {
        let config = SessionConfig::new()
            .set_str("datafusion.sql_parser.dialect", "mysql")
            .set_bool("datafusion.sql_parser.parse_float_as_decimal", true);
        let ctx = SessionContext::new_with_config(config);
        for (name, schema) in tpch_schemas() {
            let table = MemTable::try_new(schema, vec![vec![]]).expect("empty table");
            ctx.register_table(name.as_str(), Arc::new(table))
                .expect("register");
        }
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-tests/tpch/queries");
        for (name, path) in query_files(&dir).expect("queries") {
            let sql = std::fs::read_to_string(&path).expect("query file");
            let statements = crate::session::parse(&sql).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(statements.len(), 1, "{name}: one statement");
            let frame = ctx
                .sql(&sql)
                .await
                .unwrap_or_else(|e| panic!("{name} plans: {e}"));
            frame
                .collect()
                .await
                .unwrap_or_else(|e| panic!("{name} runs: {e}"));
        }
    }

    #[test]
    fn the_repository_answers_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql-tests/tpch");
        let queries = query_files(&dir.join("queries")).expect("queries");
        assert_eq!(queries.len(), 22);
        for (name, _) in queries {
            let path = dir.join("answers").join(format!("{name}.csv"));
            let text = std::fs::read_to_string(&path).expect("answer file");
            let answer = parse_answer(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!answer.columns.is_empty(), "{name}");
        }
    }
}
