//! TiDB's string collations as TiKV evaluates them, so that pushed-down comparisons, sorting,
//! grouping and LIKE agree with TiDB.
//!
//! A [`Collation`] comes from the collation id of a `tipb` field type ([`Collation::from_i32`]).
//! TiDB's new collation framework sends negative ids; a non-negative id is the old framework,
//! where every string compares as bytes without padding.
//!
//! Behaviour shared with TiKV:
//! - PAD SPACE collations (`utf8mb4_bin`, `latin1_bin`, `utf8mb4_general_ci`,
//!   `utf8mb4_unicode_ci`) drop trailing U+0020 spaces (only those) before comparing; NO PAD
//!   collations (`binary`, `utf8mb4_0900_ai_ci`, `utf8mb4_0900_bin`) keep them.
//! - `utf8mb4_general_ci` compares one 16-bit weight per character; characters above U+FFFF
//!   all weigh 0xFFFD.
//! - `utf8mb4_unicode_ci` (UCA 4.0.0) and `utf8mb4_0900_ai_ci` (UCA 9.0.0) compare primary
//!   weights only (accent and case insensitive), with ignorable characters skipped and
//!   expansions such as `ß` = `ss`.
//!
//! Invalid UTF-8: the collations that decode characters (`general_ci`, `unicode_ci`,
//! `0900_ai_ci`, and [`Collation::char_len`] of any UTF-8 collation) return
//! [`Error::Corrupted`]. TiKV rejects such bytes when it builds a sort key for hashing
//! (`SortKey::new` validates) but its plain comparison silently stops at the first bad byte;
//! Basalt reports the error instead of returning an order that depends on where the bad byte
//! is. The byte-wise collations never decode and accept any bytes, as in TiKV.
//!
//! Not supported: `gbk_bin`, `gbk_chinese_ci`, `gb18030_bin` and `gb18030_chinese_ci`, whose
//! weight tables are not built in ([`Collation::from_i32`] returns [`Error::Unsupported`]).

mod general_ci_data;
#[cfg(test)]
mod tests;
mod uca;
mod uca0400_data;
mod uca0900_data;

use std::cmp::Ordering;

use crate::error::{Error, Result};

use general_ci_data::GENERAL_CI_RUNS;
use uca::{UCA0400, UCA0900};

/// A run of consecutive code points in a generated weight table: (first code point, count,
/// value, kind). Kind 0: all weigh `value`; kind 1: `value` plus the offset in the run; kind 2:
/// the weights are `pool[value..value + count]`.
type Run = (u32, u16, u16, u8);

/// The single weight that `runs` give to `cp`, if a run covers it.
fn lookup_run(runs: &[Run], pool: &[u16], cp: u32) -> Option<u16> {
    let i = runs.partition_point(|r| r.0 <= cp).checked_sub(1)?;
    let (start, count, value, kind) = runs[i];
    let off = cp - start;
    if off >= u32::from(count) {
        return None;
    }
    match kind {
        0 => Some(value),
        1 => Some(value.wrapping_add(off as u16)),
        _ => pool.get(usize::from(value) + off as usize).copied(),
    }
}

/// A string collation of TiDB, as TiKV implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collation {
    /// `binary` (ids 63, -63 and 47): raw bytes, no padding.
    Binary,
    /// `utf8mb4_bin` (-46; also `utf8_bin` -83 and `ascii_bin` -65): bytes, trailing spaces
    /// ignored.
    Utf8Mb4Bin,
    /// Any non-negative id (the old collation framework): bytes, no padding.
    Utf8Mb4BinNoPadding,
    /// `utf8mb4_general_ci` (-45; also `utf8_general_ci` -33): MySQL's general_ci weights,
    /// trailing spaces ignored.
    Utf8Mb4GeneralCi,
    /// `utf8mb4_unicode_ci` (-224; also `utf8_unicode_ci` -192): UCA 4.0.0 primary weights,
    /// trailing spaces ignored.
    Utf8Mb4UnicodeCi,
    /// `utf8mb4_0900_ai_ci` (-255): UCA 9.0.0 primary weights, no padding.
    Utf8Mb40900AiCi,
    /// `utf8mb4_0900_bin` (-309): bytes, no padding.
    Utf8Mb40900Bin,
    /// `latin1_bin` (-47): bytes, trailing spaces ignored.
    Latin1Bin,
}

