//! Primary-weight lookup for the UCA based collations (`utf8mb4_unicode_ci`, UCA 4.0.0, and
//! `utf8mb4_0900_ai_ci`, UCA 9.0.0), as TiDB and TiKV compute them.
//!
//! Both collations compare strings by primary weights only: every character maps to zero or
//! more 16-bit weights, ignorable characters map to none, and two strings compare as the
//! sequences of all their weights, lexicographically. A character's weights come from, in
//! order: the explicit runs, the multi-weight list, then a rule (Hangul decomposition and
//! Tangut for UCA 9.0.0) and finally the UCA implicit weights of its code point.

use std::cmp::Ordering;
use std::str::Chars;

use super::uca0400_data::{UCA0400_MULTI, UCA0400_POOL, UCA0400_RUNS};
use super::uca0900_data::{UCA0900_MULTI, UCA0900_POOL, UCA0900_RUNS};
use super::{lookup_run, Run};

/// Most weights a single character has in either table (checked by the tests).
const MAX_WEIGHTS: usize = 8;

/// Compatibility ideographs that UCA treats as unified Han (implicit base FB40).
const CJK_COMPAT_UNIFIED: [u32; 12] = [
    0xFA0E, 0xFA0F, 0xFA11, 0xFA13, 0xFA14, 0xFA1F, 0xFA21, 0xFA23, 0xFA24, 0xFA27, 0xFA28, 0xFA29,
];

/// The weight table of one UCA version.
pub(super) struct Uca {
    runs: &'static [Run],
    multi: &'static [(u32, u16, u8)],
    pool: &'static [u16],
    /// Last code point of the core unified Han block starting at U+4E00.
    core_han_end: u32,
    /// Han extension blocks (implicit base FB80).
    ext_han: &'static [(u32, u32)],
    /// Code points above this weigh 0xFFFD (UCA 4.0.0 in TiDB covers the BMP only).
    max_code_point: u32,
    /// Hangul syllables decompose into jamo and Tangut has its own implicit base (UCA 9.0.0).
    decompose_hangul_tangut: bool,
}

/// `utf8mb4_unicode_ci`: UCA 4.0.0.
pub(super) static UCA0400: Uca = Uca {
    runs: UCA0400_RUNS,
    multi: UCA0400_MULTI,
    pool: UCA0400_POOL,
    core_han_end: 0x9FA5,
    ext_han: &[(0x3400, 0x4DB5)],
    max_code_point: 0xFFFF,
    decompose_hangul_tangut: false,
};

/// `utf8mb4_0900_ai_ci`: UCA 9.0.0 primary weights.
pub(super) static UCA0900: Uca = Uca {
    runs: UCA0900_RUNS,
    multi: UCA0900_MULTI,
    pool: UCA0900_POOL,
    core_han_end: 0x9FD5,
    ext_han: &[
        (0x3400, 0x4DB5),
        (0x20000, 0x2A6D6),
        (0x2A700, 0x2B734),
        (0x2B740, 0x2B81D),
        (0x2B820, 0x2CEA0),
    ],
    max_code_point: 0x10FFFF,
    decompose_hangul_tangut: true,
};

/// The weights of one character: a small inline list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct Weights {
    buf: [u16; MAX_WEIGHTS],
    len: usize,
}

impl Weights {
    const EMPTY: Weights = Weights {
        buf: [0; MAX_WEIGHTS],
        len: 0,
    };

    /// Appends a weight; zero (ignorable) adds nothing.
    fn push(&mut self, w: u16) {
        if w != 0 && self.len < MAX_WEIGHTS {
            self.buf[self.len] = w;
            self.len += 1;
        }
    }

    fn extend(&mut self, ws: &[u16]) {
        for &w in ws {
            self.push(w);
        }
    }

    /// The weights, in order.
    pub(super) fn as_slice(&self) -> &[u16] {
        &self.buf[..self.len]
    }
}

