//! Columns: the in-memory form the vectorized engine computes on. A column holds one evaluation
//! type in a contiguous buffer with a validity bitmap (arrow-buffer's bit-packed, LSB-first
//! layout, which is also TiDB's chunk null bitmap). Filters do not copy columns: they narrow a
//! list of logical rows (`LogicalRows`) that later steps and the encoder follow.

use arrow_buffer::BooleanBufferBuilder;

use crate::codec::datum::Datum;
use crate::error::{Error, Result};
use crate::types::FieldTypeTp;
use crate::types::{EvalType, FieldType};
use crate::{DateTime, Decimal, Duration, Enum, Set};

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
    /// `len` rows, all present.
    pub fn all_valid(len: usize) -> Validity {
        let mut bits = BooleanBufferBuilder::new(len);
        bits.append_n(len, true);
        Validity {
            bits,
            null_count: 0,
        }
    }

    /// The rows present in both `self` and `other` (which must have the same length), combined
    /// a byte (eight rows) at a time.
    pub fn and(&self, other: &Validity) -> Validity {
        let len = self.len().min(other.len());
        if self.null_count == 0 && other.len() == len {
            return other.clone();
        }
        if other.null_count == 0 && self.len() == len {
            return self.clone();
        }
        let anded: Vec<u8> = self
            .as_bytes()
            .iter()
            .zip(other.as_bytes())
            .map(|(a, b)| a & b)
            .collect();
        let mut bits = BooleanBufferBuilder::new(len);
        bits.append_packed_range(0..len, &anded);
        let valid = (0..len).filter(|&i| bits.get_bit(i)).count();
        Validity {
            bits,
            null_count: len - valid,
        }
    }

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

impl FixedValue for Decimal {
    const WIDTH: usize = 40;
    fn write_chunk(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_chunk_bytes());
    }
    fn read_chunk(bytes: &[u8]) -> Result<Self> {
        Decimal::from_chunk_bytes(bytes)
    }
}

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

    /// A column of `values` with `validity` (of the same length).
    pub fn from_parts(values: Vec<T>, validity: Validity) -> Result<Self> {
        if values.len() != validity.len() {
            return Err(Error::corrupted(
                "column",
                format!(
                    "{} values with a {}-row bitmap",
                    values.len(),
                    validity.len()
                ),
            ));
        }
        Ok(FixedColumn { values, validity })
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
    /// Decimals.
    Decimal(FixedColumn<Decimal>),
    /// JSON documents, each as its type byte and binary value (the chunk element form).
    Json(BytesColumn),
    /// ENUM or SET values, each as its u64 LE value and name (the chunk element form).
    Named(BytesColumn),
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
            Column::Decimal($c) => $body,
            Column::Json($c) => $body,
            Column::Named($c) => $body,
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
            EvalType::Decimal => Column::Decimal(FixedColumn::with_capacity(capacity)),
            EvalType::Json => Column::Json(BytesColumn::with_capacity(capacity)),
            EvalType::Enum | EvalType::Set => Column::Named(BytesColumn::with_capacity(capacity)),
        })
    }

    /// Appends a NULL.
    #[inline]
    pub fn push_null(&mut self) {
        each_column!(self, c => c.push(None))
    }

    /// Appends a datum typed for `field_type` (see `codec::datum::typed`).
    pub fn push_datum(&mut self, datum: &Datum, field_type: &FieldType) -> Result<()> {
        match (&mut *self, datum) {
            (column, Datum::Null) => each_column!(column, c => c.push(None)),
            (Column::Int(c), Datum::Int(v)) => c.push(Some(*v)),
            (Column::Int(c), Datum::Uint(v)) => c.push(Some(*v as i64)),
            (Column::Real(c), Datum::Real(v)) => c.push(Some(*v)),
            (Column::Bytes(c), Datum::Bytes(v)) => c.push(Some(v)),
            (Column::DateTime(c), Datum::Time(v)) => c.push(Some(*v)),
            (Column::Duration(c), Datum::Duration(v)) => c.push(Some(*v)),
            (Column::Decimal(c), Datum::Decimal(v)) => c.push(Some(*v)),
            (Column::Json(c), Datum::Json(v)) => c.push(Some(&v.to_bytes())),
            (Column::Named(c), Datum::Uint(v)) => {
                let element = named_element(*v, field_type)?;
                c.push(Some(&element));
            }
            (column, datum) => {
                return Err(Error::corrupted(
                    "column",
                    format!("{datum:?} does not fit a {} column", column.kind()),
                ))
            }
        }
        Ok(())
    }

    fn kind(&self) -> &'static str {
        match self {
            Column::Int(_) => "int",
            Column::Real(_) => "real",
            Column::Bytes(_) => "bytes",
            Column::DateTime(_) => "time",
            Column::Duration(_) => "duration",
            Column::Decimal(_) => "decimal",
            Column::Json(_) => "json",
            Column::Named(_) => "enum/set",
        }
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

/// The chunk element of an ENUM or a SET value of `field_type`: u64 LE value, then the name(s).
pub fn named_element(value: u64, field_type: &FieldType) -> Result<Vec<u8>> {
    let mut out = value.to_le_bytes().to_vec();
    if field_type.tp == FieldTypeTp::Set {
        out.extend_from_slice(Set::from_bits(value, &field_type.elems)?.names.as_bytes());
    } else {
        out.extend_from_slice(Enum::from_value(value, &field_type.elems)?.name.as_bytes());
    }
    Ok(out)
}
