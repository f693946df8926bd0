//! Byte forms of [`Decimal`]: TiDB's memcomparable binary form (`ToBin`/`FromBin`), the datum
//! payload (`precision, frac, bin`) and the 40-byte chunk-column struct.

use super::{words_for, Decimal, DIGITS_PER_WORD, MAX_DIGITS, WORD_BASE, WORD_BUF_LEN};
use crate::error::{Error, Result};

/// Bytes needed for 0..=9 leftover digits.
const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
/// Size of the chunk-column form.
const CHUNK_SIZE: usize = 40;

fn check_prec_frac(precision: u8, frac: u8) -> Result<()> {
    if precision == 0
        || precision as usize > MAX_DIGITS
        || frac > Decimal::MAX_SCALE
        || frac > precision
    {
        return Err(Error::corrupted(
            "decimal",
            format!("invalid precision {precision} / frac {frac}"),
        ));
    }
    Ok(())
}

fn part_size(digits: usize) -> usize {
    digits / DIGITS_PER_WORD * 4 + DIG2BYTES[digits % DIGITS_PER_WORD]
}

impl Decimal {
    /// Size of the binary form for `(precision, frac)` (TiDB `DecimalBinSize`). Precision must
    /// be 1..=81, frac at most 30 and at most precision; otherwise `Error::Corrupted`.
    pub fn bin_size(precision: u8, frac: u8) -> Result<usize> {
        check_prec_frac(precision, frac)?;
        Ok(part_size((precision - frac) as usize) + part_size(frac as usize))
    }

    /// Integer word `j` counted leftwards from the point (0 = units word).
    fn int_word_from_point(&self, j: usize) -> u32 {
        let iw = words_for(self.digits_int as usize);
        if j < iw {
            self.words[iw - 1 - j]
        } else {
            0
        }
    }

    /// The first `digits` fraction digits, left-aligned in word `k` of the fraction.
    fn frac_word(&self, k: usize) -> u32 {
        let iw = words_for(self.digits_int as usize);
        if k < words_for(self.digits_frac as usize) {
            self.words.get(iw + k).copied().unwrap_or(0)
        } else {
            0
        }
    }

    /// Appends the binary form for `(precision, frac)` (TiDB `ToBin`): big-endian groups of 9
    /// digits in 4 bytes, partial groups in the fewest bytes, all bytes inverted for negative
    /// values, first bit flipped; same `(precision, frac)` encodings compare like the values.
    ///
    /// Fraction digits beyond `frac` are dropped without rounding and without error (TiDB
    /// writes the same bytes and reports `ErrTruncated`, which callers demote to a warning);
    /// an integer part with more than `precision - frac` significant digits is
    /// `Error::Overflow` and nothing is appended.
    pub fn encode_bin(&self, precision: u8, frac: u8, out: &mut Vec<u8>) -> Result<()> {
        check_prec_frac(precision, frac)?;
        let int_digits = (precision - frac) as usize;
        if self.significant_int_digits() > int_digits {
            return Err(Error::overflow(
                "DECIMAL",
                format!("{self} as DECIMAL({precision},{frac})"),
            ));
        }
        let mask: u8 = if self.is_negative() { 0xff } else { 0 };
        let start = out.len();
        let mut push = |v: u32, nbytes: usize| {
            for i in (0..nbytes).rev() {
                out.push(((v >> (8 * i)) as u8) ^ mask);
            }
        };
        let (full_int, lead) = (int_digits / DIGITS_PER_WORD, int_digits % DIGITS_PER_WORD);
        if lead > 0 {
            push(self.int_word_from_point(full_int), DIG2BYTES[lead]);
        }
        for j in (0..full_int).rev() {
            push(self.int_word_from_point(j), 4);
        }
        let (full_frac, trail) = (
            frac as usize / DIGITS_PER_WORD,
            frac as usize % DIGITS_PER_WORD,
        );
        for k in 0..full_frac {
            push(self.frac_word(k), 4);
        }
        if trail > 0 {
            let w = self.frac_word(full_frac) / 10u32.pow((DIGITS_PER_WORD - trail) as u32);
            push(w, DIG2BYTES[trail]);
        }
        if let Some(b) = out.get_mut(start) {
            *b ^= 0x80;
        }
        Ok(())
    }

