//! Memcomparable bytes, the form PD and the stores keep transactional region boundaries in:
//! 8-byte groups, each followed by a marker byte `0xFF - padding`. The client speaks user keys
//! and converts at the PD boundary only.

use crate::error::{Error, Result};

const GROUP: usize = 8;
const MARKER: u8 = 0xFF;

/// The memcomparable encoding of `data`.
pub(crate) fn encode_bytes(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity((data.len() / GROUP + 1) * (GROUP + 1));
    let mut index = 0;
    loop {
        let remain = data.len() - index;
        if remain >= GROUP {
            out.extend_from_slice(&data[index..index + GROUP]);
            out.push(MARKER);
            index += GROUP;
        } else {
            let padding = GROUP - remain;
            out.extend_from_slice(&data[index..]);
            out.resize(out.len() + padding, 0);
            // `padding` is at most 8, so the subtraction cannot underflow.
            out.push(MARKER - padding as u8);
            return out;
        }
    }
}

/// Decodes one memcomparable byte string from the front of `input`; anything after it (a
/// timestamp suffix) is ignored.
pub(crate) fn decode_bytes(input: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / (GROUP + 1) * GROUP);
    let mut rest = input;
    loop {
        if rest.len() < GROUP + 1 {
            return Err(Error::Other(format!(
                "memcomparable key truncated: {}",
                rest.escape_ascii()
            )));
        }
        let (group, tail) = rest.split_at(GROUP + 1);
        let marker = group[GROUP];
        let padding = usize::from(MARKER - marker);
        if padding > GROUP {
            return Err(Error::Other(format!(
                "memcomparable marker {marker:#x} is invalid"
            )));
        }
        let real = GROUP - padding;
        out.extend_from_slice(&group[..real]);
        if padding > 0 {
            if group[real..GROUP].iter().any(|&byte| byte != 0) {
                return Err(Error::Other("memcomparable padding is not zero".into()));
            }
            return Ok(out);
        }
        rest = tail;
    }
}

/// Decodes a region boundary; an empty boundary (unbounded) stays empty.
pub(crate) fn decode_boundary(key: &[u8]) -> Result<Vec<u8>> {
    if key.is_empty() {
        Ok(Vec::new())
    } else {
        decode_bytes(key)
    }
}

/// Encodes a user key for a PD lookup; an empty key (unbounded) stays empty.
pub(crate) fn encode_boundary(key: &[u8]) -> Vec<u8> {
    if key.is_empty() {
        Vec::new()
    } else {
        encode_bytes(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Golden vectors: the examples in the comment on TiDB's `EncodeBytes`
    /// (`util/codec/bytes.go`), also listed by `storage`'s codec tests.
    #[test]
    fn golden() {
        assert_eq!(encode_bytes(b""), vec![0, 0, 0, 0, 0, 0, 0, 0, 0xF7]);
        assert_eq!(encode_bytes(&[1, 2, 3]), vec![1, 2, 3, 0, 0, 0, 0, 0, 0xFA]);
        assert_eq!(
            encode_bytes(&[1, 2, 3, 0]),
            vec![1, 2, 3, 0, 0, 0, 0, 0, 0xFB]
        );
        assert_eq!(
            encode_bytes(&[1, 2, 3, 4, 5, 6, 7, 8]),
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0xF7]
        );
    }

    #[test]
    fn round_trip_and_order() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![0, 0],
            b"x\0\0\0".to_vec(),
            b"x\0\0\x01".to_vec(),
            b"abcdefgh".to_vec(),
            b"abcdefghi".to_vec(),
            vec![0xFF; 17],
        ];
        for key in &keys {
            assert_eq!(&decode_bytes(&encode_bytes(key)).unwrap(), key);
        }
        for a in &keys {
            for b in &keys {
                assert_eq!(
                    a.cmp(b),
                    encode_bytes(a).cmp(&encode_bytes(b)),
                    "{a:?} {b:?}"
                );
            }
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(decode_bytes(&[1, 2, 3]).is_err());
        assert!(decode_bytes(&[1, 2, 3, 0, 0, 0, 0, 0, 0x00]).is_err());
        assert!(decode_bytes(&[1, 2, 3, 0, 0, 0, 0, 9, 0xFA]).is_err());
    }
}
