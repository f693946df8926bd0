//! Timings and the Markdown tables.

use std::time::{Duration, Instant};

/// Wall times of repeated runs.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub times: Vec<Duration>,
}

impl Samples {
    /// Runs `f` `runs` times (once more before, untimed, to warm caches) and keeps the last
    /// result.
    pub fn measure<T>(
        runs: usize,
        mut f: impl FnMut() -> Result<T, String>,
    ) -> Result<(Samples, T), String> {
        let mut last = f()?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs.max(1) {
            let started = Instant::now();
            last = std::hint::black_box(f()?);
            times.push(started.elapsed());
        }
        Ok((Samples { times }, last))
    }

    fn sorted(&self) -> Vec<Duration> {
        let mut times = self.times.clone();
        times.sort();
        times
    }

    /// The median time.
    pub fn median(&self) -> Duration {
        let times = self.sorted();
        match times.len() {
            0 => Duration::ZERO,
            n if n % 2 == 1 => times[n / 2],
            n => (times[n / 2 - 1] + times[n / 2]) / 2,
        }
    }

    /// Rows per second at the median, the fastest and the slowest run.
    pub fn rates(&self, rows: u64) -> (f64, f64, f64) {
        let times = self.sorted();
        let rate =
            |d: Option<&Duration>| d.map_or(0.0, |d| rows as f64 / d.as_secs_f64().max(1e-9));
        (
            rows as f64 / self.median().as_secs_f64().max(1e-9),
            rate(times.first()),
            rate(times.last()),
        )
    }
}

/// Millions of rows per second with the spread: `12.3 [11.9–12.8]`.
pub fn mrows(samples: &Samples, rows: u64) -> String {
    let (median, fastest, slowest) = samples.rates(rows);
    format!(
        "{:.2} [{:.2}–{:.2}]",
        median / 1e6,
        slowest / 1e6,
        fastest / 1e6
    )
}

/// `a / b` as a ratio, or a dash.
pub fn ratio(a: f64, b: f64) -> String {
    if a > 0.0 && b > 0.0 {
        format!("{:.2}", a / b)
    } else {
        "–".into()
    }
}

/// Bytes as MiB.
pub fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("–".into(), |b| {
        format!("{:.0}", b as f64 / (1 << 20) as f64)
    })
}

/// A Markdown table from a header and rows.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n", header.join(" | "));
    out.push_str(&format!("|{}\n", "---|".repeat(header.len())));
    for row in rows {
        out.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_rates_come_from_the_samples() {
        let samples = Samples {
            times: vec![
                Duration::from_secs(3),
                Duration::from_secs(1),
                Duration::from_secs(2),
            ],
        };
        assert_eq!(samples.median(), Duration::from_secs(2));
        let (median, fastest, slowest) = samples.rates(6);
        assert_eq!((median, fastest, slowest), (3.0, 6.0, 2.0));
        assert_eq!(ratio(1.0, 4.0), "0.25");
        assert_eq!(ratio(1.0, 0.0), "–");
        let text = table(&["a", "b"], &[vec!["1".into(), "2".into()]]);
        assert_eq!(text, "| a | b |\n|---|---|\n| 1 | 2 |\n");
    }
}
