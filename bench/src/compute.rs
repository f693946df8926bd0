//! The compute limit: each query as a plain Rust loop over in-memory integer columns (no
//! decoding, no MVCC, no expression evaluation), single-threaded. Its answer is also the
//! reference every other path is checked against.

use std::collections::{BTreeMap, HashMap};

use crate::answer::{Answer, Q1Sums};
use crate::dag::{Kind, TOP_N};
use crate::lineitem::{epoch_days, Lineitem};

/// Cents to millionths.
const CENTS: i128 = 10_000;

/// Runs `kind` over `data`.
pub fn run(kind: Kind, data: &Lineitem) -> Answer {
    match kind {
        Kind::Q1 => q1(data),
        Kind::Q6 => q6(data),
        Kind::CountFiltered => count_filtered(data),
        Kind::GroupByOrder => group_by_order(data),
        Kind::TopN => top_n(data),
    }
}

fn q6(data: &Lineitem) -> Answer {
    let (from, to) = (epoch_days(1994, 1, 1), epoch_days(1995, 1, 1));
    let mut revenue = 0i128;
    let rows = data
        .shipdate
        .iter()
        .zip(&data.discount)
        .zip(&data.quantity)
        .zip(&data.extendedprice);
    for (((&shipdate, &discount), &quantity), &price) in rows {
        if shipdate >= from && shipdate < to && (5..=7).contains(&discount) && quantity < 2400 {
            revenue += i128::from(price * discount);
        }
    }
    // Cents × cents: units of 10^-4.
    Answer::Scalar(revenue * 100)
}

fn q1(data: &Lineitem) -> Answer {
    let until = epoch_days(1998, 9, 2);
    // Group slot by the two flag bytes.
    let mut slot_of = vec![u8::MAX; 1 << 16];
    let mut groups: Vec<((u8, u8), [i128; 6])> = Vec::with_capacity(8);
    for i in 0..data.len() {
        if data.shipdate[i] > until {
            continue;
        }
        let key = (data.returnflag[i], data.linestatus[i]);
        let at = usize::from(key.0) << 8 | usize::from(key.1);
        let mut slot = slot_of[at];
        if slot == u8::MAX {
            slot = groups.len() as u8;
            slot_of[at] = slot;
            groups.push((key, [0; 6]));
        }
        let sums = &mut groups[usize::from(slot)].1;
        let (price, discount, tax) = (data.extendedprice[i], data.discount[i], data.tax[i]);
        // Cents × (100 - discount cents): 10^-4; × (100 + tax cents) again: 10^-6.
        let disc_price = i128::from(price * (100 - discount));
        sums[0] += i128::from(data.quantity[i]);
        sums[1] += i128::from(price);
        sums[2] += disc_price;
        sums[3] += disc_price * i128::from(100 + tax);
        sums[4] += i128::from(discount);
        sums[5] += 1;
    }
    let scaled = |sums: [i128; 6]| -> Q1Sums {
        [
            sums[0] * CENTS,
            sums[1] * CENTS,
            sums[2] * 100,
            sums[3],
            sums[4] * CENTS,
            sums[5] * 1_000_000,
        ]
    };
    Answer::Q1(
        groups
            .into_iter()
            .map(|(key, sums)| (key, scaled(sums)))
            .collect::<BTreeMap<_, _>>(),
    )
}

fn count_filtered(data: &Lineitem) -> Answer {
    let count = data.quantity.iter().filter(|&&q| q < 200).count();
    Answer::Scalar(count as i128 * 1_000_000)
}

fn group_by_order(data: &Lineitem) -> Answer {
    let mut sums: HashMap<i64, i64> = HashMap::with_capacity(data.len() / 4);
    for (&key, &quantity) in data.orderkey.iter().zip(&data.quantity) {
        *sums.entry(key).or_default() += quantity;
    }
    let mut groups: Vec<(i64, i128)> = sums
        .into_iter()
        .map(|(key, cents)| (key, i128::from(cents) * CENTS))
        .collect();
    groups.sort_unstable();
    Answer::Groups(groups)
}

fn top_n(data: &Lineitem) -> Answer {
    // A bounded min-heap of the highest prices.
    let mut heap = std::collections::BinaryHeap::with_capacity(TOP_N as usize + 1);
    for &price in &data.extendedprice {
        heap.push(std::cmp::Reverse(price));
        if heap.len() > TOP_N as usize {
            heap.pop();
        }
    }
    let mut prices: Vec<i128> = heap
        .into_iter()
        .map(|std::cmp::Reverse(p)| i128::from(p) * CENTS)
        .collect();
    prices.sort_unstable_by(|a, b| b.cmp(a));
    Answer::Top(prices)
}
