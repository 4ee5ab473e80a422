//! The report's plots: each variable's distribution before and after, its response, and the
//! ratio of every method; their binning, axes and labels.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, SegmentedCoord, ValueFormatter};
use plotters::coord::types::{RangedCoordf64, RangedCoordi32};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT_FAMILY, MethodRatio, PLOT_SIZE, Plot, VariablePlotData};

pub(super) const CAPTION_SIZE: f64 = 32.0;
pub(super) const AXIS_DESC_SIZE: f64 = 26.0;
pub(super) const TICK_LABEL_SIZE: f64 = 20.0;
pub(super) const NOTE_SIZE: f64 = 21.0;
/// Distributions whose bin counts span more than this factor get a log y axis.
pub(super) const LOG_Y_SPAN: f64 = 100.0;
/// Integer-valued columns with at most this many distinct integers in range get one bin each.
pub(super) const MAX_INTEGER_BINS: usize = 100;
pub(super) const MIN_BINS: usize = 10;
pub(super) const MAX_BINS: usize = 80;
/// The response plot shows this central fraction of the values (1st to 99th percentile).
pub(super) const RESPONSE_PERCENTILES: (f64, f64) = (0.01, 0.99);

pub(super) const ORIGINAL_FILL: RGBColor = RGBColor(70, 130, 200);
pub(super) const RECONSTRUCTED_LINE: RGBColor = RGBColor(215, 40, 40);
pub(super) const RESPONSE_FILL: RGBColor = RGBColor(60, 150, 90);
pub(super) const GUIDE_LINE: RGBColor = RGBColor(110, 110, 110);

pub(super) fn font(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().color(&BLACK)
}

/// Equal-width bins over `[lo, lo + n·width]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Binning {
    lo: f64,
    width: f64,
    n: usize,
}

impl Binning {
    /// `n` bins over `[lo, hi]`; when `lo == hi`, an odd number of bins centred on the value.
    fn over(lo: f64, hi: f64, n: usize) -> Self {
        let n = n.max(1);
        let (lo, hi, n) = if hi > lo {
            (lo, hi, n)
        } else {
            let d = if lo == 0.0 { 0.5 } else { lo.abs() * 0.01 };
            (lo - d, lo + d, n | 1)
        };
        Self {
            lo,
            width: (hi - lo) / n as f64,
            n,
        }
    }

    /// Bins for a distribution: one per integer for integer-valued `reference` values over a
    /// short range, otherwise √N bins (between 10 and 80) over the range of `all`.
    fn for_distribution(reference: &[f64], all: &[f64]) -> Self {
        let (lo, hi) = min_max(all).unwrap_or((0.0, 1.0));
        let integers = !reference.is_empty() && reference.iter().all(|v| v.fract() == 0.0);
        if integers {
            let (lo, hi) = (lo.round() - 0.5, hi.round() + 0.5);
            let n = (hi - lo).round();
            if n <= MAX_INTEGER_BINS as f64 {
                return Self::over(lo, hi, n as usize);
            }
        }
        Self::over(lo, hi, bin_count(reference.len()))
    }

    fn edge(&self, i: usize) -> f64 {
        self.lo + self.width * i as f64
    }

    fn hi(&self) -> f64 {
        self.edge(self.n)
    }

    fn index(&self, v: f64) -> Option<usize> {
        let i = ((v - self.lo) / self.width).floor();
        if i >= 0.0 && i < self.n as f64 {
            Some(i as usize)
        } else if v == self.hi() {
            Some(self.n - 1)
        } else {
            None
        }
    }

    /// The counts per bin and the number of values outside the bins.
    fn count(&self, values: &[f64]) -> (Vec<u64>, u64) {
        let mut counts = vec![0; self.n];
        let mut outside = 0;
        for &v in values {
            match self.index(v) {
                Some(i) => counts[i] += 1,
                None => outside += 1,
            }
        }
        (counts, outside)
    }
}

