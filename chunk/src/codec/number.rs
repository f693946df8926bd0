//! Numbers and byte strings in the two forms TiDB writes them: memcomparable (big-endian with the
//! sign bit flipped, so byte order is value order; used in keys and datums) and value forms
//! (little-endian, varints, compact bytes). Readers take `&mut &[u8]` and advance it; they fail
//! with `Error::Truncated` instead of reading past the end.

use crate::error::{Error, Result};

const SIGN_MASK: u64 = 0x8000_0000_0000_0000;
const GROUP_SIZE: usize = 8;
const GROUP_MARKER: u8 = 0xFF;
const PAD: u8 = 0;
/// The most bytes a varint of a u64 takes.
pub const MAX_VARINT_LEN: usize = 10;

/// Takes `n` bytes from the front of `input`.
pub fn take<'a>(input: &mut &'a [u8], n: usize, what: &'static str) -> Result<&'a [u8]> {
    if input.len() < n {
        return Err(Error::truncated(what, n, input.len()));
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

fn take_array<const N: usize>(input: &mut &[u8], what: &'static str) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    out.copy_from_slice(take(input, N, what)?);
    Ok(out)
}

/// Reads one byte.
pub fn read_u8(input: &mut &[u8], what: &'static str) -> Result<u8> {
    Ok(take_array::<1>(input, what)?[0])
}

/// Reads a little-endian u16.
pub fn read_u16_le(input: &mut &[u8], what: &'static str) -> Result<u16> {
    Ok(u16::from_le_bytes(take_array(input, what)?))
}

/// Reads a little-endian u32.
pub fn read_u32_le(input: &mut &[u8], what: &'static str) -> Result<u32> {
    Ok(u32::from_le_bytes(take_array(input, what)?))
}

/// Reads a little-endian u64.
pub fn read_u64_le(input: &mut &[u8], what: &'static str) -> Result<u64> {
    Ok(u64::from_le_bytes(take_array(input, what)?))
}

/// Reads a little-endian i64.
pub fn read_i64_le(input: &mut &[u8], what: &'static str) -> Result<i64> {
    Ok(i64::from_le_bytes(take_array(input, what)?))
}

/// Reads a little-endian f64.
pub fn read_f64_le(input: &mut &[u8], what: &'static str) -> Result<f64> {
    Ok(f64::from_le_bytes(take_array(input, what)?))
}

/// Reads a little-endian f32.
pub fn read_f32_le(input: &mut &[u8], what: &'static str) -> Result<f32> {
    Ok(f32::from_le_bytes(take_array(input, what)?))
}

/// An i64 in memcomparable form: 8 bytes big-endian with the sign bit flipped.
pub fn encode_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&((value as u64) ^ SIGN_MASK).to_be_bytes());
}

/// Reads an i64 in memcomparable form.
pub fn decode_i64(input: &mut &[u8]) -> Result<i64> {
    let raw = u64::from_be_bytes(take_array(input, "comparable i64")?);
    Ok((raw ^ SIGN_MASK) as i64)
}

/// An i64 in descending memcomparable form (bits inverted).
pub fn encode_i64_desc(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(&(!((value as u64) ^ SIGN_MASK)).to_be_bytes());
}

/// Reads an i64 in descending memcomparable form.
pub fn decode_i64_desc(input: &mut &[u8]) -> Result<i64> {
    let raw = !u64::from_be_bytes(take_array(input, "comparable i64 desc")?);
    Ok((raw ^ SIGN_MASK) as i64)
}

/// A u64 in memcomparable form: 8 bytes big-endian.
pub fn encode_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_be_bytes());
}

/// Reads a u64 in memcomparable form.
pub fn decode_u64(input: &mut &[u8]) -> Result<u64> {
    Ok(u64::from_be_bytes(take_array(input, "comparable u64")?))
}

/// A u64 in descending memcomparable form.
pub fn encode_u64_desc(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&(!value).to_be_bytes());
}

/// Reads a u64 in descending memcomparable form.
pub fn decode_u64_desc(input: &mut &[u8]) -> Result<u64> {
    Ok(!u64::from_be_bytes(take_array(
        input,
        "comparable u64 desc",
    )?))
}

fn f64_to_comparable(value: f64) -> u64 {
    let bits = value.to_bits();
    if value >= 0.0 {
        bits | SIGN_MASK
    } else {
        !bits
    }
}

