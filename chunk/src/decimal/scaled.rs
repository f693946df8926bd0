//! Decimals as scaled 128-bit integers: the fast path of exact sums. A value of at most 38
//! digits whose stored fraction fits its scale is exactly `v / 10^frac` for an `i128` `v`.

use super::{words_for, Decimal, WORD_BASE};
use crate::error::Result;

/// The most digits an `i128` always holds.
const I128_DIGITS: usize = 38;

fn pow10(n: u32) -> Option<i128> {
    10i128.checked_pow(n)
}

impl Decimal {
    /// The value as `(v, frac)` with value `v / 10^frac` and `frac` its scale, when that is
    /// exact and fits an `i128`; `None` otherwise (the caller falls back to `Decimal`).
    pub fn to_scaled_i128(&self) -> Option<(i128, u8)> {
        self.scaled_small().or_else(|| self.scaled_general())
    }

    fn scaled_general(&self) -> Option<(i128, u8)> {
        let frac = self.result_frac;
        if self.digits_frac > frac || usize::from(self.digits_int) + usize::from(frac) > I128_DIGITS
        {
            return None;
        }
        let used =
            words_for(usize::from(self.digits_int)) + words_for(usize::from(self.digits_frac));
        let mut v: i128 = 0;
        for word in self.words.get(..used)? {
            v = v
                .checked_mul(i128::from(WORD_BASE))?
                .checked_add(i128::from(*word))?;
        }
        // `v` counts units of 10^-(9 × fraction words); the padding digits are zeros.
        let stored = 9 * words_for(usize::from(self.digits_frac)) as u32;
        let frac32 = u32::from(frac);
        v = if stored >= frac32 {
            v / pow10(stored - frac32)?
        } else {
            v.checked_mul(pow10(frac32 - stored)?)?
        };
        Some((if self.negative { -v } else { v }, frac))
    }

    /// `to_scaled_i128` for at most two integer words and one fraction word (money and
    /// quantities): no 128-bit division.
    fn scaled_small(&self) -> Option<(i128, u8)> {
        let frac = self.result_frac;
        let int_words = words_for(usize::from(self.digits_int));
        let frac_words = words_for(usize::from(self.digits_frac));
        if int_words > 2 || frac_words > 1 || self.digits_frac > frac || frac > 9 {
            return None;
        }
        let mut int_part = 0u64;
        for word in &self.words[..int_words] {
            int_part = int_part * u64::from(WORD_BASE) + u64::from(*word);
        }
        // The fraction word holds its digits left-aligned; the stored ones end within `frac`.
        let frac_part = if frac_words == 1 {
            self.words[int_words] / 10u32.pow(9 - u32::from(frac))
        } else {
            0
        };
        let v =
            i128::from(int_part) * i128::from(10u64.pow(u32::from(frac))) + i128::from(frac_part);
        Some((if self.negative { -v } else { v }, frac))
    }

    /// Integer digits as stored, leading zeros included: what TiDB's arithmetic sizes the
    /// integer words of a result by (so, with the scale, whether a result must be cut).
    pub fn stored_int_digits(&self) -> u8 {
        self.digits_int
    }

    /// The decimal `v / 10^frac`, with scale `frac`.
    pub fn from_scaled_i128(v: i128, frac: u8) -> Result<Decimal> {
        let unit = 10u128.pow(u32::from(frac));
        let magnitude = v.unsigned_abs();
        let sign = if v < 0 { "-" } else { "" };
        let text = if frac == 0 {
            format!("{sign}{magnitude}")
        } else {
            format!(
                "{sign}{}.{:0width$}",
                magnitude / unit,
                magnitude % unit,
                width = usize::from(frac)
            )
        };
        text.parse()
    }

    /// `(acc, frac) + self` in scaled integers, when every step fits; the scale of the sum is
    /// the larger of the two, as `Decimal::add` gives.
    pub fn add_to_scaled(&self, (acc, frac): (i128, u8)) -> Option<(i128, u8)> {
        let (v, own) = self.to_scaled_i128()?;
        if own == frac {
            return Some((acc.checked_add(v)?, frac));
        }
        let to = frac.max(own);
        let acc = acc.checked_mul(pow10(u32::from(to - frac))?)?;
        let v = v.checked_mul(pow10(u32::from(to - own))?)?;
        Some((acc.checked_add(v)?, to))
    }
}

