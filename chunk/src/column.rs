//! Columns: the in-memory form the vectorized engine computes on. A column holds one evaluation
//! type in a contiguous buffer with a validity bitmap (arrow-buffer's bit-packed, LSB-first
//! layout, which is also TiDB's chunk null bitmap). Filters do not copy columns: they narrow a
//! list of logical rows (`LogicalRows`) that later steps and the encoder follow.

use arrow_buffer::BooleanBufferBuilder;

use crate::error::{Error, Result};
use crate::types::{EvalType, FieldType};
use crate::{DateTime, Duration};

/// Row indexes into a batch's physical rows, in output order.
pub type LogicalRows = [usize];

/// A validity bitmap: bit set = value present (not NULL).
#[derive(Debug)]
pub struct Validity {
    bits: BooleanBufferBuilder,
    null_count: usize,
}

impl Clone for Validity {
    fn clone(&self) -> Self {
        let mut bits = BooleanBufferBuilder::new(self.bits.len());
        bits.append_packed_range(0..self.bits.len(), self.bits.as_slice());
        Validity {
            bits,
            null_count: self.null_count,
        }
    }
}

impl Default for Validity {
    fn default() -> Self {
        Validity::with_capacity(0)
    }
}

impl Validity {
    /// An empty bitmap with room for `capacity` rows.
    pub fn with_capacity(capacity: usize) -> Validity {
        Validity {
            bits: BooleanBufferBuilder::new(capacity),
            null_count: 0,
        }
    }

    /// Appends one row's validity.
    pub fn push(&mut self, valid: bool) {
        self.bits.append(valid);
        if !valid {
            self.null_count += 1;
        }
    }

    /// Whether row `index` is present.
    pub fn is_valid(&self, index: usize) -> bool {
        index < self.bits.len() && self.bits.get_bit(index)
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.bits.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.bits.is_empty()
    }

    /// NULL rows.
    pub fn null_count(&self) -> usize {
        self.null_count
    }

    /// The packed bits (LSB first), `ceil(len / 8)` bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bits.as_slice()
    }
}

/// A value with a fixed width in TiDB's chunk format.
pub trait FixedValue: Copy + Default + std::fmt::Debug + Send + Sync + 'static {
    /// Bytes per value in a chunk column.
    const WIDTH: usize;
    /// Appends the chunk form.
    fn write_chunk(&self, out: &mut Vec<u8>);
    /// Reads the chunk form from exactly `WIDTH` bytes.
    fn read_chunk(bytes: &[u8]) -> Result<Self>;
}

/// `FixedValue` for a type stored as 8 little-endian bytes through a conversion.
macro_rules! fixed_value_8 {
    ($type:ty, $what:literal, |$v:ident| $to:expr, |$bits:ident| $from:expr) => {
        impl FixedValue for $type {
            const WIDTH: usize = 8;
            fn write_chunk(&self, out: &mut Vec<u8>) {
                let $v = self;
                out.extend_from_slice(&$to.to_le_bytes());
            }
            fn read_chunk(bytes: &[u8]) -> Result<Self> {
                let array: [u8; 8] = bytes
                    .try_into()
                    .map_err(|_| Error::corrupted($what, format!("{} bytes", bytes.len())))?;
                let $bits = array;
                $from
            }
        }
    };
}

fixed_value_8!(i64, "chunk int", |v| *v, |bits| Ok(i64::from_le_bytes(
    bits
)));
fixed_value_8!(f64, "chunk real", |v| *v, |bits| Ok(f64::from_le_bytes(
    bits
)));
fixed_value_8!(DateTime, "chunk time", |v| v.to_chunk_u64(), |bits| {
    DateTime::from_chunk_u64(u64::from_le_bytes(bits))
});
// Durations read without their column's fsp get the widest; the decoder passes the real one.
fixed_value_8!(Duration, "chunk duration", |v| v.nanos(), |bits| {
    Duration::from_nanos(i64::from_le_bytes(bits), 6)
});

