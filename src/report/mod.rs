//! The `evaluate` report: plots of each variable before and after compression, a chart of the
//! compression ratios, and an HTML page that shows them with the metrics table.
//!
//! Every plot is written twice, as PNG (shown by the page) and SVG (linked from it). The text is
//! drawn with DejaVu Sans, which is bundled (`assets/DejaVuSans.ttf`), so the report renders the
//! same on machines without system fonts.
//!
//! ```no_run
//! use baler_arrow::report::{write_report, MethodRatio, ReportInput, VariablePlotData};
//!
//! let input = ReportInput {
//!     title: "jets.parquet vs jets.baler.parquet".to_owned(),
//!     variables: vec![VariablePlotData {
//!         name: "pt".to_owned(),
//!         original: vec![25.0, 40.0, 120.0],
//!         reconstructed: vec![25.5, 39.0, 121.0],
//!         response: vec![0.02, -0.025, 0.0083],
//!     }],
//!     methods: vec![MethodRatio { method: "baler".to_owned(), ratio: 3.0 }],
//!     table_header: vec!["variable".to_owned(), "relative RMS".to_owned()],
//!     table_rows: vec![vec!["pt".to_owned(), "0.012".to_owned()]],
//!     verdict: "pt is reconstructed within 2%".to_owned(),
//! };
//! let written = write_report("report".as_ref(), &input)?;
//! println!("{} files", written.len());
//! # Ok::<(), baler_arrow::Error>(())
//! ```

mod plots;

use std::collections::HashSet;
use std::fmt::{Display, Write as _};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use self::plots::{DistributionPlot, RatioPlot, ResponsePlot};
use crate::{Error, Result};

/// One variable's data for the plots (values may be a sample of the rows).
#[derive(Debug, Clone, Default)]
pub struct VariablePlotData {
    /// The column name; file names use it with characters other than `[A-Za-z0-9_-]` replaced.
    pub name: String,
    /// The values before compression.
    pub original: Vec<f64>,
    /// The values after decompression.
    pub reconstructed: Vec<f64>,
    /// (x̂ − x)/x for x ≠ 0
    pub response: Vec<f64>,
}

/// A compression method and its ratio R (bigger is better).
#[derive(Debug, Clone)]
pub struct MethodRatio {
    /// The method's label on the chart.
    pub method: String,
    /// Its compression ratio.
    pub ratio: f64,
}

/// Everything [`write_report`] shows.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    /// The page title, e.g. "jets.parquet vs jets.baler.parquet".
    pub title: String,
    /// One entry per variable, in the order they are shown.
    pub variables: Vec<VariablePlotData>,
    /// The compression ratios to compare.
    pub methods: Vec<MethodRatio>,
    /// Metrics table rows already formatted: header cells, then one row of cells per variable.
    pub table_header: Vec<String>,
    /// The table's rows, one per variable.
    pub table_rows: Vec<Vec<String>>,
    /// One or a few sentences that sum the evaluation up.
    pub verdict: String,
}

/// The size of every plot, in pixels.
const PLOT_SIZE: (u32, u32) = (1000, 700);
/// The font family the bundled font is registered under.
const FONT_FAMILY: &str = "sans-serif";
const FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Writes the report's plots and its `index.html` into `dir`.
///
/// `dir` is created if missing. For each variable it writes `<name>_distribution.{png,svg}`
/// (original and reconstructed histograms with the same bins; log y axis when the bin counts
/// span more than two decades) and `<name>_response.{png,svg}` (the response between its 1st
/// and 99th percentiles, with its mean and RMS over all the values given); then
/// `ratios.{png,svg}` (a bar per method) and `index.html` (title, verdict, metrics table and
/// every plot, as PNGs linked to the SVGs by relative paths, with no external resources).
/// `<name>` keeps `[A-Za-z0-9_-]` and replaces other characters by `_`; names that collide get
/// a suffix `_2`, `_3`, … Non-finite values are left out of the plots; empty or constant
/// variables still get (empty or one-bin) plots. Returns the paths written.
///
/// # Errors
///
/// [`Error::Write`] when the directory or a file cannot be written or a plot cannot be drawn.
///
/// # Example
///
/// See the [module documentation](self).
pub fn write_report(dir: &Path, input: &ReportInput) -> Result<Vec<PathBuf>> {
    register_bundled_font(dir)?;
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let stems = file_stems(input.variables.iter().map(|v| v.name.as_str()));
    let mut written = Vec::new();
    for (variable, stem) in input.variables.iter().zip(&stems) {
        let distribution = DistributionPlot::new(variable);
        write_plot(
            dir,
            &format!("{stem}_distribution"),
            &distribution,
            &mut written,
        )?;
        let response = ResponsePlot::new(variable);
        write_plot(dir, &format!("{stem}_response"), &response, &mut written)?;
    }
    write_plot(dir, "ratios", &RatioPlot(&input.methods), &mut written)?;
    let index = dir.join("index.html");
    std::fs::write(&index, index_html(input, &stems)).map_err(|source| Error::Write {
        path: index.clone(),
        source,
    })?;
    written.push(index);
    Ok(written)
}