/// The decimals of a batch's rows as scaled integers of one scale: row `i` is
/// `values[i] / 10^frac` where `valid[i]` (NULL where not). Decimal arithmetic that only feeds
/// sums runs on these (`basalt_expr::scaled`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScaledDecimals {
    values: Vec<i128>,
    valid: Vec<bool>,
    /// The scale; `None` until a non-NULL value sets it.
    frac: Option<u8>,
    /// At least the stored integer digits (`Decimal::stored_int_digits`) of every row's
    /// `Decimal` counterpart.
    int_digits: usize,
}

impl ScaledDecimals {
    /// Room for `rows` rows.
    pub fn with_capacity(rows: usize) -> ScaledDecimals {
        ScaledDecimals {
            values: Vec::with_capacity(rows),
            valid: Vec::with_capacity(rows),
            frac: None,
            int_digits: 0,
        }
    }

    /// Rows of `values` (`None`: NULL) with scale `frac` and at most `int_digits` stored
    /// integer digits.
    pub fn from_parts(values: Vec<i128>, valid: Vec<bool>, frac: u8, int_digits: usize) -> Self {
        ScaledDecimals {
            values,
            valid,
            frac: Some(frac),
            int_digits,
        }
    }

    /// Appends a row: `(v, frac, stored integer digits)` or NULL. `None` (and nothing
    /// appended) when the scale differs from the earlier rows'.
    #[inline]
    pub fn push(&mut self, value: Option<(i128, u8, u8)>) -> Option<()> {
        match value {
            Some((v, frac, int_digits)) => {
                if *self.frac.get_or_insert(frac) != frac {
                    return None;
                }
                self.int_digits = self.int_digits.max(usize::from(int_digits));
                self.values.push(v);
                self.valid.push(true);
            }
            None => {
                self.values.push(0);
                self.valid.push(false);
            }
        }
        Some(())
    }

    /// Row `i` as `(v, frac)` (`None`: NULL or past the end).
    #[inline]
    pub fn get(&self, i: usize) -> Option<(i128, u8)> {
        if *self.valid.get(i)? {
            Some((self.values[i], self.frac()))
        } else {
            None
        }
    }

    /// The scale (0 when every row is NULL).
    pub fn frac(&self) -> u8 {
        self.frac.unwrap_or(0)
    }

    /// The bound on stored integer digits.
    pub fn int_digits(&self) -> usize {
        self.int_digits
    }

    /// The values (anything where NULL).
    pub fn values(&self) -> &[i128] {
        &self.values
    }

    /// The values, to change in place.
    pub fn values_mut(&mut self) -> &mut [i128] {
        &mut self.values
    }

