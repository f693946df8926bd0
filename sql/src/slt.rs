//! `basalt slt`: runs sqllogictest files against Basalt through the SQL front, labelled `mysql`
//! for `onlyif`/`skipif`, and counts records (statements and queries), not files. Each file
//! starts on an empty database: its tables are dropped first.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use sqllogictest::{Condition, DBOutput, DefaultColumnType, Record, Runner};

use crate::error::Error;
use crate::format::cells;
use crate::session::{Output, Session};

/// The database the runner drives.
pub struct BasaltDb {
    session: Session,
}

fn column_type(data_type: &DataType) -> DefaultColumnType {
    if data_type.is_integer() {
        DefaultColumnType::Integer
    } else if data_type.is_floating() || matches!(data_type, DataType::Decimal128(..)) {
        DefaultColumnType::FloatingPoint
    } else {
        DefaultColumnType::Text
    }
}

/// A value as sqllogictest prints it: reals with three decimals, NULL, `(empty)`.
fn slt_value(cell: Option<String>, data_type: &DataType) -> String {
    match cell {
        None => "NULL".to_string(),
        Some(text) if text.is_empty() => "(empty)".to_string(),
        Some(text) => {
            if data_type.is_floating() || matches!(data_type, DataType::Decimal128(..)) {
                if let Ok(value) = text.parse::<f64>() {
                    return format!("{value:.3}");
                }
            }
            text
        }
    }
}

#[async_trait]
impl sqllogictest::AsyncDB for BasaltDb {
    type Error = Error;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Error> {
        match self.session.execute(sql).await? {
            Output::Rows { schema, batches } => {
                let types: Vec<DataType> = schema
                    .fields()
                    .iter()
                    .map(|f| f.data_type().clone())
                    .collect();
                let rows = cells(&batches)?
                    .into_iter()
                    .map(|row| {
                        row.into_iter()
                            .zip(&types)
                            .map(|(cell, ty)| slt_value(cell, ty))
                            .collect()
                    })
                    .collect();
                Ok(DBOutput::Rows {
                    types: types.iter().map(column_type).collect(),
                    rows,
                })
            }
            Output::Affected(rows) => Ok(DBOutput::StatementComplete(rows)),
            Output::Done => Ok(DBOutput::StatementComplete(0)),
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "basalt"
    }

    async fn sleep(duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// The label this runner answers to in `onlyif` / `skipif`.
const LABEL: &str = "mysql";

fn skipped(conditions: &[Condition]) -> bool {
    conditions.iter().any(|c| match c {
        Condition::OnlyIf { label } => label != LABEL,
        Condition::SkipIf { label } => label == LABEL,
    })
}

/// The corpus writes comments after conditions (`onlyif mysql # DIV for integer division`),
/// which the parser refuses; they are dropped.
fn strip_condition_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let condition = line.starts_with("onlyif ") || line.starts_with("skipif ");
        match line.find(" #") {
            Some(at) if condition => out.push_str(line[..at].trim_end()),
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Pass and fail counts of one file.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileResult {
    /// Records that passed.
    pub passed: usize,
    /// Records that failed.
    pub failed: usize,
}

/// Runs one file on a fresh database; failures are printed (up to `show` of them). A record
/// running longer than `record_timeout` fails (its query is cancelled).
pub async fn run_file(
    session: &Session,
    path: &Path,
    show: usize,
    record_timeout: Duration,
) -> Result<FileResult, Error> {
    for table in session.catalog().tables().await? {
        session
            .execute(&format!("DROP TABLE `{}`", table.name))
            .await?;
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::InvalidValue(format!("{}: {e}", path.display())))?;
    // The corpus lists results a value per line (SQLite's format) unless a file says otherwise.
    let mut script = String::new();
    if !text.contains("control resultmode") {
        script.push_str("control resultmode valuewise\n\n");
    }
    script.push_str(&strip_condition_comments(&text));
    let records =
        sqllogictest::parse_with_name::<DefaultColumnType>(&script, path.display().to_string())
            .map_err(|e| Error::Syntax(format!("{}: {e}", path.display())))?;
    let db = BasaltDb {
        session: session.clone(),
    };
    let mut db = Some(db);
    let mut runner = Runner::new(move || {
        let db = db.take();
        async move { db.ok_or_else(|| Error::Unsupported("a second connection".into())) }
    });
    runner.add_label(LABEL);
    // The corpus hashes results of more than eight values unless a file says otherwise.
    runner.with_hash_threshold(8);
    let mut result = FileResult::default();
    for record in records {
        let counted = match &record {
            Record::Statement { conditions, .. } | Record::Query { conditions, .. } => {
                !skipped(conditions)
            }
            Record::Halt { .. } => break,
            _ => false,
        };
        let outcome = tokio::time::timeout(record_timeout, runner.run_async(record)).await;
        if !counted {
            continue;
        }
        match outcome {
            Ok(Ok(_)) => result.passed += 1,
            Ok(Err(err)) => {
                if result.failed < show {
                    eprintln!("{}: {err}", path.display());
                }
                result.failed += 1;
            }
            Err(_) => {
                if result.failed < show {
                    eprintln!("{}: a record ran over {record_timeout:?}", path.display());
                }
                result.failed += 1;
            }
        }
    }
    Ok(result)
}
