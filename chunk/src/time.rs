//! MySQL DATE/DATETIME/TIMESTAMP (placeholder; being written).

/// A MySQL date or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateTime;

/// Which of DATE, DATETIME, TIMESTAMP a value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeType {
    /// DATE.
    Date,
    /// DATETIME.
    #[default]
    DateTime,
    /// TIMESTAMP.
    Timestamp,
}
