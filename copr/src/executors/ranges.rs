//! Reading a scan's key ranges a batch at a time, in order (reversed for descending scans),
//! resuming each range after the last key returned.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::error::Result;
use crate::source::{RowKey, ScanSource};

/// Where a paged scan stopped: the part of the key space it covered, `[start, end)`, so the
/// client can resume after it (`coprocessor.Response.range`). `None` while the scan finished.
pub type PageProgress = Arc<Mutex<Option<(Vec<u8>, Vec<u8>)>>>;

/// How many rows a page may read and where to report its end (`None`: no paging).
pub type Paging = Option<(u64, PageProgress)>;

/// The ranges a scan still has to read.
pub struct RangeCursor {
    ranges: VecDeque<(Vec<u8>, Vec<u8>)>,
    desc: bool,
    /// Rows this page may still read (None: unlimited).
    budget: Option<usize>,
    /// The outer bound of the first range read (its start going up, its end going down).
    origin: Vec<u8>,
    progress: Option<PageProgress>,
    /// Whether the range in front is being read (`ScanSource::begin_scan` called for it).
    begun: bool,
}

impl RangeCursor {
    /// Reads `ranges` (ascending) forwards, or from the last one backwards when `desc`; with
    /// `paging`, stops after that many rows (0: no limit) and reports where.
    pub fn new(ranges: Vec<(Vec<u8>, Vec<u8>)>, desc: bool, paging: Paging) -> Self {
        let mut ranges: VecDeque<_> = ranges.into();
        if desc {
            ranges = ranges.into_iter().rev().collect();
        }
        let origin = match ranges.front() {
            Some((start, _)) if !desc => start.clone(),
            Some((_, end)) => end.clone(),
            None => Vec::new(),
        };
        let (budget, progress) = match paging {
            Some((rows, progress)) if rows > 0 => (
                Some(usize::try_from(rows).unwrap_or(usize::MAX)),
                Some(progress),
            ),
            _ => (None, None),
        };
        RangeCursor {
            ranges,
            desc,
            budget,
            origin,
            progress,
            begun: false,
        }
    }

    /// Whether every range has been read, or the page is full.
    pub fn is_drained(&self) -> bool {
        self.ranges.is_empty() || self.budget == Some(0)
    }

    fn record_page_end(&self) {
        let (Some(progress), Some((lower, upper))) = (&self.progress, self.ranges.front()) else {
            return;
        };
        let covered = if self.desc {
            (upper.clone(), self.origin.clone())
        } else {
            (self.origin.clone(), lower.clone())
        };
        if let Ok(mut slot) = progress.lock() {
            *slot = Some(covered);
        }
    }

    /// Up to `limit` pairs from `source`, collected.
    pub fn read<S: ScanSource>(
        &mut self,
        source: &mut S,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut pairs = Vec::new();
        let mut buf = Vec::new();
        self.read_each(source, limit, |key, value| {
            pairs.push((key.user_key(&mut buf)?.to_vec(), value.to_vec()));
            Ok(())
        })?;
        Ok(pairs)
    }

    /// Hands up to `limit` pairs from `source` to `visit`; answers how many. The scan of the
    /// range in front stays open in `source` from one call to the next.
    pub fn read_each<S, F>(&mut self, source: &mut S, limit: usize, mut visit: F) -> Result<usize>
    where
        S: ScanSource,
        F: FnMut(RowKey<'_>, &[u8]) -> Result<()>,
    {
        let limit = self.budget.map_or(limit, |budget| limit.min(budget));
        let mut read = 0;
        let mut last = Vec::new();
        while read < limit {
            let Some((lower, upper)) = self.ranges.front_mut() else {
                break;
            };
            if !self.begun {
                source.begin_scan(lower, upper, self.desc)?;
                self.begun = true;
            }
            let want = limit - read;
            // Only a range that yields all `want` rows goes on: its last key is kept, so a
            // page that ends here can say where it stopped.
            let mut seen = 0;
            let got = source.scan_next(want, |key, value| {
                seen += 1;
                if seen == want {
                    let mut buf = Vec::new();
                    let user_key = key.user_key(&mut buf)?;
                    last.clear();
                    last.extend_from_slice(user_key);
                }
                visit(key, value)
            })?;
            if got == want {
                // The rest of the range: just above the last key going up, below it going down.
                if self.desc {
                    upper.clone_from(&last);
                } else {
                    lower.clone_from(&last);
                    lower.push(0);
                }
            }
            read += got;
            if got < want {
                self.ranges.pop_front();
                self.begun = false;
            }
        }
        if let Some(budget) = self.budget.as_mut() {
            *budget = budget.saturating_sub(read);
            if *budget == 0 && !self.ranges.is_empty() {
                self.record_page_end();
            }
        }
        Ok(read)
    }
}