pub(super) fn bin_count(values: usize) -> usize {
    ((values as f64).sqrt() as usize).clamp(MIN_BINS, MAX_BINS)
}

pub(super) fn finite(values: &[f64]) -> Vec<f64> {
    values.iter().copied().filter(|v| v.is_finite()).collect()
}

pub(super) fn min_max(values: &[f64]) -> Option<(f64, f64)> {
    values.iter().fold(None, |acc, &v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The `q`-quantile (0 ≤ q ≤ 1) of sorted values, by the nearest rank.
pub(super) fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = (q * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Tick labels and notes: up to 4 significant digits, scientific outside [1e-3, 1e5).
pub(super) fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.2e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        return format!("{}e{exponent}", trim_zeros(mantissa));
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    trim_zeros(&format!("{v:.decimals$}")).to_owned()
}

pub(super) fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// An x tick label on an axis over `b`: rounding noise around 0 prints as 0.
pub(super) fn format_tick(v: f64, b: Binning) -> String {
    if v.abs() < 1e-9 * (b.hi() - b.lo) {
        "0".to_owned()
    } else {
        format_number(v)
    }
}

/// Ratios on the bar chart: two decimals below 10, fewer above.
pub(super) fn format_ratio(r: f64) -> String {
    match r {
        r if r >= 100.0 => format!("{r:.0}"),
        r if r >= 10.0 => format!("{r:.1}"),
        r => format!("{r:.2}"),
    }
}

/// Bin counts as y tick labels.
pub(super) fn format_count(v: &f64) -> String {
    if *v >= 1.0 && v.fract() == 0.0 && *v < 1e7 {
        format!("{v:.0}")
    } else {
        format_number(*v)
    }
}

/// Writes `lines` in a white box in the top right corner of the chart's plotting area.
pub(super) fn draw_note<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    plot_pixels: (std::ops::Range<i32>, std::ops::Range<i32>),
    lines: &[String],
) -> DrawResult<(), DB> {
    let style = font(NOTE_SIZE).pos(Pos::new(HPos::Left, VPos::Top));
    let line_height = (NOTE_SIZE * 1.3) as i32;
    let width = lines
        .iter()
        .map(|l| root.estimate_text_size(l, &style).map(|(w, _)| w as i32))
        .try_fold(0, |acc, w| w.map(|w| acc.max(w)))?;
    let (xs, ys) = plot_pixels;
    let (right, top) = (xs.end - 12, ys.start + 12);
    let left = right - width - 16;
    let bottom = top + line_height * lines.len() as i32 + 10;
    root.draw(&Rectangle::new(
        [(left, top), (right, bottom)],
        WHITE.mix(0.85).filled(),
    ))?;
    root.draw(&Rectangle::new([(left, top), (right, bottom)], GUIDE_LINE))?;
    for (i, line) in lines.iter().enumerate() {
        let y = top + 7 + line_height * i as i32;
        root.draw(&Text::new(line.as_str(), (left + 8, y), style.clone()))?;
    }
    Ok(())
}

/// Original and reconstructed histograms of one variable, with the same bins.
pub(super) struct DistributionPlot<'a> {
    name: &'a str,
    binning: Binning,
    original: Vec<u64>,
    reconstructed: Vec<u64>,
    rows: (usize, usize),
}

impl<'a> DistributionPlot<'a> {
    pub(super) fn new(variable: &'a VariablePlotData) -> Self {
        let original = finite(&variable.original);
        let reconstructed = finite(&variable.reconstructed);
        let all: Vec<f64> = original.iter().chain(&reconstructed).copied().collect();
        let reference = if original.is_empty() {
            &reconstructed
        } else {
            &original
        };
        let binning = Binning::for_distribution(reference, &all);
        Self {
            name: &variable.name,
            binning,
            original: binning.count(&original).0,
            reconstructed: binning.count(&reconstructed).0,
            rows: (original.len(), reconstructed.len()),
        }
    }

