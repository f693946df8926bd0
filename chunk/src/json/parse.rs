//! JSON text to binary JSON, with `simd-json` doing the tokenizing and unescaping.
//!
//! TiDB parses with Go's `encoding/json` (`UseNumber`) and then `CreateBinaryJSONWithCheck`. To
//! get the same answers from `simd-json` the text is first copied with two rewrites:
//!
//! * an escaped lone UTF-16 surrogate (`\uD800` not followed by a low surrogate escape, or a lone
//!   `\uDC00`) becomes `\uFFFD`, which Go substitutes and `simd-json` would reject;
//! * an integer literal outside `i64`/`u64`, and any float literal of 18 or more characters, is
//!   replaced by the shortest text of its correctly rounded double (see `rewrite_number`).
//!
//! The same pass counts bracket nesting and refuses more than Go's decoder limit of 10000 levels.
//! The tape is then walked; of duplicate keys only the last value is visited (Go's map keeps the
//! last), and the depth limit is applied to what is kept, as TiDB checks after building.

use simd_json::{Node, StaticNode};

use super::build::{put_uvarint, sort_dedup_last, Container};
use super::decode::{too_deep, MAX_DEPTH};
use super::{Json, JsonType, LITERAL_FALSE, LITERAL_NULL, LITERAL_TRUE};
use crate::error::{Error, Result};

/// Go's `encoding/json` scanner refuses deeper bracket nesting than this.
const GO_MAX_NESTING: usize = 10_000;

fn parse_error(text: &str) -> Error {
    const MAX: usize = 256;
    let mut end = text.len().min(MAX);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Error::parse("JSON text", &text[..end])
}

pub(super) fn parse(text: &str) -> Result<Json> {
    if text.trim_matches([' ', '\t', '\n', '\r']).is_empty() {
        return Err(parse_error(text));
    }
    let mut buf = prepare(text.as_bytes())?;
    let tape = simd_json::to_tape(&mut buf).map_err(|_| parse_error(text))?;
    let nodes = &tape.0;
    let mut out = Vec::with_capacity(text.len());
    let (type_code, next) = encode(nodes, 0, 1, &mut out)?;
    if next != nodes.len() {
        return Err(parse_error(text));
    }
    Ok(Json {
        type_code,
        value: out,
    })
}

fn hex4(input: &[u8], at: usize) -> Option<u32> {
    let digits = input.get(at..at.checked_add(4)?)?;
    let mut v = 0u32;
    for &d in digits {
        v = v * 16 + (d as char).to_digit(16)?;
    }
    Some(v)
}

/// Whether `tok` matches JSON's number grammar `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(tok: &[u8]) -> bool {
    fn digits(t: &[u8], i: &mut usize) -> usize {
        let start = *i;
        while t.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    }
    let mut i = usize::from(tok.first() == Some(&b'-'));
    match tok.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(tok, &mut i);
        }
        _ => return false,
    }
    if tok.get(i) == Some(&b'.') {
        i += 1;
        if digits(tok, &mut i) == 0 {
            return false;
        }
    }
    if matches!(tok.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(tok.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(tok, &mut i) == 0 {
            return false;
        }
    }
    i == tok.len()
}

/// A replacement for a number token, or `None` to keep it:
///
/// * an integer outside `i64` (negative) / `u64` (non-negative) becomes a double, as Go's
///   `ParseFloat` fallback does (`simd-json` would reject it);
/// * a long float is rewritten in its shortest form, because `simd-json` 0.15.1 mis-parses
///   floats of 19 or more digits that start past the first ~50 bytes of the input (its
///   `parse_number` confuses a byte with an index when counting leading zeros).
///
/// Both use Rust's correctly rounded `f64` parsing, which agrees with Go's `ParseFloat`. Values
/// that overflow to infinity become `1e400`, which `simd-json` rejects, as TiDB errors.
fn rewrite_number(tok: &[u8]) -> Option<String> {
    if !is_json_number(tok) {
        return None;
    }
    // ASCII only after the grammar check.
    let s = std::str::from_utf8(tok).ok()?;
    let is_int = !tok.iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
    if is_int {
        let fits = if tok[0] == b'-' {
            s.parse::<i64>().is_ok()
        } else {
            s.parse::<u64>().is_ok()
        };
        if fits {
            return None;
        }
    } else if tok.len() < 18 {
        return None;
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(format!("{f:e}")),
        // Overflow: hand simd-json a short literal it reliably rejects (TiDB errors too).
        _ => Some("1e400".to_string()),
    }
}

