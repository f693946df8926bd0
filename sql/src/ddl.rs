//! CREATE TABLE and DROP TABLE: definitions into the catalog, ids from PD.

use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, Expr as SqlExpr, IndexColumn, ObjectName, TableConstraint,
};

use crate::catalog::{Catalog, ColumnInfo, IndexInfo, PrimaryKey, TableInfo};
use crate::error::{Error, Result};
use crate::types::SqlType;

/// The unquoted, lower-case last part of a name.
pub fn object_name(name: &ObjectName) -> String {
    name.0
        .last()
        .and_then(|part| part.as_ident())
        .map(|ident| ident.value.to_ascii_lowercase())
        .unwrap_or_else(|| name.to_string().to_ascii_lowercase())
}

/// The column an index part names.
pub fn index_column_name(column: &IndexColumn) -> Result<String> {
    match &column.column.expr {
        SqlExpr::Identifier(ident) => Ok(ident.value.clone()),
        other => Err(Error::Unsupported(format!("index on expression {other}"))),
    }
}

/// Builds the definition of a new table (ids allocated from PD).
pub async fn build_table(catalog: &Catalog, create: &CreateTable) -> Result<TableInfo> {
    if create.query.is_some() {
        return Err(Error::Unsupported("CREATE TABLE ... AS SELECT".into()));
    }
    if create.columns.is_empty() {
        return Err(Error::Syntax("a table needs at least one column".into()));
    }
    let name = object_name(&create.name);
    let mut columns = Vec::with_capacity(create.columns.len());
    let mut primary: Option<Vec<String>> = None;
    let mut uniques: Vec<(Option<String>, Vec<String>)> = Vec::new();
    for (i, def) in create.columns.iter().enumerate() {
        let column_name = def.name.value.clone();
        if columns
            .iter()
            .any(|c: &ColumnInfo| c.name.eq_ignore_ascii_case(&column_name))
        {
            return Err(Error::Syntax(format!(
                "duplicate column name '{column_name}'"
            )));
        }
        let ty = SqlType::parse(&def.data_type.to_string())?;
        let mut column = ColumnInfo {
            id: i as i64 + 1,
            name: column_name.clone(),
            ty,
            not_null: false,
            default: None,
            auto_increment: false,
        };
        for option in &def.options {
            match &option.option {
                ColumnOption::NotNull => column.not_null = true,
                ColumnOption::Null => column.not_null = false,
                ColumnOption::Default(expr) => column.default = Some(expr.to_string()),
                ColumnOption::PrimaryKey(_) => {
                    if primary.is_some() {
                        return Err(Error::Syntax("multiple primary keys defined".into()));
                    }
                    primary = Some(vec![column_name.clone()]);
                }
                ColumnOption::Unique(_) => uniques.push((None, vec![column_name.clone()])),
                ColumnOption::DialectSpecific(tokens)
                    if tokens
                        .iter()
                        .any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")) =>
                {
                    column.auto_increment = true;
                }
                ColumnOption::Comment(_)
                | ColumnOption::CharacterSet(_)
                | ColumnOption::Collation(_) => {}
                other => {
                    return Err(Error::Unsupported(format!("column option {other}")));
                }
            }
        }
        columns.push(column);
    }
    let mut indexes: Vec<(Option<String>, Vec<String>, bool)> = Vec::new();
    for constraint in &create.constraints {
        match constraint {
            TableConstraint::PrimaryKey(pk) => {
                if primary.is_some() {
                    return Err(Error::Syntax("multiple primary keys defined".into()));
                }
                primary = Some(
                    pk.columns
                        .iter()
                        .map(index_column_name)
                        .collect::<Result<_>>()?,
                );
            }
            TableConstraint::Unique(unique) => indexes.push((
                unique.name.as_ref().map(|n| n.value.clone()),
                unique
                    .columns
                    .iter()
                    .map(index_column_name)
                    .collect::<Result<_>>()?,
                true,
            )),
            TableConstraint::Index(index) => indexes.push((
                index.name.as_ref().map(|n| n.value.clone()),
                index
                    .columns
                    .iter()
                    .map(index_column_name)
                    .collect::<Result<_>>()?,
                false,
            )),
            // Foreign keys and checks are accepted and not enforced, as in TiDB.
            TableConstraint::ForeignKey(_) | TableConstraint::Check(_) => {}
            other => return Err(Error::Unsupported(format!("constraint {other}"))),
        }
    }
    indexes.extend(uniques.into_iter().map(|(n, c)| (n, c, true)));
    let mut table = TableInfo {
        id: catalog.alloc_id().await?,
        name,
        columns,
        primary: PrimaryKey::Hidden,
        indexes: Vec::new(),
    };
    if let Some(pk) = primary {
        let offsets = pk
            .iter()
            .map(|name| table.column_offset(name))
            .collect::<Result<Vec<_>>>()?;
        for &offset in &offsets {
            table.columns[offset].not_null = true;
        }
        table.primary = match offsets.as_slice() {
            [single] if matches!(table.columns[*single].ty, SqlType::Int { .. }) => {
                PrimaryKey::IntHandle(*single)
            }
            _ => PrimaryKey::Common(offsets),
        };
    }
    for (i, (index_name, names, unique)) in indexes.into_iter().enumerate() {
        let offsets = names
            .iter()
            .map(|name| table.column_offset(name))
            .collect::<Result<Vec<_>>>()?;
        table.indexes.push(IndexInfo {
            id: i as i64 + 1,
            name: index_name.unwrap_or_else(|| names.join("_")),
            columns: offsets,
            unique,
        });
    }
    if table
        .columns
        .iter()
        .filter(|c| c.auto_increment)
        .any(|c| !matches!(c.ty, SqlType::Int { .. }))
    {
        return Err(Error::InvalidValue(
            "AUTO_INCREMENT needs an integer column".into(),
        ));
    }
    Ok(table)
}