    fn max_count(&self) -> u64 {
        self.original
            .iter()
            .chain(&self.reconstructed)
            .copied()
            .max()
            .unwrap_or(0)
    }

    fn log_y(&self) -> bool {
        let min = self
            .original
            .iter()
            .chain(&self.reconstructed)
            .copied()
            .filter(|&c| c > 0)
            .min();
        min.is_some_and(|min| self.max_count() as f64 > LOG_Y_SPAN * min as f64)
    }

    /// Draws on a chart whose y axis is `y` and whose bars start at `floor`.
    fn draw_on<DB, Y>(&self, root: &DrawingArea<DB, Shift>, y: Y, floor: f64) -> DrawResult<(), DB>
    where
        DB: DrawingBackend,
        Y: AsRangedCoord<Value = f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let b = self.binning;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: original and reconstructed", self.name),
                font(CAPTION_SIZE),
            )
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(b.lo..b.hi(), y)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(self.name)
            .y_desc("rows")
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .label_style(font(TICK_LABEL_SIZE))
            .x_label_formatter(&|v| format_tick(*v, b))
            .y_label_formatter(&format_count)
            .draw()?;
        let bars = self.original.iter().enumerate().filter(|(_, c)| **c > 0);
        chart
            .draw_series(bars.map(|(i, &c)| {
                Rectangle::new(
                    [(b.edge(i), floor), (b.edge(i + 1), c as f64)],
                    ORIGINAL_FILL.mix(0.45).filled(),
                )
            }))?
            .label(format!("original ({} rows)", self.rows.0))
            .legend(|(x, y)| Rectangle::new([(x, y - 8), (x + 24, y + 8)], ORIGINAL_FILL.filled()));
        let step = RECONSTRUCTED_LINE.stroke_width(3);
        let outline = (self.rows.1 > 0).then(|| step_points(b, &self.reconstructed, floor));
        chart
            .draw_series(outline.map(|points| PathElement::new(points, step)))?
            .label(format!("reconstructed ({} rows)", self.rows.1))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], step));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font(font(NOTE_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(GUIDE_LINE)
            .margin(12)
            .draw()?;
        if self.rows == (0, 0) {
            draw_centered(root, "no finite values")?;
        }
        Ok(())
    }
}

/// The outline of a histogram: a step line that drops to `floor` at empty bins and the ends.
pub(super) fn step_points(b: Binning, counts: &[u64], floor: f64) -> Vec<(f64, f64)> {
    let mut points = vec![(b.lo, floor)];
    for (i, &c) in counts.iter().enumerate() {
        let y = if c == 0 { floor } else { c as f64 };
        points.push((b.edge(i), y));
        points.push((b.edge(i + 1), y));
    }
    points.push((b.hi(), floor));
    points
}

pub(super) fn draw_centered<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    text: &str,
) -> DrawResult<(), DB> {
    let (w, h) = root.dim_in_pixel();
    let style = font(CAPTION_SIZE).pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(text, (w as i32 / 2, h as i32 / 2), style))
}

impl Plot for DistributionPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        let max = self.max_count().max(1) as f64;
        if self.log_y() {
            self.draw_on(root, (0.5..max * 6.0).log_scale(), 0.5)
        } else {
            self.draw_on(root, 0.0..max * 1.3, 0.0)
        }
    }
}

/// The histogram of one variable's response between its 1st and 99th percentiles.
pub(super) struct ResponsePlot<'a> {
    name: &'a str,
    binning: Binning,
    counts: Vec<u64>,
    outside: u64,
    /// Mean and RMS over every finite value, and their number.
    stats: Option<(f64, f64, usize)>,
}

