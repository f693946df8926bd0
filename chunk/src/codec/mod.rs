//! Byte codecs shared with TiDB and TiKV: numbers and bytes in memcomparable and value forms,
//! row format v2, table/index keys and index values.

pub mod datum;
pub mod index;
pub mod number;
pub mod row_v2;
pub mod table;
