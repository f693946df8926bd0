//! Answers: the partial results regions send (decoded from TiDB's chunk format and merged, as
//! TiDB's root executors would) and the plain loops' results, in one comparable form. Decimals
//! are kept as integers of millionths.

use std::collections::{BTreeMap, HashMap};

use basalt_chunk::chunk_codec::decode_chunk;
use basalt_chunk::column::Column;
use basalt_chunk::types::FieldType;
use basalt_proto::tipb;

use crate::dag::{Kind, TOP_N};

/// Decimal digits kept after the point.
pub const SCALE: u32 = 6;

/// Q1's numbers per group: sum quantity, sum price, sum discounted price, sum charge, sum
/// discount, count (decimals in millionths).
pub type Q1Sums = [i128; 6];

/// One query's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Q1: per (returnflag, linestatus).
    Q1(BTreeMap<(u8, u8), Q1Sums>),
    /// One number (Q6's revenue, a count).
    Scalar(i128),
    /// Per group key its sum, by key.
    Groups(Vec<(i64, i128)>),
    /// The top prices, highest first.
    Top(Vec<i128>),
}

impl Answer {
    /// A short description for reports.
    pub fn summary(&self) -> String {
        match self {
            Answer::Q1(groups) => format!("{} groups", groups.len()),
            Answer::Scalar(value) => decimal_text(*value),
            Answer::Groups(groups) => format!("{} groups", groups.len()),
            Answer::Top(prices) => format!(
                "top price {}",
                prices.first().map_or("-".into(), |p| decimal_text(*p))
            ),
        }
    }
}

/// `value` millionths as decimal text.
pub fn decimal_text(value: i128) -> String {
    crate::lineitem::fixed(value, SCALE)
}

/// Decimal text as millionths; more than six fractional digits is an error.
pub fn millionths(text: &str) -> Result<i128, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if frac.len() > SCALE as usize || int.is_empty() {
        return Err(format!("decimal {text:?} does not fit {SCALE} digits"));
    }
    let int: i128 = int.parse().map_err(|_| format!("decimal {text:?}"))?;
    let frac_value: i128 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| format!("decimal {text:?}"))?
    };
    let value = int * 10i128.pow(SCALE) + frac_value * 10i128.pow(SCALE - frac.len() as u32);
    Ok(if negative { -value } else { value })
}

/// One decoded output row.
type Row = Vec<Cell>;

#[derive(Debug, Clone)]
enum Cell {
    Int(i64),
    Decimal(i128),
    Bytes(Vec<u8>),
}

impl Cell {
    fn number(&self) -> Result<i128, String> {
        match self {
            Cell::Int(v) => Ok(i128::from(*v) * 10i128.pow(SCALE)),
            Cell::Decimal(v) => Ok(*v),
            Cell::Bytes(_) => Err("a number was expected".into()),
        }
    }

    fn int(&self) -> Result<i64, String> {
        match self {
            Cell::Int(v) => Ok(*v),
            _ => Err("an integer was expected".into()),
        }
    }

    fn byte(&self) -> Result<u8, String> {
        match self {
            Cell::Bytes(b) if b.len() == 1 => Ok(b[0]),
            _ => Err("a one-byte string was expected".into()),
        }
    }
}

fn decode_rows(response: &tipb::SelectResponse, types: &[FieldType]) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for chunk in &response.chunks {
        let columns = decode_chunk(chunk.rows_data(), types).map_err(|err| err.to_string())?;
        let count = columns.first().map_or(0, column_len);
        for at in 0..count {
            let row = columns
                .iter()
                .map(|column| cell(column, at))
                .collect::<Result<Row, String>>()?;
            rows.push(row);
        }
    }
    Ok(rows)
}

fn column_len(column: &Column) -> usize {
    match column {
        Column::Int(c) => c.len(),
        Column::Decimal(c) => c.len(),
        Column::Bytes(c) => c.len(),
        _ => 0,
    }
}