impl<'a> ResponsePlot<'a> {
    pub(super) fn new(variable: &'a VariablePlotData) -> Self {
        let mut values = finite(&variable.response);
        values.sort_by(f64::total_cmp);
        let binning = response_binning(&values);
        let (counts, outside) = binning.count(&values);
        let stats = (!values.is_empty()).then(|| {
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let rms = (values.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
            (mean, rms, values.len())
        });
        Self {
            name: &variable.name,
            binning,
            counts,
            outside,
            stats,
        }
    }

    fn note(&self) -> Vec<String> {
        let Some((mean, rms, n)) = self.stats else {
            return vec!["no finite values".to_owned()];
        };
        let mut lines = vec![
            format!("mean = {}", format_number(mean)),
            format!("RMS = {}", format_number(rms)),
            format!("N = {n}"),
        ];
        if self.outside > 0 {
            lines.push(format!("{} outside 1st–99th pct.", self.outside));
        }
        lines
    }
}

/// Bins over the 1st–99th percentile of sorted values, widened to include 0.
pub(super) fn response_binning(sorted: &[f64]) -> Binning {
    if sorted.is_empty() {
        return Binning::over(-0.1, 0.1, MIN_BINS);
    }
    let lo = quantile(sorted, RESPONSE_PERCENTILES.0).min(0.0);
    let hi = quantile(sorted, RESPONSE_PERCENTILES.1).max(0.0);
    if hi == lo {
        // Every value in the central range is 0: a narrow window with 0 in its middle bin.
        return Binning::over(-0.01, 0.01, 21);
    }
    let pad = 0.05 * (hi - lo);
    Binning::over(lo - pad, hi + pad, bin_count(sorted.len()).max(40))
}

impl Plot for ResponsePlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        let b = self.binning;
        let max = self.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{}: response", self.name), font(CAPTION_SIZE))
            .margin(20)
            .x_label_area_size(70)
            .y_label_area_size(100)
            .build_cartesian_2d(b.lo..b.hi(), 0.0..max * 1.35)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc("response (reconstructed − original)/original")
            .y_desc("rows")
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .label_style(font(TICK_LABEL_SIZE))
            .x_label_formatter(&|v| format_tick(*v, b))
            .y_label_formatter(&format_count)
            .draw()?;
        let bars = self.counts.iter().enumerate().filter(|(_, c)| **c > 0);
        chart.draw_series(bars.map(|(i, &c)| {
            Rectangle::new(
                [(b.edge(i), 0.0), (b.edge(i + 1), c as f64)],
                RESPONSE_FILL.mix(0.6).filled(),
            )
        }))?;
        chart.draw_series(std::iter::once(PathElement::new(
            [(0.0, 0.0), (0.0, max * 1.35)],
            GUIDE_LINE.stroke_width(2),
        )))?;
        draw_note(root, chart.plotting_area().get_pixel_range(), &self.note())
    }
}

/// Horizontal bars of the compression ratio per method (the first on top), with a line at
/// R = 1; horizontal so that long method names stay readable.
pub(super) struct RatioPlot<'a>(pub(super) &'a [MethodRatio]);