impl Uca {
    /// The weights of `c`.
    pub(super) fn weights(&self, c: char) -> Weights {
        let mut out = Weights::EMPTY;
        self.weights_into(c as u32, &mut out);
        out
    }

    fn weights_into(&self, cp: u32, out: &mut Weights) {
        if cp > self.max_code_point {
            out.push(0xFFFD);
            return;
        }
        if let Some(w) = lookup_run(self.runs, self.pool, cp) {
            out.push(w);
            return;
        }
        if let Ok(i) = self.multi.binary_search_by_key(&cp, |m| m.0) {
            let (_, off, n) = self.multi[i];
            let off = usize::from(off);
            if let Some(ws) = self.pool.get(off..off + usize::from(n)) {
                out.extend(ws);
                return;
            }
        }
        if self.decompose_hangul_tangut {
            if (0xAC00..=0xD7A3).contains(&cp) {
                let s = cp - 0xAC00;
                self.weights_into(0x1100 + s / 588, out);
                self.weights_into(0x1161 + (s % 588) / 28, out);
                let trailing = s % 28;
                if trailing != 0 {
                    self.weights_into(0x11A7 + trailing, out);
                }
                return;
            }
            if (0x17000..=0x18AFF).contains(&cp) {
                out.push(0xFB00);
                out.push(((cp - 0x17000) | 0x8000) as u16);
                return;
            }
        }
        let base = if (0x4E00..=self.core_han_end).contains(&cp) || CJK_COMPAT_UNIFIED.contains(&cp)
        {
            0xFB40
        } else if self.ext_han.iter().any(|&(lo, hi)| (lo..=hi).contains(&cp)) {
            0xFB80
        } else {
            0xFBC0
        };
        out.push(base + (cp >> 15) as u16);
        out.push(((cp & 0x7FFF) | 0x8000) as u16);
    }

    /// All weights of `s`, in order.
    pub(super) fn iter<'a>(&'a self, s: &'a str) -> WeightIter<'a> {
        WeightIter {
            uca: self,
            chars: s.chars(),
            cur: Weights::EMPTY,
            pos: 0,
        }
    }

    /// Compares two strings by their weight sequences.
    pub(super) fn compare(&self, a: &str, b: &str) -> Ordering {
        self.iter(a).cmp(self.iter(b))
    }

    /// Appends the sort key of `s`: every weight, big-endian.
    pub(super) fn sort_key(&self, s: &str, out: &mut Vec<u8>) {
        for w in self.iter(s) {
            out.extend_from_slice(&w.to_be_bytes());
        }
    }

    /// Whether `a` and `b` match each other as single characters of a LIKE pattern.
    ///
    /// UCA 9.0.0 compares the full weights. UCA 4.0.0 follows TiDB: characters above U+FFFF
    /// and characters of more than four weights (which TiDB's table cannot hold and marks
    /// 0xFFFD) only match themselves, as does any character weighing exactly 0xFFFD.
    pub(super) fn like_char_eq(&self, a: char, b: char) -> bool {
        if a == b {
            return true;
        }
        if self.decompose_hangul_tangut {
            return self.weights(a) == self.weights(b);
        }
        if a as u32 > 0xFFFF || b as u32 > 0xFFFF {
            return false;
        }
        let (wa, wb) = (self.weights(a), self.weights(b));
        let long = |w: &Weights| w.len > 4 || w.as_slice() == [0xFFFD];
        !long(&wa) && !long(&wb) && wa == wb
    }
}

/// Iterator over the weights of a string.
pub(super) struct WeightIter<'a> {
    uca: &'a Uca,
    chars: Chars<'a>,
    cur: Weights,
    pos: usize,
}

impl Iterator for WeightIter<'_> {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        loop {
            if let Some(&w) = self.cur.as_slice().get(self.pos) {
                self.pos += 1;
                return Some(w);
            }
            let c = self.chars.next()?;
            self.cur = self.uca.weights(c);
            self.pos = 0;
        }
    }
}
