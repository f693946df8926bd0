//! Reading a scan's key ranges a batch at a time, in order (reversed for descending scans),
//! resuming each range after the last key returned.

use std::collections::VecDeque;

use crate::error::Result;
use crate::source::ScanSource;

/// The ranges a scan still has to read.
pub struct RangeCursor {
    ranges: VecDeque<(Vec<u8>, Vec<u8>)>,
    desc: bool,
}

impl RangeCursor {
    /// Reads `ranges` (ascending) forwards, or from the last one backwards when `desc`.
    pub fn new(ranges: Vec<(Vec<u8>, Vec<u8>)>, desc: bool) -> Self {
        let mut ranges: VecDeque<_> = ranges.into();
        if desc {
            ranges = ranges.into_iter().rev().collect();
        }
        RangeCursor { ranges, desc }
    }

    /// Whether every range has been read.
    pub fn is_drained(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Up to `limit` pairs from `source`.
    pub fn read<S: ScanSource>(
        &mut self,
        source: &mut S,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut pairs = Vec::new();
        while pairs.len() < limit {
            let Some((lower, upper)) = self.ranges.front_mut() else {
                break;
            };
            let want = limit - pairs.len();
            let got = source.scan(lower, upper, self.desc, want)?;
            let exhausted = got.len() < want;
            if let Some((last, _)) = got.last() {
                // Resume after the last key: just above it going up, at it (exclusive) going down.
                if self.desc {
                    *upper = last.clone();
                } else {
                    let mut next = last.clone();
                    next.push(0);
                    *lower = next;
                }
            }
            pairs.extend(got);
            if exhausted {
                self.ranges.pop_front();
            }
        }
        Ok(pairs)
    }
}