/// Bar colours, cycled (matplotlib's "tab10").
pub(super) const BAR_COLORS: [RGBColor; 10] = [
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
/// Font sizes tried, largest first, for the method names.
pub(super) const METHOD_NAME_SIZES: [f64; 2] = [AXIS_DESC_SIZE - 4.0, 18.0];

type RatioChart<'a, DB> =
    ChartContext<'a, DB, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordi32>>>;

/// Whether a ratio gets a bar (the others are labelled "n/a").
pub(super) fn has_bar(r: f64) -> bool {
    r.is_finite() && r > 0.0
}

/// Method names as drawn, their font size and the widest one's width: the largest size at
/// which every name fits in `max_width` pixels, else the smallest with names shortened by "…".
pub(super) fn fit_names<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    names: &[&str],
    max_width: u32,
) -> DrawResult<(Vec<String>, f64, u32), DB> {
    let width = |text: &str, size: f64| root.estimate_text_size(text, &font(size)).map(|s| s.0);
    for size in METHOD_NAME_SIZES {
        let widest = names
            .iter()
            .map(|n| width(n, size))
            .try_fold(0, |acc, w| w.map(|w| acc.max(w)))?;
        if widest <= max_width {
            let names = names.iter().map(|n| n.to_string()).collect();
            return Ok((names, size, widest));
        }
    }
    let size = METHOD_NAME_SIZES[METHOD_NAME_SIZES.len() - 1];
    let mut fitted = Vec::with_capacity(names.len());
    for name in names {
        let mut chars: Vec<char> = name.chars().collect();
        let mut text = name.to_string();
        while width(&text, size)? > max_width && !chars.is_empty() {
            chars.pop();
            text = chars.iter().collect::<String>() + "…";
        }
        fitted.push(text);
    }
    Ok((fitted, size, max_width))
}

impl RatioPlot<'_> {
    /// The row of method `i`: the first method on top.
    fn row(&self, i: usize) -> i32 {
        (self.0.len() - 1 - i) as i32
    }

    /// The axes, on `area` below the title, with room above for the R = 1 label.
    fn chart<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
    ) -> DrawResult<RatioChart<'a, DB>, DB> {
        let methods = self.0;
        let max = methods
            .iter()
            .map(|m| m.ratio)
            .filter(|&r| has_bar(r))
            .fold(1.0, f64::max);
        let names: Vec<&str> = methods.iter().map(|m| m.method.as_str()).collect();
        let (names, name_size, names_width) = fit_names(area, &names, PLOT_SIZE.0 * 2 / 5)?;
        let mut chart = ChartBuilder::on(area)
            .margin(20)
            .margin_top(40)
            .x_label_area_size(70)
            .y_label_area_size(names_width + 20)
            .build_cartesian_2d(
                0.0..max * 1.2,
                (0..methods.len() as i32 - 1).into_segmented(),
            )?;
        let label = |v: &SegmentValue<i32>| match v {
            SegmentValue::CenterOf(row) => names
                .get(methods.len() - 1 - *row as usize)
                .cloned()
                .unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(methods.len() + 1)
            .x_desc("compression ratio R (higher is better)")
            .axis_desc_style(font(AXIS_DESC_SIZE))
            .x_label_style(font(TICK_LABEL_SIZE))
            .y_label_style(font(name_size))
            .x_label_formatter(&|v| format_number(*v))
            .y_label_formatter(&label)
            .draw()?;
        Ok(chart)
    }

    fn draw_bars<DB: DrawingBackend>(&self, chart: &mut RatioChart<'_, DB>) -> DrawResult<(), DB> {
        let slot = f64::from(PLOT_SIZE.1 - 180) / self.0.len() as f64;
        let margin = (slot * 0.18) as u32;
        let bars = self.0.iter().enumerate().filter(|(_, m)| has_bar(m.ratio));
        chart.draw_series(bars.map(|(i, m)| {
            let color = BAR_COLORS[i % BAR_COLORS.len()];
            let row = self.row(i);
            let corners = [
                (0.0, SegmentValue::Exact(row)),
                (m.ratio, SegmentValue::Exact(row + 1)),
            ];
            let mut bar = Rectangle::new(corners, color.mix(0.85).filled());
            bar.set_margin(margin, margin, 0, 0);
            bar
        }))?;
        let value_style = font(NOTE_SIZE).pos(Pos::new(HPos::Left, VPos::Center));
        chart.draw_series(self.0.iter().enumerate().map(|(i, m)| {
            let (label, x) = if has_bar(m.ratio) {
                (format_ratio(m.ratio), m.ratio)
            } else {
                ("n/a".to_owned(), 0.0)
            };
            EmptyElement::at((x, SegmentValue::CenterOf(self.row(i))))
                + Text::new(label, (8, 0), value_style.clone())
        }))?;
        Ok(())
    }

    /// The line at R = 1, labelled above the chart.
    fn draw_break_even<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        chart: &mut RatioChart<'_, DB>,
    ) -> DrawResult<(), DB> {
        let (bottom, top) = (SegmentValue::Exact(0), SegmentValue::Last);
        chart.draw_series(std::iter::once(PathElement::new(
            [(1.0, bottom), (1.0, top.clone())],
            GUIDE_LINE.stroke_width(2),
        )))?;
        let (x, y) = chart.backend_coord(&(1.0, top));
        let style = font(NOTE_SIZE)
            .color(&GUIDE_LINE)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new("R = 1 (no compression)", (x, y - 4), style))
    }
}