/// A column of fixed-width values; NULL rows hold `T::default()`.
#[derive(Debug, Clone, Default)]
pub struct FixedColumn<T: FixedValue> {
    values: Vec<T>,
    validity: Validity,
}

impl<T: FixedValue> FixedColumn<T> {
    /// An empty column with room for `capacity` rows.
    pub fn with_capacity(capacity: usize) -> Self {
        FixedColumn {
            values: Vec::with_capacity(capacity),
            validity: Validity::with_capacity(capacity),
        }
    }

    /// Appends a value or NULL.
    pub fn push(&mut self, value: Option<T>) {
        self.validity.push(value.is_some());
        self.values.push(value.unwrap_or_default());
    }

    /// The value of row `index` (`None`: NULL or out of range).
    pub fn get(&self, index: usize) -> Option<T> {
        if self.validity.is_valid(index) {
            self.values.get(index).copied()
        } else {
            None
        }
    }

    /// All values, NULL rows included as defaults (check `validity`).
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// The validity bitmap.
    pub fn validity(&self) -> &Validity {
        &self.validity
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// A column of byte strings: end offsets into one data buffer.
#[derive(Debug, Clone, Default)]
pub struct BytesColumn {
    ends: Vec<usize>,
    data: Vec<u8>,
    validity: Validity,
}

impl BytesColumn {
    /// An empty column with room for `capacity` rows.
    pub fn with_capacity(capacity: usize) -> Self {
        BytesColumn {
            ends: Vec::with_capacity(capacity),
            data: Vec::new(),
            validity: Validity::with_capacity(capacity),
        }
    }

    /// Appends a value or NULL (an empty slot).
    pub fn push(&mut self, value: Option<&[u8]>) {
        self.validity.push(value.is_some());
        if let Some(bytes) = value {
            self.data.extend_from_slice(bytes);
        }
        self.ends.push(self.data.len());
    }

    /// The value of row `index` (`None`: NULL or out of range).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if !self.validity.is_valid(index) {
            return None;
        }
        let start = if index == 0 {
            0
        } else {
            *self.ends.get(index - 1)?
        };
        self.data.get(start..*self.ends.get(index)?)
    }

    /// The validity bitmap.
    pub fn validity(&self) -> &Validity {
        &self.validity
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// A column of one evaluation type.
#[derive(Debug, Clone)]
pub enum Column {
    /// Signed or unsigned (by field type) integers, as i64 bits.
    Int(FixedColumn<i64>),
    /// Doubles (FLOAT is widened).
    Real(FixedColumn<f64>),
    /// Byte strings.
    Bytes(BytesColumn),
    /// Dates and times.
    DateTime(FixedColumn<DateTime>),
    /// Durations.
    Duration(FixedColumn<Duration>),
}

/// Runs `$body` with `$c` bound to the inner column of whatever variant `$column` is.
macro_rules! each_column {
    ($column:expr, $c:ident => $body:expr) => {
        match $column {
            Column::Int($c) => $body,
            Column::Real($c) => $body,
            Column::Bytes($c) => $body,
            Column::DateTime($c) => $body,
            Column::Duration($c) => $body,
        }
    };
}

impl Column {
    /// An empty column for values of `field_type`.
    pub fn new(field_type: &FieldType, capacity: usize) -> Result<Column> {
        Ok(match field_type.eval_type()? {
            EvalType::Int => Column::Int(FixedColumn::with_capacity(capacity)),
            EvalType::Real => Column::Real(FixedColumn::with_capacity(capacity)),
            EvalType::Bytes => Column::Bytes(BytesColumn::with_capacity(capacity)),
            EvalType::DateTime => Column::DateTime(FixedColumn::with_capacity(capacity)),
            EvalType::Duration => Column::Duration(FixedColumn::with_capacity(capacity)),
            other => {
                return Err(Error::Unsupported(format!(
                    "columns of evaluation type {other:?}"
                )))
            }
        })
    }

    /// Rows.
    pub fn len(&self) -> usize {
        each_column!(self, column => column.len())
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The validity bitmap.
    pub fn validity(&self) -> &Validity {
        each_column!(self, column => column.validity())
    }
}
