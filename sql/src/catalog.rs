//! The catalog: table definitions stored in Basalt itself, as JSON under the meta prefix
//! `mBasalt\0table\0{name}`, with ids from PD and per-table handle counters
//! (`mBasalt\0autoid\0{table id}`) and row-count estimates (`mBasalt\0rows\0{table id}`).
//! TiDB keeps its own meta under `m` too; row and index data use TiDB's `t{id}_r` / `t{id}_i`
//! layout, so the coprocessor reads them exactly as it reads TiDB's.

use basalt_chunk::types::{flag, FieldType};
use basalt_client::{Cluster, Error as ClientError};
use basalt_proto::tipb;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::types::SqlType;

const TABLE_PREFIX: &[u8] = b"mBasalt\0table\0";
const AUTOID_PREFIX: &[u8] = b"mBasalt\0autoid\0";
const ROWS_PREFIX: &[u8] = b"mBasalt\0rows\0";
/// Bumped by every change of a definition, so sessions know when to reload.
const VERSION_KEY: &[u8] = b"mBasalt\0version";

/// TiDB's id of the hidden row id column of tables without an int primary key.
pub const EXTRA_HANDLE_ID: i64 = -1;

/// A column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnInfo {
    /// The column id in row values (1, 2, … in definition order).
    pub id: i64,
    /// The name as declared (lookups are case-insensitive).
    pub name: String,
    /// The declared type.
    pub ty: SqlType,
    /// NOT NULL (primary key columns are always NOT NULL).
    pub not_null: bool,
    /// The DEFAULT literal, as SQL text; none means NULL.
    pub default: Option<String>,
    /// AUTO_INCREMENT.
    pub auto_increment: bool,
}

/// How rows are keyed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PrimaryKey {
    /// No primary key: a hidden `_tidb_rowid` handle.
    Hidden,
    /// A single integer primary key column is the handle (offset into the columns).
    IntHandle(usize),
    /// A clustered primary key over these columns: the handle is their memcomparable encoding.
    Common(Vec<usize>),
}

/// A secondary index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexInfo {
    /// The index id in index keys.
    pub id: i64,
    /// The name.
    pub name: String,
    /// Offsets of the indexed columns.
    pub columns: Vec<usize>,
    /// UNIQUE.
    pub unique: bool,
}

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableInfo {
    /// The table id in keys.
    pub id: i64,
    /// The name (stored lower-case).
    pub name: String,
    /// The columns in definition order.
    pub columns: Vec<ColumnInfo>,
    /// The row key.
    pub primary: PrimaryKey,
    /// Secondary indexes.
    pub indexes: Vec<IndexInfo>,
}

impl TableInfo {
    /// The offset of a column by name (case-insensitive).
    pub fn column_offset(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnknownColumn(name.to_string()))
    }

    /// The TiDB field type of a column, with NOT NULL and primary key flags.
    pub fn field_type(&self, offset: usize) -> FieldType {
        let column = &self.columns[offset];
        let mut ft = column.ty.field_type();
        if column.not_null {
            ft.flag |= flag::NOT_NULL;
        }
        match &self.primary {
            PrimaryKey::IntHandle(pk) if *pk == offset => ft.flag |= flag::PRI_KEY,
            PrimaryKey::Common(pk) if pk.contains(&offset) => ft.flag |= flag::PRI_KEY,
            _ => {}
        }
        ft
    }

    /// The `tipb.ColumnInfo` of a column for a table scan.
    pub fn column_info(&self, offset: usize) -> tipb::ColumnInfo {
        let ft = self.field_type(offset);
        let column = &self.columns[offset];
        tipb::ColumnInfo {
            column_id: Some(column.id),
            tp: Some(ft.tp as i32),
            collation: Some(ft.collate),
            column_len: Some(ft.flen),
            decimal: Some(ft.decimal),
            flag: Some(ft.flag as i32),
            pk_handle: Some(self.primary == PrimaryKey::IntHandle(offset)),
            ..Default::default()
        }
    }

    /// The `tipb.ColumnInfo` of the hidden handle column.
    pub fn hidden_handle_info() -> tipb::ColumnInfo {
        tipb::ColumnInfo {
            column_id: Some(EXTRA_HANDLE_ID),
            tp: Some(basalt_chunk::types::FieldTypeTp::LongLong as i32),
            pk_handle: Some(false),
            flag: Some(flag::NOT_NULL as i32),
            ..Default::default()
        }
    }

    /// Ids of the clustered primary key columns (empty unless the primary key is common).
    pub fn primary_column_ids(&self) -> Vec<i64> {
        match &self.primary {
            PrimaryKey::Common(offsets) => offsets.iter().map(|&o| self.columns[o].id).collect(),
            _ => Vec::new(),
        }
    }
}

fn table_key(name: &str) -> Vec<u8> {
    let mut key = TABLE_PREFIX.to_vec();
    key.extend_from_slice(name.to_ascii_lowercase().as_bytes());
    key
}

fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    end.push(0xFF);
    end
}

fn id_key(prefix: &[u8], id: i64) -> Vec<u8> {
    let mut key = prefix.to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    key
}

fn decode_table(bytes: &[u8]) -> Result<TableInfo> {
    serde_json::from_slice(bytes).map_err(|e| Error::Catalog(format!("table definition: {e}")))
}

/// Reads and writes table definitions.
#[derive(Clone)]
pub struct Catalog {
    cluster: Cluster,
}

impl Catalog {
    /// The catalog of `cluster`.
    pub fn new(cluster: Cluster) -> Self {
        Catalog { cluster }
    }