/// Registers the bundled font with plotters, once per process.
fn register_bundled_font(dir: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(plot_error(
            dir,
            "the bundled font DejaVuSans.ttf cannot be loaded",
        ))
    }
}

fn plot_error(path: &Path, error: impl Display) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(error.to_string()),
    }
}

/// File name stems for the variables: `[A-Za-z0-9_-]` only, unique, never empty.
fn file_stems<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut used = HashSet::new();
    names
        .map(|name| {
            let mut base: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            if base.is_empty() {
                base = "variable".to_owned();
            }
            let mut stem = base.clone();
            let mut n = 2;
            while !used.insert(stem.clone()) {
                stem = format!("{base}_{n}");
                n += 1;
            }
            stem
        })
        .collect()
}

/// A plot that can be drawn on any plotters backend.
pub(crate) trait Plot {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB>;
}

/// Draws `plot` into `<stem>.png` and `<stem>.svg` in `dir`.
fn write_plot(dir: &Path, stem: &str, plot: &impl Plot, written: &mut Vec<PathBuf>) -> Result<()> {
    let png = dir.join(format!("{stem}.png"));
    draw_png(&png, plot)?;
    written.push(png);
    let svg = dir.join(format!("{stem}.svg"));
    draw_svg(&svg, plot)?;
    written.push(svg);
    Ok(())
}

fn draw_png(path: &Path, plot: &impl Plot) -> Result<()> {
    let root = BitMapBackend::new(path, PLOT_SIZE).into_drawing_area();
    plot.draw(&root)
        .and_then(|()| root.present())
        .map_err(|e| plot_error(path, e))
}

fn draw_svg(path: &Path, plot: &impl Plot) -> Result<()> {
    let root = SVGBackend::new(path, PLOT_SIZE).into_drawing_area();
    plot.draw(&root)
        .and_then(|()| root.present())
        .map_err(|e| plot_error(path, e))
}

/// The report page: plain HTML with inline CSS, images by relative path.
fn index_html(input: &ReportInput, stems: &[String]) -> String {
    let title = escape(&input.title);
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <p class=\"verdict\">{}</p>\n",
        escape(&input.verdict)
    );
    html.push_str("<h2>Metrics</h2>\n");
    html.push_str(&table_html(&input.table_header, &input.table_rows));
    html.push_str("<h2>Compression ratios</h2>\n");
    html.push_str(&figure_html("ratios", "compression ratio R per method"));
    html.push_str("<h2>Variables</h2>\n");
    for (variable, stem) in input.variables.iter().zip(stems) {
        let name = escape(&variable.name);
        let _ = write!(html, "<section>\n<h3>{name}</h3>\n<div class=\"row\">\n");
        html.push_str(&figure_html(
            &format!("{stem}_distribution"),
            &format!("{name}: original and reconstructed distributions"),
        ));
        html.push_str(&figure_html(
            &format!("{stem}_response"),
            &format!("{name}: response"),
        ));
        html.push_str("</div>\n</section>\n");
    }
    html.push_str("</body>\n</html>\n");
    html
}