fn cell(column: &Column, at: usize) -> Result<Cell, String> {
    let null = || format!("a NULL at row {at}");
    match column {
        Column::Int(c) => c.get(at).map(Cell::Int).ok_or_else(null),
        Column::Decimal(c) => {
            let value = c.get(at).ok_or_else(null)?;
            millionths(&value.to_string()).map(Cell::Decimal)
        }
        Column::Bytes(c) => c.get(at).map(|b| Cell::Bytes(b.to_vec())).ok_or_else(null),
        other => Err(format!("unexpected column {other:?}")),
    }
}

/// Merges the partial results of every region into the query's answer.
pub fn merge(
    kind: Kind,
    responses: &[tipb::SelectResponse],
    types: &[FieldType],
) -> Result<Answer, String> {
    let mut rows = Vec::new();
    for response in responses {
        rows.extend(decode_rows(response, types)?);
    }
    match kind {
        Kind::Q1 => merge_q1(&rows),
        Kind::Q6 | Kind::CountFiltered => rows
            .iter()
            .map(|row| row.first().ok_or("an empty row")?.number())
            .sum::<Result<i128, String>>()
            .map(Answer::Scalar),
        Kind::GroupByOrder => {
            let mut sums: HashMap<i64, i128> = HashMap::with_capacity(rows.len());
            for row in &rows {
                let [sum, key] = row.as_slice() else {
                    return Err("a group row has two columns".into());
                };
                *sums.entry(key.int()?).or_default() += sum.number()?;
            }
            let mut groups: Vec<(i64, i128)> = sums.into_iter().collect();
            groups.sort_unstable();
            Ok(Answer::Groups(groups))
        }
        Kind::TopN => {
            let mut prices = rows
                .iter()
                .map(|row| row.get(1).ok_or("a top-N row has two columns")?.number())
                .collect::<Result<Vec<i128>, String>>()?;
            prices.sort_unstable_by(|a, b| b.cmp(a));
            prices.truncate(TOP_N as usize);
            Ok(Answer::Top(prices))
        }
    }
}

/// Q1's partial rows: sum qty, sum price, sum disc price, sum charge, (count, sum) × 3 for the
/// averages, count, returnflag, linestatus.
fn merge_q1(rows: &[Row]) -> Result<Answer, String> {
    let mut groups: BTreeMap<(u8, u8), Q1Sums> = BTreeMap::new();
    for row in rows {
        if row.len() != 13 {
            return Err(format!("a Q1 row has 13 columns, not {}", row.len()));
        }
        let key = (row[11].byte()?, row[12].byte()?);
        let sums = groups.entry(key).or_default();
        // The averages' sums repeat the sums of quantity and price: keep the discount's.
        for (slot, column) in [(0, 0), (1, 1), (2, 2), (3, 3), (4, 9), (5, 10)] {
            sums[slot] += row[column].number()?;
        }
    }
    Ok(Answer::Q1(groups))
}

/// Tells where two answers differ, briefly.
pub fn check(got: &Answer, expected: &Answer) -> Result<(), String> {
    if got == expected {
        return Ok(());
    }
    let detail = match (got, expected) {
        (Answer::Groups(a), Answer::Groups(b)) => {
            let first = a.iter().zip(b).find(|(x, y)| x != y);
            format!(
                "{} groups vs {} expected, first difference {first:?}",
                a.len(),
                b.len()
            )
        }
        _ => format!("got {got:?}, expected {expected:?}"),
    };
    Err(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_round_trips_through_millionths() {
        assert_eq!(millionths("12.34"), Ok(12_340_000));
        assert_eq!(millionths("-0.000001"), Ok(-1));
        assert_eq!(millionths("7"), Ok(7_000_000));
        assert!(millionths("1.0000001").is_err());
        assert!(millionths("x").is_err());
        assert_eq!(decimal_text(12_340_000), "12.340000");
    }

    #[test]
    fn differences_are_described() {
        let a = Answer::Groups(vec![(1, 5), (2, 6)]);
        let b = Answer::Groups(vec![(1, 5), (2, 7)]);
        assert!(check(&a, &a).is_ok());
        let err = check(&a, &b).unwrap_err();
        assert!(err.contains("first difference"), "{err}");
    }
}
