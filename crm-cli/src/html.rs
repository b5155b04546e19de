//! Self-contained HTML reports with SVG charts drawn by `plotters`.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::{CliResult, Failure};

const WIDTH: u32 = 720;
const HEIGHT: u32 = 380;

fn chart_error(error: impl std::fmt::Display) -> Failure {
    Failure::usage(format!("drawing a chart: {error}"))
}

/// Escapes text for HTML.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A line chart of several named series.
pub(crate) fn lines(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, Vec<(f64, f64)>)],
) -> CliResult<String> {
    let points = series.iter().flat_map(|(_, s)| s.iter());
    let (mut x_max, mut y_max) = (1e-9_f64, 1e-9_f64);
    let (mut x_min, mut y_min) = (0.0_f64, 0.0_f64);
    for (x, y) in points {
        x_max = x_max.max(*x);
        y_max = y_max.max(*y);
        x_min = x_min.min(*x);
        y_min = y_min.min(*y);
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x_min..x_max * 1.02, y_min..y_max * 1.05)
            .map_err(chart_error)?;
        chart.configure_mesh().x_desc(x_label).y_desc(y_label).draw().map_err(chart_error)?;
        let palette = [
            RGBColor(31, 119, 180),
            RGBColor(255, 127, 14),
            RGBColor(44, 160, 44),
            RGBColor(214, 39, 40),
        ];
        for (index, (name, data)) in series.iter().enumerate() {
            let color = palette[index % palette.len()];
            chart
                .draw_series(LineSeries::new(data.iter().copied(), color.stroke_width(2)))
                .map_err(chart_error)?
                .label(*name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A histogram of values over `bins` equal-width bins.
pub(crate) fn histogram(
    title: &str,
    x_label: &str,
    values: &[f64],
    bins: usize,
) -> CliResult<String> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let low = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let high = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if low.is_finite() && high > low { (low, high) } else { (0.0, 1.0) };
    let width = (high - low) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &finite {
        let k = (((v - low) / width) as usize).min(bins - 1);
        counts[k] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(low..high, 0u64..top + top / 10 + 1)
            .map_err(chart_error)?;
        chart.configure_mesh().x_desc(x_label).y_desc("customers").draw().map_err(chart_error)?;
        chart
            .draw_series(counts.iter().enumerate().map(|(k, n)| {
                let x0 = low + width * k as f64;
                Rectangle::new([(x0, 0), (x0 + width, *n)], RGBColor(31, 119, 180).filled())
            }))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A grid of counts (rows top to bottom, columns left to right) as a heat map.
pub(crate) fn grid(
    title: &str,
    rows: &[String],
    columns: &[String],
    counts: &[Vec<u64>],
) -> CliResult<String> {
    let top = counts.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0..columns.len() as i32, 0..rows.len() as i32)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .disable_y_axis()
            .draw()
            .map_err(chart_error)?;
        for (r, row) in counts.iter().enumerate() {
            for (c, n) in row.iter().enumerate() {
                let y = (rows.len() - 1 - r) as i32;
                let shade = 1.0 - 0.6 * (*n as f64 / top);
                let color = RGBColor((255.0 * shade) as u8, (255.0 * shade) as u8, 255);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(c as i32, y), (c as i32 + 1, y + 1)],
                        color.filled(),
                    )))
                    .map_err(chart_error)?;
                let label = format!(
                    "{} {}: {n}",
                    rows.get(r).map_or("", String::as_str),
                    columns.get(c).map_or("", String::as_str)
                );
                chart
                    .draw_series(std::iter::once(Text::new(
                        label,
                        (c as i32, y + 1),
                        ("sans-serif", 13),
                    )))
                    .map_err(chart_error)?;
            }
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A bar chart of labelled values.
pub(crate) fn bars(title: &str, labels: &[String], values: &[f64]) -> CliResult<String> {
    let top = values.iter().copied().fold(1e-9, f64::max);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let names = labels.to_vec();
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((0..labels.len() as i32).into_segmented(), 0.0..top * 1.1)
            .map_err(chart_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len())
            .x_label_formatter(&|x| match x {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(
                Histogram::vertical(&chart)
                    .style(RGBColor(31, 119, 180).filled())
                    .margin(8)
                    .data(values.iter().enumerate().map(|(i, v)| (i as i32, *v))),
            )
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// A page with a title, a few paragraphs or tables, and charts.
pub(crate) struct Page {
    title: String,
    body: String,
}

impl Page {
    pub(crate) fn new(title: &str) -> Page {
        Page { title: title.to_owned(), body: String::new() }
    }

    pub(crate) fn heading(&mut self, text: &str) {
        let _ = writeln!(self.body, "<h2>{}</h2>", escape(text));
    }

    pub(crate) fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.body, "<p>{}</p>", escape(text));
    }

    pub(crate) fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        let _ = write!(self.body, "<table><tr>");
        for h in header {
            let _ = write!(self.body, "<th>{}</th>", escape(h));
        }
        let _ = writeln!(self.body, "</tr>");
        for row in rows {
            let _ = write!(self.body, "<tr>");
            for cell in row {
                let _ = write!(self.body, "<td>{}</td>", escape(cell));
            }
            let _ = writeln!(self.body, "</tr>");
        }
        let _ = writeln!(self.body, "</table>");
    }

    pub(crate) fn chart(&mut self, svg: &str) {
        let _ = writeln!(self.body, "<figure>{svg}</figure>");
    }

    pub(crate) fn write(&self, path: &Path) -> CliResult {
        let html = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\n<style>\
             body{{font-family:sans-serif;max-width:760px;margin:2em auto;color:#222}}\
             table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}\
             th{{background:#f3f3f3}}figure{{margin:1em 0}}</style></head>\n<body><h1>{title}</h1>\n{body}</body></html>\n",
            title = escape(&self.title),
            body = self.body
        );
        std::fs::write(path, html)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))
    }
}
