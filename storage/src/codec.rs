//! The small byte codecs storage needs: TiDB's memcomparable bytes (8-byte groups with a pad
//! marker), descending timestamps appended to MVCC keys, and LEB128 varints for on-disk records.
//! Every decoder returns `Error::Corrupted` on bad input and never panics.

use crate::error::{Error, Result};

const GROUP_SIZE: usize = 8;
const MARKER: u8 = 0xFF;

/// Appends the memcomparable encoding of `data`: each 8-byte group is followed by a marker byte
/// `0xFF - pad`, the last group zero-padded. Byte order of encodings equals byte order of inputs.
pub fn encode_bytes(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve((data.len() / GROUP_SIZE + 1) * (GROUP_SIZE + 1));
    let mut chunks = data.chunks_exact(GROUP_SIZE);
    for chunk in &mut chunks {
        out.extend_from_slice(chunk);
        out.push(MARKER);
    }
    let rest = chunks.remainder();
    let pad = GROUP_SIZE - rest.len();
    out.extend_from_slice(rest);
    out.extend(std::iter::repeat_n(0u8, pad));
    out.push(MARKER - pad as u8);
}

/// The length `encode_bytes` produces for an input of `len` bytes.
pub fn encoded_bytes_len(len: usize) -> usize {
    (len / GROUP_SIZE + 1) * (GROUP_SIZE + 1)
}

/// Decodes one memcomparable byte string from the front of `input`; returns it and the rest.
pub fn decode_bytes(input: &[u8]) -> Result<(Vec<u8>, &[u8])> {
    let mut out = Vec::with_capacity(input.len() / (GROUP_SIZE + 1) * GROUP_SIZE);
    let rest = decode_bytes_into(input, &mut out)?;
    Ok((out, rest))
}

/// As `decode_bytes`, appending the decoded string to `out` (a buffer reused across keys).
pub fn decode_bytes_into<'a>(input: &'a [u8], out: &mut Vec<u8>) -> Result<&'a [u8]> {
    let mut rest = input;
    loop {
        if rest.len() < GROUP_SIZE + 1 {
            return Err(Error::Corrupted(format!(
                "memcomparable bytes truncated: {} bytes left",
                rest.len()
            )));
        }
        let (group, tail) = rest.split_at(GROUP_SIZE + 1);
        rest = tail;
        let marker = group[GROUP_SIZE];
        let pad = (MARKER - marker) as usize;
        if pad == 0 {
            out.extend_from_slice(&group[..GROUP_SIZE]);
            continue;
        }
        if pad > GROUP_SIZE {
            return Err(Error::Corrupted(format!(
                "memcomparable marker {marker:#x} invalid"
            )));
        }
        let real = GROUP_SIZE - pad;
        if group[real..GROUP_SIZE].iter().any(|&b| b != 0) {
            return Err(Error::Corrupted("memcomparable padding is not zero".into()));
        }
        out.extend_from_slice(&group[..real]);
        return Ok(rest);
    }
}

/// Appends `ts` so that larger timestamps sort first (bitwise not, big-endian).
pub fn encode_ts_desc(out: &mut Vec<u8>, ts: u64) {
    out.extend_from_slice(&(!ts).to_be_bytes());
}

/// Reads a descending timestamp written by `encode_ts_desc`.
pub fn decode_ts_desc(bytes: &[u8]) -> Result<u64> {
    let array: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Corrupted(format!("timestamp has {} bytes, want 8", bytes.len())))?;
    Ok(!u64::from_be_bytes(array))
}

/// Appends `value` as an unsigned LEB128 varint.
pub fn encode_var_u64(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads an unsigned LEB128 varint from the front of `input`.
pub fn decode_var_u64(input: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for (index, &byte) in input.iter().enumerate().take(10) {
        let bits = u64::from(byte & 0x7F);
        if index == 9 && byte > 1 {
            return Err(Error::Corrupted("varint overflows u64".into()));
        }
        value |= bits << (7 * index);
        if byte & 0x80 == 0 {
            *input = &input[index + 1..];
            return Ok(value);
        }
    }
    Err(Error::Corrupted("varint truncated".into()))
}

/// Appends a varint length followed by the bytes.
pub fn encode_compact_bytes(out: &mut Vec<u8>, data: &[u8]) {
    encode_var_u64(out, data.len() as u64);
    out.extend_from_slice(data);
}

/// Reads bytes written by `encode_compact_bytes`, rejecting lengths past the end of input.
pub fn decode_compact_bytes<'a>(input: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = decode_var_u64(input)?;
    if len > input.len() as u64 {
        return Err(Error::Corrupted(format!(
            "length {len} exceeds the {} bytes left",
            input.len()
        )));
    }
    let (data, rest) = input.split_at(len as usize);
    *input = rest;
    Ok(data)
}