fn comparable_to_f64(raw: u64) -> f64 {
    let bits = if raw & SIGN_MASK != 0 {
        raw & !SIGN_MASK
    } else {
        !raw
    };
    f64::from_bits(bits)
}

/// An f64 in memcomparable form (TiDB's EncodeFloat: positive values get the sign bit set,
/// negative values are inverted).
pub fn encode_f64(out: &mut Vec<u8>, value: f64) {
    out.extend_from_slice(&f64_to_comparable(value).to_be_bytes());
}

/// Reads an f64 in memcomparable form.
pub fn decode_f64(input: &mut &[u8]) -> Result<f64> {
    Ok(comparable_to_f64(u64::from_be_bytes(take_array(
        input,
        "comparable f64",
    )?)))
}

/// An unsigned varint (protobuf style, 7 bits a byte, least significant first).
pub fn encode_var_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned varint; more than 10 bytes or an overflowing 10th byte is corrupted.
pub fn decode_var_u64(input: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for (i, &byte) in input.iter().enumerate().take(MAX_VARINT_LEN) {
        if i == MAX_VARINT_LEN - 1 && byte > 1 {
            return Err(Error::corrupted("varint", "overflows 64 bits"));
        }
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte < 0x80 {
            *input = &input[i + 1..];
            return Ok(value);
        }
    }
    if input.len() >= MAX_VARINT_LEN {
        Err(Error::corrupted("varint", "longer than 10 bytes"))
    } else {
        Err(Error::truncated("varint", 1, 0))
    }
}