    /// Reads the binary form for `(precision, frac)` (TiDB `FromBin`); returns the value and
    /// the bytes consumed. Groups whose value exceeds their digit count are
    /// `Error::Corrupted` (TiDB is laxer on the leading group). A negative zero decodes as
    /// zero. The result has `frac()` = `frac`.
    pub fn decode_bin(input: &[u8], precision: u8, frac: u8) -> Result<(Self, usize)> {
        let size = Decimal::bin_size(precision, frac)?;
        let bytes = input
            .get(..size)
            .ok_or_else(|| Error::truncated("decimal", size - input.len(), input.len()))?;
        let mut buf = [0u8; CHUNK_SIZE];
        buf[..size].copy_from_slice(bytes);
        let positive = buf[0] & 0x80 != 0;
        buf[0] ^= 0x80;
        let mask: u8 = if positive { 0 } else { 0xff };
        let int_digits = (precision - frac) as usize;
        let (full_int, lead) = (int_digits / DIGITS_PER_WORD, int_digits % DIGITS_PER_WORD);
        let mut full_frac = frac as usize / DIGITS_PER_WORD;
        let mut trail = frac as usize % DIGITS_PER_WORD;
        let int_words = full_int + usize::from(lead > 0);
        if int_words + full_frac + usize::from(trail > 0) > WORD_BUF_LEN {
            // Only the partial trailing group can be left out (precision <= 81).
            trail = 0;
            full_frac = WORD_BUF_LEN - int_words;
        }
        let mut pos = 0usize;
        let mut read = |n: usize| -> u32 {
            let mut v = 0u32;
            for &b in &buf[pos..pos + n] {
                v = (v << 8) | (b ^ mask) as u32;
            }
            pos += n;
            v
        };
        let bad = |what: &str| Error::corrupted("decimal", format!("{what} group out of range"));
        let mut d = Decimal::zero();
        let mut di = int_digits;
        let mut idx = 0usize;
        if lead > 0 {
            let v = read(DIG2BYTES[lead]);
            if v >= 10u32.pow(lead as u32) {
                return Err(bad("leading"));
            }
            if v != 0 {
                d.words[idx] = v;
                idx += 1;
            } else {
                di -= lead;
            }
        }
        for _ in 0..full_int {
            let v = read(4);
            if v >= WORD_BASE {
                return Err(bad("integer"));
            }
            if idx > 0 || v != 0 {
                d.words[idx] = v;
                idx += 1;
            } else {
                di -= DIGITS_PER_WORD;
            }
        }
        for _ in 0..full_frac {
            let v = read(4);
            if v >= WORD_BASE {
                return Err(bad("fraction"));
            }
            d.words[idx] = v;
            idx += 1;
        }
        if trail > 0 {
            let v = read(DIG2BYTES[trail]);
            if v >= 10u32.pow(trail as u32) {
                return Err(bad("trailing"));
            }
            d.words[idx] = v * 10u32.pow((DIGITS_PER_WORD - trail) as u32);
        }
        let df = full_frac * DIGITS_PER_WORD + trail;
        if di == 0 && df == 0 {
            d = Decimal::zero();
        } else {
            d.digits_int = di as u8;
            d.digits_frac = df as u8;
        }
        d.negative = !positive && !d.is_zero();
        d.result_frac = frac;
        Ok((d, size))
    }

    /// Appends the datum payload: precision and frac from [`Decimal::precision_and_frac`]
    /// (frac capped at 30, as TiDB `EncodeDecimal`), then the binary form. Nothing is
    /// appended on error.
    pub fn encode_datum_payload(&self, out: &mut Vec<u8>) -> Result<()> {
        let (precision, full_frac) = self.precision_and_frac();
        let frac = full_frac.min(Decimal::MAX_SCALE);
        // Capping the fraction shrinks the precision with it, so that the integer part keeps
        // its width (otherwise leading zero words could push fraction words out on decode).
        let precision = (precision - (full_frac - frac)).max(1);
        let start = out.len();
        out.push(precision);
        out.push(frac);
        if let Err(e) = self.encode_bin(precision, frac, out) {
            out.truncate(start);
            return Err(e);
        }
        Ok(())
    }

    /// Reads a datum payload and advances `input` past it (left untouched on error).
    pub fn decode_datum_payload(input: &mut &[u8]) -> Result<Self> {
        if input.len() < 3 {
            return Err(Error::truncated(
                "decimal datum",
                3 - input.len(),
                input.len(),
            ));
        }
        let (precision, frac) = (input[0], input[1]);
        let (d, used) = Decimal::decode_bin(&input[2..], precision, frac)?;
        *input = &input[2 + used..];
        Ok(d)
    }

