//! Byte codecs shared with TiDB and TiKV: numbers and bytes in memcomparable and value forms.

pub mod number;