impl Plot for RatioPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        if self.0.is_empty() {
            return draw_centered(root, "no compression methods to compare");
        }
        let area = root
            .margin(20, 0, 0, 0)
            .titled("Compression ratio R per method", font(CAPTION_SIZE))?;
        let mut chart = self.chart(&area)?;
        self.draw_bars(&mut chart)?;
        self.draw_break_even(root, &mut chart)
    }
}

/// A heat map of `values` (`height × width`, C order, row 0 at the top) with a colour bar.
pub(super) fn heat_map(
    path: &std::path::Path,
    title: &str,
    (height, width): (usize, usize),
    values: &[f64],
) -> Result<(), Box<dyn std::error::Error>> {
    let cell = (600 / width.max(height)).max(1) as u32;
    let (w, h) = (width as u32 * cell, height as u32 * cell);
    let root = BitMapBackend::new(path, (w + 180, h + 90)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = values
        .iter()
        .fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let span = if hi > lo { hi - lo } else { 1.0 };
    let colour = |v: f64| ViridisRGB::get_color(((v - lo) / span) as f32);
    root.draw(&Text::new(title.to_owned(), (10, 10), font(NOTE_SIZE)))?;
    let (x0, y0) = (10i32, 60i32);
    for (i, &v) in values.iter().enumerate() {
        let (y, x) = ((i / width) as i32, (i % width) as i32);
        let (px, py) = (x0 + x * cell as i32, y0 + y * cell as i32);
        root.draw(&Rectangle::new(
            [(px, py), (px + cell as i32, py + cell as i32)],
            colour(v).filled(),
        ))?;
    }
    // The colour bar, low at the bottom.
    let bar_x = x0 + w as i32 + 20;
    for k in 0..h as i32 {
        let v = hi - span * f64::from(k) / f64::from(h.max(1));
        root.draw(&Rectangle::new(
            [(bar_x, y0 + k), (bar_x + 20, y0 + k + 1)],
            colour(v).filled(),
        ))?;
    }
    for (v, y) in [(hi, y0), (lo, y0 + h as i32 - 16)] {
        root.draw(&Text::new(
            format!("{v:.3e}"),
            (bar_x + 26, y),
            font(TICK_LABEL_SIZE),
        ))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_columns_get_one_bin_per_integer() {
        let values = [0.0, 3.0, 7.0];
        let b = Binning::for_distribution(&values, &[0.0, 3.0, 7.4]);
        assert_eq!(b.n, 8);
        assert_eq!(b.lo, -0.5);
        assert_eq!(b.index(7.4), Some(7));
        assert_eq!(b.count(&[0.0, 0.2, 8.0]), (vec![2, 0, 0, 0, 0, 0, 0, 0], 1));
    }

    #[test]
    fn numbers_are_formatted_for_axes() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(0.25), "0.25");
        assert_eq!(format_number(1234.5678), "1235");
        assert_eq!(format_number(-0.0123456), "-0.01235");
        assert_eq!(format_number(2.5e-5), "2.5e-5");
        assert_eq!(format_number(3.0e6), "3e6");
        assert_eq!(format_count(&100.0), "100");
    }
}