/// Copies the text for `simd-json`, applying the rewrites described in the module docs.
fn prepare(input: &[u8]) -> Result<Vec<u8>> {
    let n = input.len();
    let mut out = Vec::with_capacity(n + 16);
    let mut nesting = 0usize;
    let mut i = 0;
    while i < n {
        let b = input[i];
        match b {
            b'"' => {
                out.push(b);
                i += 1;
                while i < n {
                    let c = input[i];
                    if c == b'"' {
                        out.push(c);
                        i += 1;
                        break;
                    }
                    if c != b'\\' {
                        out.push(c);
                        i += 1;
                        continue;
                    }
                    if input.get(i + 1) == Some(&b'u') {
                        if let Some(u) = hex4(input, i + 2) {
                            if (0xD800..0xDC00).contains(&u) {
                                let paired = input.get(i + 6) == Some(&b'\\')
                                    && input.get(i + 7) == Some(&b'u')
                                    && hex4(input, i + 8)
                                        .is_some_and(|l| (0xDC00..0xE000).contains(&l));
                                if paired {
                                    out.extend_from_slice(&input[i..i + 12]);
                                    i += 12;
                                } else {
                                    out.extend_from_slice(b"\\uFFFD");
                                    i += 6;
                                }
                                continue;
                            }
                            if (0xDC00..0xE000).contains(&u) {
                                out.extend_from_slice(b"\\uFFFD");
                                i += 6;
                                continue;
                            }
                        }
                    }
                    // Any other escape: copy the backslash and the escaped byte as they are.
                    out.push(c);
                    if let Some(&e) = input.get(i + 1) {
                        out.push(e);
                    }
                    i += 2;
                }
            }
            b'[' | b'{' => {
                nesting += 1;
                if nesting > GO_MAX_NESTING {
                    return Err(too_deep());
                }
                out.push(b);
                i += 1;
            }
            b']' | b'}' => {
                nesting = nesting.saturating_sub(1);
                out.push(b);
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let mut j = i;
                while j < n && matches!(input[j], b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                    j += 1;
                }
                let tok = &input[i..j];
                match rewrite_number(tok) {
                    Some(short) => out.extend_from_slice(short.as_bytes()),
                    None => out.extend_from_slice(tok),
                }
                i = j;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn node_span(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

fn bad_tape() -> Error {
    Error::corrupted("JSON tape", "unexpected node layout")
}

/// Appends the value of the tape node at `i` (nesting `level`, root 1) and returns its type and
/// the index after its subtree.
fn encode(
    nodes: &[Node<'_>],
    i: usize,
    level: usize,
    out: &mut Vec<u8>,
) -> Result<(JsonType, usize)> {
    if level > MAX_DEPTH + 1 {
        return Err(too_deep());
    }
    let node = nodes.get(i).ok_or_else(bad_tape)?;
    let ty = match node {
        Node::Static(s) => match *s {
            StaticNode::Null => {
                out.push(LITERAL_NULL);
                JsonType::Literal
            }
            StaticNode::Bool(b) => {
                out.push(if b { LITERAL_TRUE } else { LITERAL_FALSE });
                JsonType::Literal
            }
            StaticNode::I64(v) => {
                out.extend_from_slice(&v.to_le_bytes());
                JsonType::I64
            }
            StaticNode::U64(v) => {
                out.extend_from_slice(&v.to_le_bytes());
                if i64::try_from(v).is_ok() {
                    JsonType::I64
                } else {
                    JsonType::U64
                }
            }
            StaticNode::F64(f) => {
                #[allow(clippy::useless_conversion)]
                let f: f64 = f.into();
                if !f.is_finite() {
                    return Err(Error::overflow("JSON number", f));
                }
                out.extend_from_slice(&f.to_bits().to_le_bytes());
                JsonType::Double
            }
            #[allow(unreachable_patterns)]
            _ => return Err(Error::Unsupported("128-bit JSON integer".into())),
        },
        Node::String(s) => {
            put_uvarint(out, s.len() as u64);
            out.extend_from_slice(s.as_bytes());
            JsonType::String
        }
        Node::Array { len, .. } => {
            let c = Container::start(out, *len, false)?;
            let mut j = i + 1;
            for k in 0..*len {
                let start = out.len();
                let (child_ty, next) = encode(nodes, j, level + 1, out)?;
                c.finish_child(out, k, child_ty, start)?;
                j = next;
            }
            c.end(out)?;
            JsonType::Array
        }
        Node::Object { len, .. } => {
            let mut entries = Vec::with_capacity(*len);
            let mut j = i + 1;
            for _ in 0..*len {
                let key = match nodes.get(j) {
                    Some(Node::String(k)) => *k,
                    _ => return Err(bad_tape()),
                };
                let value_at = j + 1;
                j = value_at + node_span(nodes.get(value_at).ok_or_else(bad_tape)?);
                entries.push((key, value_at));
            }
            let entries = sort_dedup_last(entries);
            let c = Container::start(out, entries.len(), true)?;
            for (k, (key, _)) in entries.iter().enumerate() {
                c.put_key(out, k, key.as_bytes())?;
            }
            for (k, &(_, at)) in entries.iter().enumerate() {
                let start = out.len();
                let (child_ty, _) = encode(nodes, at, level + 1, out)?;
                c.finish_child(out, k, child_ty, start)?;
            }
            c.end(out)?;
            JsonType::Object
        }
    };
    Ok((ty, i + node_span(node)))
}
