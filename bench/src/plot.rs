//! The scaling plot: query time against TPC-H scale factor on log-log axes, one line per series,
//! drawn with `plotters` into a PNG.
//!
//! Text is rendered with `ab_glyph` from a TrueType file read at run time (DejaVu Sans where it
//! is installed, else the first `.ttf` under `/usr/share/fonts`), so no system font library is
//! needed to build or run.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;

/// The font file tried first.
const PREFERRED_FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
/// Where to look for any other TrueType font.
const FONT_ROOT: &str = "/usr/share/fonts";
/// The family the font is registered under: plotters' default for every text it draws.
const FONT_FAMILY: &str = "sans-serif";
/// Size of the PNG in pixels.
const SIZE: (u32, u32) = (1024, 640);
/// Line colors, reused in turn: the "Tableau 10" palette, distinguishable on white.
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// One line of the plot: a label and (scale factor, seconds) points.
pub struct Series {
    /// Shown in the legend.
    pub label: String,
    /// (TPC-H scale factor, seconds) pairs, in the order they are joined by the line.
    pub points: Vec<(f64, f64)>,
}

/// Draws query time against TPC-H scale factor, log-log axes, one line with markers per series,
/// a legend, axis titles ("TPC-H scale factor", "seconds (median)") and `title`; writes a PNG
/// (1024x640) to `path`.
///
/// Points with a non-positive coordinate cannot sit on a log axis: they are skipped with a
/// warning on stderr. It is an error when no point is left to draw.
pub fn scaling_png(path: &Path, title: &str, series: &[Series]) -> Result<(), String> {
    let lines = plottable(series);
    if lines.is_empty() {
        return Err("nothing to plot: no series with a positive point".into());
    }
    register_font()?;
    draw(path, title, &lines).map_err(|err| format!("drawing {}: {err}", path.display()))
}

/// The series with their non-positive points removed; series left without points are dropped.
fn plottable(series: &[Series]) -> Vec<Series> {
    series
        .iter()
        .filter_map(|one| {
            let (points, skipped): (Vec<_>, Vec<_>) = one
                .points
                .iter()
                .partition(|(scale, seconds)| *scale > 0.0 && *seconds > 0.0);
            if !skipped.is_empty() {
                eprintln!(
                    "warning: plot series {:?}: skipping {} point(s) that a log axis cannot show: {skipped:?}",
                    one.label,
                    skipped.len()
                );
            }
            (!points.is_empty()).then(|| Series {
                label: one.label.clone(),
                points,
            })
        })
        .collect()
}

/// A log axis range holding every value of `values` (all positive, at least one) with some room
/// on both sides; a single value gets a decade around it.
fn log_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (low, high) = values.fold((f64::MAX, f64::MIN), |(low, high), value| {
        (low.min(value), high.max(value))
    });
    if low == high {
        return low / 3.0..high * 3.0;
    }
    low / 1.5..high * 1.5
}

fn draw(path: &Path, title: &str, lines: &[Series]) -> Result<(), Box<dyn std::error::Error>> {
    let points = || lines.iter().flat_map(|line| line.points.iter());
    let x_range = log_range(points().map(|(scale, _)| *scale));
    let y_range = log_range(points().map(|(_, seconds)| *seconds));

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT_FAMILY, 28))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x_range.log_scale(), y_range.log_scale())?;
    chart
        .configure_mesh()
        .x_desc("TPC-H scale factor")
        .y_desc("seconds (median)")
        .x_label_formatter(&|v| short_number(*v))
        .y_label_formatter(&|v| short_number(*v))
        .label_style((FONT_FAMILY, 16))
        .axis_desc_style((FONT_FAMILY, 18))
        .draw()?;
    for (index, line) in lines.iter().enumerate() {
        let color = COLORS[index % COLORS.len()];
        chart
            .draw_series(
                LineSeries::new(line.points.iter().copied(), color.stroke_width(2)).point_size(5),
            )?
            .label(line.label.as_str())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3)));
    }
    chart
        .configure_series_labels()
        .label_font((FONT_FAMILY, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    root.present()?;
    Ok(())
}

/// Registers a TrueType font as `FONT_FAMILY` once per process; later calls return the first
/// call's outcome.
fn register_font() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            let path = font_file().ok_or_else(|| {
                format!("no TrueType font: neither {PREFERRED_FONT} nor any .ttf under {FONT_ROOT} (install fonts-dejavu-core)")
            })?;
            let bytes = std::fs::read(&path)
                .map_err(|err| format!("reading font {}: {err}", path.display()))?;
            // plotters keeps the font for the life of the process; this runs once.
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, bytes)
                .map_err(|_| format!("{} is not a usable TrueType font", path.display()))
        })
        .clone()
}

/// The preferred font if present, else the first `.ttf` (in path order) under `FONT_ROOT`.
fn font_file() -> Option<PathBuf> {
    let preferred = PathBuf::from(PREFERRED_FONT);
    if preferred.is_file() {
        return Some(preferred);
    }
    first_ttf(Path::new(FONT_ROOT))
}

fn first_ttf(dir: &Path) -> Option<PathBuf> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    entries.sort();
    entries.into_iter().find_map(|path| {
        if path.is_dir() {
            first_ttf(&path)
        } else {
            let is_ttf = path
                .extension()
                .is_some_and(|ext| ext.eq_ignore_ascii_case("ttf"));
            is_ttf.then_some(path)
        }
    })
}

/// An axis label: at most four significant digits, no trailing zeros.
fn short_number(value: f64) -> String {
    let text = format!("{value:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if value != 0.0 && (text.is_empty() || text == "0" || text == "-0") {
        format!("{value:.1e}")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

    fn series(label: &str, points: &[(f64, f64)]) -> Series {
        Series {
            label: label.into(),
            points: points.to_vec(),
        }
    }

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("scaling.png");
        let input = [
            series("basalt", &[(0.1, 0.05), (1.0, 0.4), (10.0, 3.9)]),
            series("duckdb", &[(0.1, 0.01), (1.0, 0.08), (10.0, -1.0)]),
            series("one point", &[(1.0, 2.0)]),
        ];
        scaling_png(&path, "TPC-H Q1", &input).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(PNG_SIGNATURE));
        assert!(bytes.len() > 8 * 1024, "only {} bytes", bytes.len());
    }

    #[test]
    fn axis_labels_are_short() {
        assert_eq!(short_number(0.6000000000001), "0.6");
        assert_eq!(short_number(3.0), "3");
        assert_eq!(short_number(0.0001), "0.0001");
        assert_eq!(short_number(0.00001), "1.0e-5");
    }

    #[test]
    fn nothing_to_plot_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.png");
        assert!(scaling_png(&path, "empty", &[]).is_err());
        let only_bad = [series("bad", &[(0.0, 1.0), (1.0, 0.0)])];
        assert!(scaling_png(&path, "bad", &only_bad).is_err());
        assert!(!path.exists());
    }

    #[test]
    fn non_positive_points_are_dropped() {
        let kept = plottable(&[
            series("a", &[(1.0, 1.0), (-1.0, 2.0), (2.0, 0.0)]),
            series("b", &[(0.0, 0.0)]),
        ]);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].points, vec![(1.0, 1.0)]);
    }

    #[test]
    fn log_range_has_room_around_the_data() {
        let range = log_range([2.0, 8.0].into_iter());
        assert!(range.start < 2.0 && range.end > 8.0);
        let single = log_range([5.0].into_iter());
        assert!(single.start < 5.0 && single.end > 5.0);
    }
}