    /// Which rows are not NULL.
    pub fn valid(&self) -> &[bool] {
        &self.valid
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn dec(text: &str) -> Decimal {
        text.parse().expect("a decimal")
    }

    #[test]
    fn values_convert_both_ways() {
        assert_eq!(dec("123.45").to_scaled_i128(), Some((12345, 2)));
        assert_eq!(dec("-0.001").to_scaled_i128(), Some((-1, 3)));
        assert_eq!(dec("1000000000").to_scaled_i128(), Some((1_000_000_000, 0)));
        assert_eq!(
            Decimal::from_scaled_i128(-12345, 2).unwrap().to_string(),
            "-123.45"
        );
        assert_eq!(
            Decimal::from_scaled_i128(5, 3).unwrap().to_string(),
            "0.005"
        );
        // 40 digits do not fit.
        assert_eq!(
            dec("1234567890123456789012345678901234567890").to_scaled_i128(),
            None
        );
    }

    proptest! {
        /// The small-value conversion agrees with the general one wherever it answers, on
        /// parsed values and on values decoded from their binary form (leading words
        /// dropped), and on products (wider stored fractions).
        #[test]
        fn small_conversion_agrees_with_the_general_one(
            v in any::<i64>(),
            frac in 0u8..12,
            extra in 0u8..6,
        ) {
            let x = Decimal::from_scaled_i128(i128::from(v), frac).unwrap();
            let precision = (x.digits_int + frac + extra).clamp(1, 65);
            let mut bin = Vec::new();
            x.encode_bin(precision, frac, &mut bin).unwrap();
            let (decoded, _) = Decimal::decode_bin(&bin, precision, frac).unwrap();
            let product = x.mul(&dec("0.05")).unwrap();
            for d in [x, decoded, product] {
                if let Some(small) = d.scaled_small() {
                    prop_assert_eq!(Some(small), d.scaled_general(), "{}", d);
                }
            }
        }

        /// Reading a payload straight into a scaled integer gives what decoding the
        /// `Decimal` and converting it gives: values up to 38 digits, stored at wider
        /// precisions (leading zero groups) and with a wider scale.
        #[test]
        fn payloads_read_scaled_as_decoded(
            v in any::<i128>(),
            digits in 1u32..=38,
            frac in 0u8..=30,
            extra_int in 0u8..12,
            extra_frac in 0u8..4,
        ) {
            let v = v % 10i128.pow(digits);
            let frac = frac.min(digits as u8);
            let x = Decimal::from_scaled_i128(v, frac).unwrap();
            let stored_frac = (frac + extra_frac).min(30);
            let precision = (x.digits_int + stored_frac + extra_int).clamp(1, 45);
            let mut payload = vec![precision, stored_frac];
            x.encode_bin(precision, stored_frac, &mut payload).unwrap();
            let mut input = payload.as_slice();
            let decoded = Decimal::decode_datum_payload(&mut input).unwrap();
            let expected = decoded
                .to_scaled_i128()
                .map(|(v, frac)| (v, frac, decoded.stored_int_digits()));
            let got = Decimal::scaled_from_payload(&payload);
            if precision > 38 {
                prop_assert_eq!(got, None);
            } else {
                // Always an answer at most 38 digits, and the same value, scale and stored
                // integer digits (`to_scaled_i128` itself gives up on some wide fractions).
                let (v, frac, stored) = got.expect("read");
                prop_assert!(expected.is_none() || expected == got);
                prop_assert_eq!(
                    Decimal::from_scaled_i128(v, frac).unwrap().to_string(),
                    decoded.to_string()
                );
                prop_assert_eq!(stored, decoded.stored_int_digits());
            }
        }

        /// Bytes that are not one valid payload never read as a value the decoder would not
        /// give.
        #[test]
        fn bad_payloads_read_as_nothing_or_as_decoded(
            payload in proptest::collection::vec(any::<u8>(), 0..24),
        ) {
            if let Some((v, frac, stored)) = Decimal::scaled_from_payload(&payload) {
                let mut input = payload.as_slice();
                let decoded = Decimal::decode_datum_payload(&mut input).unwrap();
                prop_assert!(input.is_empty());
                prop_assert_eq!(
                    Decimal::from_scaled_i128(v, frac).unwrap().to_string(),
                    decoded.to_string()
                );
                prop_assert_eq!(decoded.stored_int_digits(), stored);
            }
        }

        /// The scaled sum agrees with `Decimal::add`, digit for digit.
        #[test]
        fn scaled_sums_agree_with_decimal_add(
            a in -10_000_000_000_000i64..10_000_000_000_000,
            b in -10_000_000_000_000i64..10_000_000_000_000,
            fa in 0u8..8,
            fb in 0u8..8,
        ) {
            let x = Decimal::from_scaled_i128(i128::from(a), fa).unwrap();
            let y = Decimal::from_scaled_i128(i128::from(b), fb).unwrap();
            let exact = x.add(&y).unwrap();
            let scaled = y.add_to_scaled(x.to_scaled_i128().unwrap()).unwrap();
            let back = Decimal::from_scaled_i128(scaled.0, scaled.1).unwrap();
            prop_assert_eq!(back.to_string(), exact.to_string());
        }

        /// Decimals as rows hold them (the binary form of a DECIMAL(15,2) column) convert
        /// exactly.
        #[test]
        fn stored_decimals_convert_exactly(cents in -9_999_999_999_999i64..9_999_999_999_999) {
            let value = Decimal::from_scaled_i128(i128::from(cents), 2).unwrap();
            let mut bytes = Vec::new();
            value.encode_bin(15, 2, &mut bytes).unwrap();
            let (stored, _) = Decimal::decode_bin(&bytes, 15, 2).unwrap();
            prop_assert_eq!(stored.to_scaled_i128(), Some((i128::from(cents), 2)));
        }
    }
}