/// A signed varint (zigzag, as Go's `binary.PutVarint`).
pub fn encode_var_i64(out: &mut Vec<u8>, value: i64) {
    encode_var_u64(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads a signed varint.
pub fn decode_var_i64(input: &mut &[u8]) -> Result<i64> {
    let zigzag = decode_var_u64(input)?;
    Ok(((zigzag >> 1) as i64) ^ -((zigzag & 1) as i64))
}

/// Bytes in memcomparable form: 8-byte groups, zero-padded, each followed by 0xFF minus the
/// number of pad bytes; a full last group is followed by an empty group.
pub fn encode_bytes(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve((data.len() / GROUP_SIZE + 1) * (GROUP_SIZE + 1));
    let mut chunks = data.chunks_exact(GROUP_SIZE);
    for chunk in &mut chunks {
        out.extend_from_slice(chunk);
        out.push(GROUP_MARKER);
    }
    let rest = chunks.remainder();
    let pad = GROUP_SIZE - rest.len();
    out.extend_from_slice(rest);
    out.extend(std::iter::repeat_n(PAD, pad));
    out.push(GROUP_MARKER - pad as u8);
}

/// Reads bytes in memcomparable form.
pub fn decode_bytes(input: &mut &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let group = take(input, GROUP_SIZE + 1, "comparable bytes")?;
        let marker = group[GROUP_SIZE];
        let pad = usize::from(GROUP_MARKER - marker);
        if pad > GROUP_SIZE {
            return Err(Error::corrupted(
                "comparable bytes",
                format!("marker {marker:#04x}"),
            ));
        }
        let real = GROUP_SIZE - pad;
        if group[real..GROUP_SIZE].iter().any(|&b| b != PAD) {
            return Err(Error::corrupted("comparable bytes", "non-zero padding"));
        }
        out.extend_from_slice(&group[..real]);
        if pad != 0 {
            return Ok(out);
        }
    }
}

/// Bytes in compact form: a signed varint length, then the bytes.
pub fn encode_compact_bytes(out: &mut Vec<u8>, data: &[u8]) {
    encode_var_i64(out, data.len() as i64);
    out.extend_from_slice(data);
}

/// Reads bytes in compact form, borrowing from the input.
pub fn decode_compact_bytes<'a>(input: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = decode_var_i64(input)?;
    let len = usize::try_from(len)
        .map_err(|_| Error::corrupted("compact bytes", format!("length {len}")))?;
    take(input, len, "compact bytes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn golden_vectors() {
        // TiDB util/codec: EncodeInt flips the sign bit; EncodeBytes groups by 8 with markers
        // 0xFF - pad (codec_test.go TestBytes: "" -> 8 zeros + 0xF7).
        let mut out = Vec::new();
        encode_i64(&mut out, -1);
        assert_eq!(out, [0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
        out.clear();
        encode_i64(&mut out, 1);
        assert_eq!(out, [0x80, 0, 0, 0, 0, 0, 0, 1]);
        out.clear();
        encode_bytes(&mut out, b"");
        assert_eq!(out, [0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
        out.clear();
        encode_bytes(&mut out, b"12345678");
        assert_eq!(
            out,
            [b'1', b'2', b'3', b'4', b'5', b'6', b'7', b'8', 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0xF7]
        );
        out.clear();
        encode_var_i64(&mut out, -1);
        assert_eq!(out, [1]);
        out.clear();
        encode_var_u64(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
    }

    #[test]
    fn decoders_reject_bad_input() {
        assert!(decode_i64(&mut &[1u8, 2][..]).is_err());
        assert!(decode_bytes(&mut &[0u8, 0, 0, 0, 0, 0, 0, 0, 0x10][..]).is_err());
        assert!(decode_bytes(&mut &[1u8, 0, 0, 0, 0, 0, 0, 1, 0xF8][..]).is_err());
        assert!(decode_var_u64(&mut &[0xFFu8; 11][..]).is_err());
        assert!(decode_var_u64(&mut &[0x80u8][..]).is_err());
        let mut huge = Vec::new();
        encode_var_i64(&mut huge, i64::MAX);
        assert!(decode_compact_bytes(&mut huge.as_slice()).is_err());
        let mut negative = Vec::new();
        encode_var_i64(&mut negative, -5);
        assert!(decode_compact_bytes(&mut negative.as_slice()).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(i in any::<i64>(), u in any::<u64>(), f in any::<f64>(), bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let mut out = Vec::new();
            encode_i64(&mut out, i);
            encode_i64_desc(&mut out, i);
            encode_u64(&mut out, u);
            encode_u64_desc(&mut out, u);
            encode_f64(&mut out, f);
            encode_var_i64(&mut out, i);
            encode_var_u64(&mut out, u);
            encode_bytes(&mut out, &bytes);
            encode_compact_bytes(&mut out, &bytes);
            let mut input = out.as_slice();
            prop_assert_eq!(decode_i64(&mut input).unwrap(), i);
            prop_assert_eq!(decode_i64_desc(&mut input).unwrap(), i);
            prop_assert_eq!(decode_u64(&mut input).unwrap(), u);
            prop_assert_eq!(decode_u64_desc(&mut input).unwrap(), u);
            let back = decode_f64(&mut input).unwrap();
            prop_assert!(back.to_bits() == f.to_bits() || (f.is_nan() && back.is_nan()) || (f == 0.0 && back == 0.0));
            prop_assert_eq!(decode_var_i64(&mut input).unwrap(), i);
            prop_assert_eq!(decode_var_u64(&mut input).unwrap(), u);
            prop_assert_eq!(decode_bytes(&mut input).unwrap(), bytes.clone());
            prop_assert_eq!(decode_compact_bytes(&mut input).unwrap(), bytes.as_slice());
            prop_assert!(input.is_empty());
        }

        #[test]
        fn comparable_order_is_value_order(a in any::<i64>(), b in any::<i64>(), x in -1e300f64..1e300, y in -1e300f64..1e300,
                                           s in proptest::collection::vec(any::<u8>(), 0..20), t in proptest::collection::vec(any::<u8>(), 0..20)) {
            let enc = |f: &dyn Fn(&mut Vec<u8>)| { let mut v = Vec::new(); f(&mut v); v };
            prop_assert_eq!(enc(&|o| encode_i64(o, a)).cmp(&enc(&|o| encode_i64(o, b))), a.cmp(&b));
            prop_assert_eq!(enc(&|o| encode_i64_desc(o, a)).cmp(&enc(&|o| encode_i64_desc(o, b))), b.cmp(&a));
            prop_assert_eq!(enc(&|o| encode_f64(o, x)).cmp(&enc(&|o| encode_f64(o, y))), x.partial_cmp(&y).unwrap());
            prop_assert_eq!(enc(&|o| encode_bytes(o, &s)).cmp(&enc(&|o| encode_bytes(o, &t))), s.cmp(&t));
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_bytes(&mut bytes.as_slice());
            let _ = decode_compact_bytes(&mut bytes.as_slice());
            let _ = decode_var_u64(&mut bytes.as_slice());
            let _ = decode_var_i64(&mut bytes.as_slice());
            let _ = decode_f64(&mut bytes.as_slice());
        }
    }
}
