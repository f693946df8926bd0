//! Row v2 → columns decoding and chunk encoding, next to a plain memcpy of the same bytes in
//! the same run: `cargo bench -p basalt-chunk --bench codec [-- --rows N]`.

use std::time::{Duration, Instant};

use basalt_chunk::chunk_codec::encode_chunk;
use basalt_chunk::codec::datum::{to_row_v2, Datum};
use basalt_chunk::codec::row_v2;
use basalt_chunk::lazy::{ColumnSchema, LazyBatch, RawRows};
use basalt_chunk::types::{FieldType, FieldTypeTp};
use basalt_chunk::Decimal;

fn schema() -> Vec<ColumnSchema> {
    let column = |column_id, tp, decimal| ColumnSchema {
        column_id,
        field_type: FieldType::new(tp).with_decimal(decimal),
        default: Datum::Null,
    };
    vec![
        column(1, FieldTypeTp::LongLong, -1),
        column(2, FieldTypeTp::Double, -1),
        column(3, FieldTypeTp::VarChar, -1),
        column(4, FieldTypeTp::NewDecimal, 2),
    ]
}

fn rows(count: usize) -> RawRows {
    let mut rows = RawRows::default();
    for i in 0..count {
        let price = Decimal::from_i64(i as i64 % 100_000)
            .div(&Decimal::from_i64(100), 0)
            .unwrap_or_default();
        let values = [
            Datum::Int(i as i64 * 7),
            Datum::Real(i as f64 * 0.5),
            Datum::Bytes(format!("comment {i:>12}").into_bytes()),
            Datum::Decimal(price),
        ];
        let encoded: Vec<Vec<u8>> = values
            .iter()
            .map(|value| to_row_v2(value).ok().flatten().unwrap_or_default())
            .collect();
        let columns: Vec<(i64, Option<&[u8]>)> = encoded
            .iter()
            .enumerate()
            .map(|(i, bytes)| (i as i64 + 1, Some(bytes.as_slice())))
            .collect();
        rows.push(&row_v2::encode_row(&columns).expect("row"));
    }
    rows
}

/// The best of `runs` timings of `f`.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let count = args
        .iter()
        .position(|arg| arg == "--rows")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000usize);
    let runs = 5;
    let rows = rows(count);
    let total_bytes: usize = (0..rows.len())
        .map(|i| rows.get(i).map_or(0, <[u8]>::len))
        .sum();
    let flat: Vec<u8> = (0..rows.len())
        .flat_map(|i| rows.get(i).unwrap_or_default().to_vec())
        .collect();

    let memcpy = best(runs, || {
        let copy = flat.clone();
        std::hint::black_box(copy);
    });
    let schema_all = schema();
    let row_major = best(runs, || {
        let columns = basalt_chunk::lazy::decode_columns(&rows, &schema_all).expect("decode");
        std::hint::black_box(columns);
    });
    let mut decoded = Vec::new();
    let decode = best(runs, || {
        let mut batch = LazyBatch::new(rows.clone(), schema());
        decoded = (0..4)
            .map(|i| batch.column(i).expect("decode").clone())
            .collect::<Vec<_>>();
    });
    let types: Vec<FieldType> = schema().into_iter().map(|c| c.field_type).collect();
    let logical: Vec<usize> = (0..count).collect();
    let mut chunk_len = 0;
    let encode = best(runs, || {
        let columns: Vec<_> = decoded.iter().zip(&types).collect();
        let chunk = encode_chunk(&columns, &logical).expect("encode");
        chunk_len = chunk.len();
        std::hint::black_box(chunk);
    });

    let rate = |d: Duration| count as f64 / d.as_secs_f64();
    println!("rows: {count}, row bytes: {total_bytes}, chunk bytes: {chunk_len}, best of {runs}");
    println!("| step | time | rows/s | vs memcpy |");
    println!("|---|---|---|---|");
    for (name, time) in [
        ("memcpy of the row bytes", memcpy),
        ("row v2 -> 4 columns, column by column (LazyBatch)", decode),
        (
            "row v2 -> 4 columns, row by row (decode_columns)",
            row_major,
        ),
        ("4 columns -> chunk", encode),
    ] {
        println!(
            "| {name} | {:.2} ms | {:.0} | {:.3} |",
            time.as_secs_f64() * 1e3,
            rate(time),
            rate(time) / rate(memcpy)
        );
    }
}