const CSS: &str = "body { font-family: sans-serif; margin: 2em; color: #222; }
.verdict { font-size: 1.15em; padding: 0.8em 1em; background: #f3f6fa; border-left: 4px solid #4682c8; white-space: pre-wrap; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
th { background: #eee; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td:first-child { text-align: left; }
img { width: 100%; max-width: 700px; height: auto; border: 1px solid #ddd; }
.row { display: flex; flex-wrap: wrap; gap: 1em; }
";

fn table_html(header: &[String], rows: &[Vec<String>]) -> String {
    let cells = |tag: &str, cells: &[String]| -> String {
        let inner: String = cells
            .iter()
            .map(|c| format!("<{tag}>{}</{tag}>", escape(c)))
            .collect();
        format!("<tr>{inner}</tr>\n")
    };
    let body: String = rows.iter().map(|r| cells("td", r)).collect();
    format!(
        "<table>\n<thead>\n{}</thead>\n<tbody>\n{body}</tbody>\n</table>\n",
        cells("th", header)
    )
}

/// An image linking to its SVG; `alt` must already be escaped.
fn figure_html(stem: &str, alt: &str) -> String {
    format!("<a href=\"{stem}.svg\"><img src=\"{stem}.png\" alt=\"{alt}\"></a>\n")
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Heat maps of one frame of a field: the original values, the error `x_rec − x`, and the
/// relative error `|x_rec − x| / |x|`, as `field_*.png` in `dir`. `frame` holds `height × width`
/// values of each, in C order.
///
/// # Errors
/// Output errors naming the file.
pub fn write_field_maps(
    dir: &Path,
    (height, width): (usize, usize),
    original: &[f64],
    decoded: &[f64],
    title: &str,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write {
        path: dir.to_owned(),
        source,
    })?;
    register_bundled_font(dir)?;
    let error: Vec<f64> = decoded.iter().zip(original).map(|(y, x)| y - x).collect();
    let relative: Vec<f64> = error
        .iter()
        .zip(original)
        .map(|(e, x)| if *x == 0.0 { 0.0 } else { (e / x).abs() })
        .collect();
    let mut written = Vec::new();
    for (name, label, values) in [
        ("field_original.png", "original", original),
        ("field_error.png", "error x_rec - x", &error[..]),
        (
            "field_relative_error.png",
            "relative error |x_rec - x| / |x|",
            &relative[..],
        ),
    ] {
        let path = dir.join(name);
        plots::heat_map(&path, &format!("{title}: {label}"), (height, width), values)
            .map_err(|e| plot_error(&path, e.to_string()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use rand_distr::{Distribution, LogNormal, Normal, Poisson};

    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

    fn variable(name: &str, original: Vec<f64>, reconstructed: Vec<f64>) -> VariablePlotData {
        let response = original
            .iter()
            .zip(&reconstructed)
            .filter(|(x, _)| **x != 0.0)
            .map(|(x, y)| (y - x) / x)
            .collect();
        VariablePlotData {
            name: name.to_owned(),
            original,
            reconstructed,
            response,
        }
    }

    fn synthetic_input() -> ReportInput {
        let mut rng = StdRng::seed_from_u64(7);
        let pt_dist = LogNormal::new(3.5, 0.8).unwrap();
        let noise = Normal::new(0.0, 0.02).unwrap();
        let pt: Vec<f64> = (0..5000).map(|_| 15.0 + pt_dist.sample(&mut rng)).collect();
        let pt_rec = pt
            .iter()
            .map(|x| x * (1.0 + noise.sample(&mut rng)))
            .collect();
        let constituents = Poisson::new(12.0).unwrap();
        let n: Vec<f64> = (0..5000).map(|_| constituents.sample(&mut rng)).collect();
        let n_rec = n.iter().map(|x| x + rng.random_range(-0.6..0.6)).collect();
        ReportInput {
            title: "jets.parquet vs jets.baler.parquet".to_owned(),
            variables: vec![
                variable("pt", pt, pt_rec),
                variable("n constituents", n, n_rec),
            ],
            methods: vec![
                MethodRatio {
                    method: "baler R".to_owned(),
                    ratio: 3.0,
                },
                MethodRatio {
                    method: "baler R_actual".to_owned(),
                    ratio: 2.41,
                },
                MethodRatio {
                    method: "parquet zstd".to_owned(),
                    ratio: 1.37,
                },
            ],
            table_header: ["variable", "relative RMS", "response mean", "response RMS"]
                .map(String::from)
                .to_vec(),
            table_rows: vec![
                ["pt", "0.020", "0.0003", "0.020"]
                    .map(String::from)
                    .to_vec(),
                ["n constituents", "0.029", "0.002", "0.031"]
                    .map(String::from)
                    .to_vec(),
            ],
            verdict: "pt within 2% <ok> & n constituents within 3%".to_owned(),
        }
    }

    fn expected_files(stems: &[&str]) -> Vec<String> {
        let mut names = Vec::new();
        for stem in stems {
            for kind in ["distribution", "response"] {
                for ext in ["png", "svg"] {
                    names.push(format!("{stem}_{kind}.{ext}"));
                }
            }
        }
        names.extend(["ratios.png", "ratios.svg", "index.html"].map(String::from));
        names
    }

    fn check_report(dir: &Path, written: &[PathBuf], stems: &[&str], min_png: u64) {
        let expected = expected_files(stems);
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, expected);
        let index = std::fs::read_to_string(dir.join("index.html")).unwrap();
        for name in &expected {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).unwrap();
            if name.ends_with(".png") {
                assert!(bytes.starts_with(PNG_MAGIC), "{name} is not a PNG");
                assert!(
                    bytes.len() as u64 > min_png,
                    "{name}: {} bytes",
                    bytes.len()
                );
                assert!(
                    index.contains(&format!("src=\"{name}\"")),
                    "index lacks {name}"
                );
            } else if name.ends_with(".svg") {
                assert!(String::from_utf8_lossy(&bytes).contains("<svg"), "{name}");
            }
        }
    }

    #[test]
    fn writes_every_plot_and_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("report");
        let input = synthetic_input();
        let written = write_report(&out, &input).unwrap();
        check_report(&out, &written, &["pt", "n_constituents"], 5 * 1024);
        let index = std::fs::read_to_string(out.join("index.html")).unwrap();
        assert!(index.contains("<title>jets.parquet vs jets.baler.parquet</title>"));
        assert!(index.contains("pt within 2% &lt;ok&gt; &amp; n constituents"));
        assert!(index.contains("<th>response RMS</th>"));
        assert!(index.contains("<td>n constituents</td>"));
        assert!(
            !index.contains("http"),
            "the page must not load external resources"
        );
    }

    #[test]
    fn empty_constant_and_non_finite_variables_still_get_plots() {
        let dir = tempfile::tempdir().unwrap();
        let input = ReportInput {
            title: "edge cases".to_owned(),
            variables: vec![
                variable("empty", vec![], vec![]),
                variable("constant", vec![4.25; 100], vec![4.25; 100]),
                variable("zero", vec![0.0; 10], vec![0.0; 10]),
                VariablePlotData {
                    name: "a/b.c".to_owned(),
                    original: vec![f64::NAN, 1.0, f64::INFINITY, 2.0],
                    reconstructed: vec![f64::NEG_INFINITY, 1.5, 2.5, f64::NAN],
                    response: vec![f64::NAN, 0.5],
                },
                variable("a_b_c", vec![1.0], vec![1.0]),
            ],
            methods: vec![
                MethodRatio {
                    method: "inf".to_owned(),
                    ratio: f64::INFINITY,
                },
                MethodRatio {
                    method: "nan".to_owned(),
                    ratio: f64::NAN,
                },
            ],
            ..ReportInput::default()
        };
        let written = write_report(dir.path(), &input).unwrap();
        let stems = ["empty", "constant", "zero", "a_b_c", "a_b_c_2"];
        check_report(dir.path(), &written, &stems, 0);

        let no_methods = ReportInput::default();
        let written = write_report(dir.path(), &no_methods).unwrap();
        check_report(dir.path(), &written, &[], 0);
    }

    #[test]
    fn stems_are_safe_and_unique() {
        let stems = file_stems(["pt", "p/t", "p_t", "", "é"].into_iter());
        assert_eq!(stems, ["pt", "p_t", "p_t_2", "variable", "_"]);
    }
}