/// Reads one byte from the front of `input`.
pub fn decode_u8(input: &mut &[u8]) -> Result<u8> {
    let (&first, rest) = input
        .split_first()
        .ok_or_else(|| Error::Corrupted("byte expected, input ended".into()))?;
    *input = rest;
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    // Golden vectors: TiDB's codec tests (util/codec/bytes_test.go) list these encodings.
    #[test]
    fn encode_bytes_golden() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"", &[0, 0, 0, 0, 0, 0, 0, 0, 0xF7]),
            (&[1, 2, 3], &[1, 2, 3, 0, 0, 0, 0, 0, 0xFA]),
            (&[1, 2, 3, 0], &[1, 2, 3, 0, 0, 0, 0, 0, 0xFB]),
            (
                &[1, 2, 3, 4, 5, 6, 7, 8],
                &[1, 2, 3, 4, 5, 6, 7, 8, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0xF7],
            ),
        ];
        for (input, want) in cases {
            let mut out = Vec::new();
            encode_bytes(&mut out, input);
            assert_eq!(&out[..], *want, "input {input:?}");
            assert_eq!(out.len(), encoded_bytes_len(input.len()));
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode_bytes(&[1, 2, 3]).is_err());
        assert!(decode_bytes(&[1, 2, 3, 0, 0, 0, 0, 0, 0x00]).is_err());
        assert!(decode_bytes(&[1, 2, 3, 0, 0, 0, 0, 9, 0xFA]).is_err());
        assert!(decode_var_u64(&mut &[0x80u8, 0x80][..]).is_err());
        assert!(decode_var_u64(&mut &[0xFFu8; 11][..]).is_err());
        assert!(decode_compact_bytes(&mut &[0x05u8, 1, 2][..]).is_err());
        assert!(decode_ts_desc(&[1, 2]).is_err());
    }

    proptest! {
        #[test]
        fn bytes_round_trip(data in proptest::collection::vec(any::<u8>(), 0..64), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut out = Vec::new();
            encode_bytes(&mut out, &data);
            out.extend_from_slice(&tail);
            let (decoded, rest) = decode_bytes(&out).unwrap();
            prop_assert_eq!(decoded, data);
            prop_assert_eq!(rest, &tail[..]);
        }

        #[test]
        fn bytes_preserve_order(a in proptest::collection::vec(any::<u8>(), 0..24), b in proptest::collection::vec(any::<u8>(), 0..24)) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            encode_bytes(&mut ea, &a);
            encode_bytes(&mut eb, &b);
            prop_assert_eq!(a.cmp(&b), ea.cmp(&eb));
        }

        #[test]
        fn decoders_never_panic(data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = decode_bytes(&data);
            let mut input = &data[..];
            let _ = decode_var_u64(&mut input);
            let mut input = &data[..];
            let _ = decode_compact_bytes(&mut input);
        }

        #[test]
        fn varint_round_trip(value in any::<u64>()) {
            let mut out = Vec::new();
            encode_var_u64(&mut out, value);
            let mut input = &out[..];
            prop_assert_eq!(decode_var_u64(&mut input).unwrap(), value);
            prop_assert!(input.is_empty());
        }

        #[test]
        fn ts_desc_orders_newest_first(a in any::<u64>(), b in any::<u64>()) {
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            encode_ts_desc(&mut ea, a);
            encode_ts_desc(&mut eb, b);
            prop_assert_eq!(a.cmp(&b), eb.cmp(&ea));
            prop_assert_eq!(decode_ts_desc(&ea).unwrap(), a);
        }
    }
}