impl Collation {
    /// The collation of a `tipb` collation id, mapped exactly as TiKV maps it.
    ///
    /// Negative ids are TiDB's new collation framework; any non-negative id other than 63
    /// (`binary`) and 47 (`latin1_bin`, compared as binary) means
    /// [`Collation::Utf8Mb4BinNoPadding`].
    /// The GBK and GB18030 collations (-87, -28, -249, -248) and unknown negative ids are
    /// [`Error::Unsupported`].
    pub fn from_i32(id: i32) -> Result<Collation> {
        Ok(match id {
            -33 | -45 => Collation::Utf8Mb4GeneralCi,
            -46 | -83 | -65 => Collation::Utf8Mb4Bin,
            -47 => Collation::Latin1Bin,
            -63 | 63 | 47 => Collation::Binary,
            -224 | -192 => Collation::Utf8Mb4UnicodeCi,
            -255 => Collation::Utf8Mb40900AiCi,
            -309 => Collation::Utf8Mb40900Bin,
            -87 | -28 | -249 | -248 => {
                let name = match id {
                    -87 => "gbk_bin",
                    -28 => "gbk_chinese_ci",
                    -249 => "gb18030_bin",
                    _ => "gb18030_chinese_ci",
                };
                return Err(Error::Unsupported(format!(
                    "collation {name} (id {id}): GBK/GB18030 weight tables are not built \
                     into Basalt"
                )));
            }
            n if n >= 0 => Collation::Utf8Mb4BinNoPadding,
            n => return Err(Error::Unsupported(format!("collation id {n}"))),
        })
    }

    /// The id TiDB's new collation framework uses for this collation (the old framework's 46
    /// for [`Collation::Utf8Mb4BinNoPadding`]).
    pub fn id(&self) -> i32 {
        match self {
            Collation::Binary => -63,
            Collation::Utf8Mb4Bin => -46,
            Collation::Utf8Mb4BinNoPadding => 46,
            Collation::Utf8Mb4GeneralCi => -45,
            Collation::Utf8Mb4UnicodeCi => -224,
            Collation::Utf8Mb40900AiCi => -255,
            Collation::Utf8Mb40900Bin => -309,
            Collation::Latin1Bin => -47,
        }
    }

    /// Whether [`Collation::compare`] is plain byte comparison (no padding, no weights), so
    /// callers may compare, hash and group the bytes directly.
    pub fn is_binary(&self) -> bool {
        matches!(
            self,
            Collation::Binary | Collation::Utf8Mb4BinNoPadding | Collation::Utf8Mb40900Bin
        )
    }

    /// Whether trailing spaces are ignored (PAD SPACE).
    pub fn pads_space(&self) -> bool {
        matches!(
            self,
            Collation::Utf8Mb4Bin
                | Collation::Latin1Bin
                | Collation::Utf8Mb4GeneralCi
                | Collation::Utf8Mb4UnicodeCi
        )
    }

    /// Whether the collation compares case (and accent) insensitively.
    pub fn is_case_insensitive(&self) -> bool {
        matches!(
            self,
            Collation::Utf8Mb4GeneralCi | Collation::Utf8Mb4UnicodeCi | Collation::Utf8Mb40900AiCi
        )
    }

    /// Whether strings of this collation are UTF-8 (every collation but `binary` and
    /// `latin1_bin`, whose characters are bytes).
    pub fn is_utf8(&self) -> bool {
        !matches!(self, Collation::Binary | Collation::Latin1Bin)
    }

    /// Compares two strings under this collation.
    ///
    /// Errors with [`Error::Corrupted`] when a weight-based collation (`general_ci`,
    /// `unicode_ci`, `0900_ai_ci`) meets invalid UTF-8.
    pub fn compare(&self, a: &[u8], b: &[u8]) -> Result<Ordering> {
        Ok(match self {
            Collation::Binary | Collation::Utf8Mb4BinNoPadding | Collation::Utf8Mb40900Bin => {
                a.cmp(b)
            }
            Collation::Utf8Mb4Bin | Collation::Latin1Bin => trim_pad(a).cmp(trim_pad(b)),
            Collation::Utf8Mb4GeneralCi => {
                let (a, b) = (utf8(trim_pad(a))?, utf8(trim_pad(b))?);
                a.chars()
                    .map(general_ci_weight)
                    .cmp(b.chars().map(general_ci_weight))
            }
            Collation::Utf8Mb4UnicodeCi => UCA0400.compare(utf8(trim_pad(a))?, utf8(trim_pad(b))?),
            Collation::Utf8Mb40900AiCi => UCA0900.compare(utf8(a)?, utf8(b)?),
        })
    }