    /// A datum payload that is exactly one value of at most 38 digits, read straight into
    /// `(v, frac, int_digits)`: the value `v / 10^frac`, its scale, and the integer digits
    /// `decode_datum_payload` would store (leading zero groups dropped), without building a
    /// `Decimal`. Where `to_scaled_i128` of the decoded `Decimal` answers, this is the same
    /// answer. `None` for anything else (wider values, bad or trailing bytes): decode the
    /// `Decimal` then, which reports what is wrong.
    pub fn scaled_from_payload(payload: &[u8]) -> Option<(i128, u8, u8)> {
        let [precision, frac, bin @ ..] = payload else {
            return None;
        };
        let (precision, frac) = (*precision, *frac);
        if precision == 0 || precision > 38 || frac > precision || frac > Decimal::MAX_SCALE {
            return None;
        }
        let int_digits = usize::from(precision - frac);
        let (full_int, lead) = (int_digits / DIGITS_PER_WORD, int_digits % DIGITS_PER_WORD);
        let (full_frac, trail) = (
            usize::from(frac) / DIGITS_PER_WORD,
            usize::from(frac) % DIGITS_PER_WORD,
        );
        if bin.len() != part_size(int_digits) + part_size(usize::from(frac)) {
            return None;
        }
        // Groups are big-endian; a negative value has every byte inverted; the first bit is
        // flipped so that encodings sort like values.
        let negative = bin[0] & 0x80 == 0;
        let mask = if negative { u32::MAX } else { 0 };
        let mut pos = 0usize;
        let mut read = |digits: usize| -> Option<u32> {
            let n = if digits == DIGITS_PER_WORD {
                4
            } else {
                DIG2BYTES[digits]
            };
            let mut group = 0u32;
            for &byte in &bin[pos..pos + n] {
                group = (group << 8) | u32::from(byte);
            }
            if pos == 0 {
                group ^= 0x80 << (8 * (n - 1));
            }
            pos += n;
            group = (group ^ mask) & (u32::MAX >> (32 - 8 * n));
            (group < 10u32.pow(digits as u32)).then_some(group)
        };
        // Below 19 digits everything fits a u64, whose arithmetic is cheaper.
        let mut small = 0u64;
        let mut wide = 0u128;
        let mut push = |group: u32, digits: usize| {
            if precision <= 18 {
                small = small * 10u64.pow(digits as u32) + u64::from(group);
            } else {
                wide = wide * 10u128.pow(digits as u32) + u128::from(group);
            }
        };
        let mut stored = int_digits;
        let mut significant = false;
        if lead > 0 {
            let group = read(lead)?;
            if group == 0 {
                stored -= lead;
            }
            significant = group != 0;
            push(group, lead);
        }
        for _ in 0..full_int {
            let group = read(DIGITS_PER_WORD)?;
            if !significant && group == 0 {
                stored -= DIGITS_PER_WORD;
            }
            significant |= group != 0;
            push(group, DIGITS_PER_WORD);
        }
        for _ in 0..full_frac {
            push(read(DIGITS_PER_WORD)?, DIGITS_PER_WORD);
        }
        if trail > 0 {
            push(read(trail)?, trail);
        }
        if stored == 0 && frac == 0 {
            return Some((0, frac, 0));
        }
        let v = if precision <= 18 {
            i128::from(small)
        } else {
            i128::try_from(wide).ok()?
        };
        Some((if negative { -v } else { v }, frac, stored as u8))
    }

    /// The 40-byte chunk-column form: TiDB's in-memory `MyDecimal` (`digitsInt`,
    /// `digitsFrac`, `resultFrac` as one byte each, `negative` as 0/1, then nine
    /// little-endian `int32` words).
    pub fn to_chunk_bytes(&self) -> [u8; 40] {
        let mut b = [0u8; CHUNK_SIZE];
        b[0] = self.digits_int;
        b[1] = self.digits_frac;
        b[2] = self.result_frac;
        b[3] = u8::from(self.is_negative());
        for (chunk, w) in b[4..].chunks_exact_mut(4).zip(self.words.iter()) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        b
    }

    /// Reads the chunk-column form. Rejects a length other than 40, digit counts that need
    /// more than 9 words, a `negative` byte other than 0/1 and words of 10^9 or more. Words
    /// past the used ones are ignored (TiDB may leave stale values there); a first integer word
    /// wider than `digitsInt` allows widens `digitsInt` to the whole word; a negative zero
    /// becomes zero.
    pub fn from_chunk_bytes(bytes: &[u8]) -> Result<Self> {
        if bytes.len() != CHUNK_SIZE {
            return Err(Error::corrupted(
                "decimal chunk",
                format!("length {} != 40", bytes.len()),
            ));
        }
        let (di, df, rf) = (bytes[0] as usize, bytes[1] as usize, bytes[2]);
        let (iw, fw) = (words_for(di), words_for(df));
        if iw + fw > WORD_BUF_LEN || rf as usize > MAX_DIGITS {
            return Err(Error::corrupted(
                "decimal chunk",
                format!("digit counts {di}/{df}/{rf}"),
            ));
        }
        let negative = match bytes[3] {
            0 => false,
            1 => true,
            other => {
                return Err(Error::corrupted(
                    "decimal chunk",
                    format!("sign byte {other}"),
                ))
            }
        };
        let mut d = Decimal::zero();
        for (i, chunk) in bytes[4..].chunks_exact(4).enumerate().take(iw + fw) {
            let w = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            if w >= WORD_BASE {
                return Err(Error::corrupted(
                    "decimal chunk",
                    format!("word {w} out of range"),
                ));
            }
            d.words[i] = w;
        }
        d.digits_int = di as u8;
        let lead = di % DIGITS_PER_WORD;
        if lead > 0 && d.words[0] >= 10u32.pow(lead as u32) {
            d.digits_int = (iw * DIGITS_PER_WORD) as u8;
        }
        d.digits_frac = df as u8;
        d.result_frac = rf;
        d.negative = negative && !d.is_zero();
        Ok(d)
    }
}
