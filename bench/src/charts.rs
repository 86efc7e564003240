//! The charts of `BENCHMARKS.md`, drawn with plotters' bitmap backend (`--features charts`).
//!
//! Text is rendered with ab_glyph from a TrueType font found on the machine (DejaVu Sans, which
//! Debian installs with most desktops and fontconfig), so no font stack is compiled in.
//! Every chart is a horizontal grouped bar chart: long route names read well on the left.

use std::path::Path;

use anyhow::Context as _;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::flows::RequestStats;
use crate::report::{Run, ratio};
use crate::settings::Settings;

const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

const COLOURS: [RGBColor; 3] = [
    RGBColor(66, 133, 244),
    RGBColor(251, 140, 0),
    RGBColor(219, 68, 55),
];

pub fn draw(settings: &Settings, run: &Run) -> anyhow::Result<()> {
    let Some(font) = FONTS.iter().find_map(|path| std::fs::read(path).ok()) else {
        eprintln!("[bench] charts not drawn: no DejaVuSans.ttf (apt install fonts-dejavu-core)");
        return Ok(());
    };
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(font.into_boxed_slice()),
    )
    .map_err(|_| anyhow::anyhow!("DejaVuSans.ttf is not a usable font"))?;
    let dir = settings.root.join("docs/bench");
    std::fs::create_dir_all(&dir)?;

    if let Some(m) = &run.micro {
        let mut names = Vec::new();
        let mut values = Vec::new();
        for (name, route, ceiling) in [
            (
                "currentuser ÷ empty handler",
                &m.currentuser,
                &m.ceiling_empty_handler,
            ),
            (
                "GET tickets (100) ÷ Mongo find",
                &m.tickets_list,
                &m.ceiling_mongo_find_100,
            ),
            (
                "POST tickets ÷ insert+publish",
                &m.tickets_create,
                &m.ceiling_insert_and_publish,
            ),
            (
                "POST orders ÷ insert+publish",
                &m.orders_create,
                &m.ceiling_insert_and_publish,
            ),
        ] {
            if let Some(r) = route
                .as_ref()
                .zip(ceiling.as_ref())
                .and_then(|(route, ceiling)| ratio(route, ceiling))
            {
                names.push(name.to_owned());
                values.push(r * 100.0);
            }
        }
        bars(
            &dir.join("ratios.png"),
            "Hot paths as % of their ceiling (same run, same machine)",
            "% of ceiling",
            &names,
            &[("route ÷ ceiling", values)],
            &[(50.0, "target 50%")],
        )?;
    }

    if let Some(f) = &run.flows {
        let names: Vec<String> = f.requests.iter().map(|r| r.name.clone()).collect();
        let series = |ms: fn(&RequestStats) -> usize| {
            f.requests.iter().map(|r| ms(r) as f64).collect::<Vec<_>>()
        };
        bars(
            &dir.join("flows.png"),
            &format!(
                "User flows: latency per request ({} users, ≤ {} req/s offered)",
                f.users, f.offered_rate
            ),
            "milliseconds",
            &names,
            &[
                ("p50", series(|r| r.p50_ms)),
                ("p95", series(|r| r.p95_ms)),
                ("p99", series(|r| r.p99_ms)),
            ],
            &[],
        )?;
    }

    if let Some(fp) = &run.footprint {
        // A service missing from a part (that part did not run) is drawn as 0 MB.
        let mb = |kb: Option<&u64>| kb.map_or(0.0, |&kb| kb as f64 / 1024.0);
        let services: Vec<String> = crate::stack::SERVICES
            .iter()
            .filter(|s| fp.idle_rss_kb.contains_key(**s))
            .map(|s| (*s).to_owned())
            .collect();
        let per_service = |kb: Option<&std::collections::BTreeMap<String, u64>>| {
            services
                .iter()
                .map(|s| mb(kb.and_then(|kb| kb.get(s))))
                .collect::<Vec<_>>()
        };
        let idle = per_service(Some(&fp.idle_rss_kb));
        let flows = per_service(run.flows.as_ref().map(|f| &f.peak_rss_kb));
        let micro = per_service(run.micro.as_ref().map(|m| &m.peak_rss_kb));
        bars(
            &dir.join("rss.png"),
            "Resident memory per service (MB)",
            "MB",
            &services,
            &[
                ("idle", idle),
                ("peak under flows", flows),
                ("peak under micro-benchmarks", micro),
            ],
            &[(15.0, "idle target 15 MB"), (60.0, "load target 60 MB")],
        )?;
    }
    eprintln!("[bench] charts in {}", dir.display());
    Ok(())
}

/// Horizontal grouped bars: one group per name, one bar per series, dashed target lines.
fn bars(
    path: &Path,
    title: &str,
    x_desc: &str,
    names: &[String],
    series: &[(&str, Vec<f64>)],
    targets: &[(f64, &str)],
) -> anyhow::Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let n = names.len();
    let peak = series
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .chain(targets.iter().map(|(t, _)| *t))
        .fold(1.0f64, f64::max);
    let height = (130 + 30 * n as u32 * (series.len() as u32).max(1)).max(320);
    let root = BitMapBackend::new(path, (1000, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(250)
        .build_cartesian_2d(0.0..peak * 1.15, 0.0..n as f64)?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_desc(x_desc)
        .label_style(("sans-serif", 15))
        .draw()?;
    let width = 0.8 / series.len() as f64;
    for (j, (label, values)) in series.iter().enumerate() {
        let colour = COLOURS[j % COLOURS.len()];
        chart
            .draw_series(values.iter().enumerate().map(|(i, &v)| {
                // The first name at the top.
                let top = (n - i) as f64 - 0.1 - j as f64 * width;
                Rectangle::new([(0.0, top - width * 0.9), (v, top)], colour.filled())
            }))?
            .label(*label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], colour.filled()));
        chart.draw_series(values.iter().enumerate().map(|(i, &v)| {
            let top = (n - i) as f64 - 0.1 - j as f64 * width;
            Text::new(
                format!(" {}", short(v)),
                (v, top - width * 0.45),
                TextStyle::from(("sans-serif", 13).into_font())
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))?;
    }
    for (value, label) in targets {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*value, 0.0), (*value, n as f64)],
                BLACK.stroke_width(2),
            )))?
            .label(*label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 14, y)], BLACK.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;
    let style =
        TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Right, VPos::Center));
    for (i, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(0.0, (n - i) as f64 - 0.5));
        root.draw(&Text::new(name.clone(), (x - 8, y), style.clone()))?;
    }
    root.present()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn short(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}
