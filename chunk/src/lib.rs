//! TiDB's data model for Basalt: field types, MySQL values (DECIMAL, DATETIME, DURATION,
//! JSON, ENUM/SET), the byte codecs that cross the wire (memcomparable keys, the datum codec, row
//! format v2, table and index keys) and the columnar batches the vectorized engine computes on,
//! with the TiDB chunk wire encoding. Filled by the chunk issue; empty for now.