    /// Appends to `out` the sort key of `s`: bytes whose byte order is the order of
    /// [`Collation::compare`], equal exactly when the strings compare equal. Used for hashing,
    /// grouping and memcomparable keys.
    ///
    /// Byte-wise collations give the (trimmed, for PAD SPACE) bytes; `general_ci` gives one
    /// big-endian u16 weight per character; the UCA collations give every primary weight as a
    /// big-endian u16. These are the bytes TiKV's `sort_key` produces. On error (invalid UTF-8,
    /// as for [`Collation::compare`]) nothing is appended.
    pub fn sort_key(&self, s: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self {
            Collation::Binary | Collation::Utf8Mb4BinNoPadding | Collation::Utf8Mb40900Bin => {
                out.extend_from_slice(s)
            }
            Collation::Utf8Mb4Bin | Collation::Latin1Bin => out.extend_from_slice(trim_pad(s)),
            Collation::Utf8Mb4GeneralCi => {
                let s = utf8(trim_pad(s))?;
                out.reserve(s.len() * 2);
                for c in s.chars() {
                    out.extend_from_slice(&general_ci_weight(c).to_be_bytes());
                }
            }
            Collation::Utf8Mb4UnicodeCi => UCA0400.sort_key(utf8(trim_pad(s))?, out),
            Collation::Utf8Mb40900AiCi => UCA0900.sort_key(utf8(s)?, out),
        }
        Ok(())
    }

    /// The sort key of `s` as a new vector (see [`Collation::sort_key`]).
    pub fn sort_key_vec(&self, s: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len());
        self.sort_key(s, &mut out)?;
        Ok(out)
    }

    /// The number of characters of `s`: bytes for `binary` and `latin1_bin`, UTF-8 characters
    /// otherwise ([`Error::Corrupted`] on invalid UTF-8). Trailing spaces count.
    pub fn char_len(&self, s: &[u8]) -> Result<usize> {
        if self.is_utf8() {
            Ok(utf8(s)?.chars().count())
        } else {
            Ok(s.len())
        }
    }

    /// Whether two characters match each other as literal characters of a LIKE pattern.
    ///
    /// Binary and `*_bin` collations match identical characters (for `binary` and
    /// `latin1_bin` the pattern works on bytes: pass each byte as a `char` below U+0100).
    /// `general_ci` and `0900_ai_ci` match characters of equal weights; `unicode_ci` does too,
    /// except that characters above U+FFFF or with more than four weights match only
    /// themselves (TiDB's rule).
    pub fn like_char_eq(&self, a: char, b: char) -> bool {
        match self {
            Collation::Utf8Mb4GeneralCi => general_ci_weight(a) == general_ci_weight(b),
            Collation::Utf8Mb4UnicodeCi => UCA0400.like_char_eq(a, b),
            Collation::Utf8Mb40900AiCi => UCA0900.like_char_eq(a, b),
            _ => a == b,
        }
    }
}

/// `s` without its trailing U+0020 spaces.
fn trim_pad(s: &[u8]) -> &[u8] {
    match s.iter().rposition(|&b| b != b' ') {
        Some(i) => &s[..=i],
        None => &[],
    }
}

/// `s` as UTF-8, or a `Corrupted` error.
fn utf8(s: &[u8]) -> Result<&str> {
    std::str::from_utf8(s).map_err(|e| {
        Error::corrupted(
            "utf8 string",
            format!("invalid UTF-8 at byte {}", e.valid_up_to()),
        )
    })
}

/// The `utf8mb4_general_ci` weight of `c`.
fn general_ci_weight(c: char) -> u16 {
    let cp = c as u32;
    if cp > 0xFFFF {
        return 0xFFFD;
    }
    lookup_run(GENERAL_CI_RUNS, &[], cp).unwrap_or(cp as u16)
}