    /// Every table, by name.
    pub async fn tables(&self) -> Result<Vec<TableInfo>> {
        let ts = self.cluster.timestamp().await?;
        let pairs = self
            .cluster
            .snapshot(ts)
            .scan(TABLE_PREFIX, &prefix_end(TABLE_PREFIX), usize::MAX)
            .await?;
        pairs.iter().map(|(_, value)| decode_table(value)).collect()
    }

    /// One table.
    pub async fn table(&self, name: &str) -> Result<TableInfo> {
        let ts = self.cluster.timestamp().await?;
        match self.cluster.snapshot(ts).get(&table_key(name)).await? {
            Some(bytes) => decode_table(&bytes),
            None => Err(Error::UnknownTable(name.to_string())),
        }
    }

    /// The schema version: it changes whenever a definition does.
    pub async fn version(&self) -> Result<i64> {
        let ts = self.cluster.timestamp().await?;
        read_i64(self.cluster.snapshot(ts).get(VERSION_KEY).await?)
    }

    /// A fresh id for a table or an index.
    pub async fn alloc_id(&self) -> Result<i64> {
        let id = self.cluster.alloc_id().await?;
        i64::try_from(id).map_err(|_| Error::Catalog(format!("PD id {id} out of range")))
    }

    /// Stores a new table; an existing name is `TableExists`.
    pub async fn create(&self, table: &TableInfo) -> Result<()> {
        let value = serde_json::to_vec(table).map_err(|e| Error::Catalog(e.to_string()))?;
        let mut txn = self.cluster.begin().await?;
        bump_version(&mut txn).await?;
        txn.insert(table_key(&table.name), value);
        match txn.commit().await {
            Ok(_) => Ok(()),
            Err(ClientError::AlreadyExists(_)) => Err(Error::TableExists(table.name.clone())),
            Err(other) => Err(other.into()),
        }
    }

    /// Replaces a table's definition (after ALTER or CREATE INDEX).
    pub async fn update(&self, table: &TableInfo) -> Result<()> {
        let value = serde_json::to_vec(table).map_err(|e| Error::Catalog(e.to_string()))?;
        let mut txn = self.cluster.begin().await?;
        bump_version(&mut txn).await?;
        txn.put(table_key(&table.name), value);
        txn.commit().await?;
        Ok(())
    }

    /// Removes a table's definition and counters (its data is removed by the caller).
    pub async fn drop(&self, table: &TableInfo) -> Result<()> {
        let mut txn = self.cluster.begin().await?;
        bump_version(&mut txn).await?;
        txn.delete(table_key(&table.name));
        txn.delete(id_key(AUTOID_PREFIX, table.id));
        txn.delete(id_key(ROWS_PREFIX, table.id));
        txn.commit().await?;
        Ok(())
    }

    /// Reserves `count` consecutive handles (or AUTO_INCREMENT values) of a table and returns
    /// the first; retried on write conflicts with concurrent writers.
    pub async fn alloc_handles(&self, table_id: i64, count: u64) -> Result<i64> {
        self.bump(AUTOID_PREFIX, table_id, count as i64, true).await
    }

    /// Moves the AUTO_INCREMENT counter past `value` (after an explicit value was inserted).
    pub async fn rebase_handles(&self, table_id: i64, value: i64) -> Result<()> {
        for _ in 0..20 {
            let mut txn = self.cluster.begin().await?;
            let key = id_key(AUTOID_PREFIX, table_id);
            let current = read_i64(txn.get(&key).await?)?;
            if current >= value {
                return Ok(());
            }
            txn.put(key, value.to_be_bytes().to_vec());
            match txn.commit().await {
                Ok(_) => return Ok(()),
                Err(ClientError::WriteConflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::Catalog(
            "too many conflicts moving the auto id".into(),
        ))
    }

    /// The estimated row count of a table.
    pub async fn row_count(&self, table_id: i64) -> Result<u64> {
        let ts = self.cluster.timestamp().await?;
        let value = self
            .cluster
            .snapshot(ts)
            .get(&id_key(ROWS_PREFIX, table_id))
            .await?;
        Ok(read_i64(value)?.max(0) as u64)
    }

    /// Adjusts the row-count estimate by `delta` (best effort: gives up after conflicts).
    pub async fn add_rows(&self, table_id: i64, delta: i64) -> Result<()> {
        if delta != 0 {
            self.bump(ROWS_PREFIX, table_id, delta, false).await?;
        }
        Ok(())
    }

    async fn bump(&self, prefix: &[u8], table_id: i64, delta: i64, strict: bool) -> Result<i64> {
        for _ in 0..50 {
            let mut txn = self.cluster.begin().await?;
            let key = id_key(prefix, table_id);
            let current = read_i64(txn.get(&key).await?)?;
            txn.put(key, (current + delta).to_be_bytes().to_vec());
            match txn.commit().await {
                Ok(_) => return Ok(current + 1),
                Err(ClientError::WriteConflict { .. }) => continue,
                Err(other) => return Err(other.into()),
            }
        }
        if strict {
            Err(Error::Catalog("too many conflicts allocating ids".into()))
        } else {
            Ok(0)
        }
    }
}

async fn bump_version(txn: &mut basalt_client::Transaction) -> Result<()> {
    let version = read_i64(txn.get(VERSION_KEY).await?)?;
    txn.put(VERSION_KEY.to_vec(), (version + 1).to_be_bytes().to_vec());
    Ok(())
}

fn read_i64(value: Option<Vec<u8>>) -> Result<i64> {
    match value {
        None => Ok(0),
        Some(bytes) => {
            let array: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| Error::Catalog(format!("counter of {} bytes", bytes.len())))?;
            Ok(i64::from_be_bytes(array))
        }
    }
}
