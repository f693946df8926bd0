//! MySQL ENUM and SET values: an ENUM is the 1-based index of one member name (0 is the empty
//! "error" value MySQL stores for invalid input in non-strict mode); a SET is a bit set over at
//! most 64 member names, printed as the chosen names joined by commas in definition order.

use crate::error::{Error, Result};

/// An ENUM value: its index and member name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Enum {
    /// 1-based member index; 0 for the empty error value.
    pub value: u64,
    /// The member name (empty for 0).
    pub name: String,
}

impl Enum {
    /// The value with index `value` among `elems`.
    pub fn from_value(value: u64, elems: &[String]) -> Result<Enum> {
        if value == 0 {
            return Ok(Enum {
                value,
                name: String::new(),
            });
        }
        let name = usize::try_from(value - 1)
            .ok()
            .and_then(|index| elems.get(index))
            .ok_or_else(|| Error::overflow("ENUM", value))?;
        Ok(Enum {
            value,
            name: name.clone(),
        })
    }

    /// The member named `name`; matching ignores ASCII case and trailing spaces, as MySQL's
    /// default collations do for ENUM members.
    pub fn from_name(name: &str, elems: &[String]) -> Result<Enum> {
        let wanted = name.trim_end_matches(' ');
        elems
            .iter()
            .position(|elem| elem.trim_end_matches(' ').eq_ignore_ascii_case(wanted))
            .map(|index| Enum {
                value: index as u64 + 1,
                name: elems[index].clone(),
            })
            .ok_or_else(|| Error::parse("ENUM", name))
    }
}

/// A SET value: its bit set and the chosen names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Set {
    /// Bit i selects member i.
    pub bits: u64,
    /// The chosen names joined by commas, in definition order.
    pub names: String,
}

impl Set {
    /// The value with bit set `bits` over `elems`.
    pub fn from_bits(bits: u64, elems: &[String]) -> Result<Set> {
        if elems.len() > 64 {
            return Err(Error::overflow("SET members", elems.len()));
        }
        if elems.len() < 64 && bits >> elems.len() != 0 {
            return Err(Error::overflow("SET", bits));
        }
        let names: Vec<&str> = elems
            .iter()
            .enumerate()
            .filter(|(bit, _)| bits & (1 << bit) != 0)
            .map(|(_, name)| name.as_str())
            .collect();
        Ok(Set {
            bits,
            names: names.join(","),
        })
    }

    /// The value naming `text`'s comma-separated members (any order, duplicates allowed).
    pub fn from_names(text: &str, elems: &[String]) -> Result<Set> {
        let mut bits = 0u64;
        if !text.is_empty() {
            for part in text.split(',') {
                let member = Enum::from_name(part, elems).map_err(|_| Error::parse("SET", text))?;
                bits |= 1 << (member.value - 1);
            }
        }
        Set::from_bits(bits, elems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn elems() -> Vec<String> {
        ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn enums_by_value_and_name() {
        assert_eq!(Enum::from_value(2, &elems()).unwrap().name, "b");
        assert_eq!(Enum::from_value(0, &elems()).unwrap().name, "");
        assert!(Enum::from_value(4, &elems()).is_err());
        assert_eq!(Enum::from_name("C ", &elems()).unwrap().value, 3);
        assert!(Enum::from_name("d", &elems()).is_err());
    }

    #[test]
    fn sets_by_bits_and_names() {
        assert_eq!(Set::from_bits(0b101, &elems()).unwrap().names, "a,c");
        assert!(Set::from_bits(0b1000, &elems()).is_err());
        assert_eq!(Set::from_names("c,a,a", &elems()).unwrap().bits, 0b101);
        assert_eq!(Set::from_names("", &elems()).unwrap().bits, 0);
        assert!(Set::from_names("a,z", &elems()).is_err());
    }
}
