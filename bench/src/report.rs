//! A run's JSON files → the figures of `BENCHMARKS.md` (the part between its markers is
//! replaced; the prose around it is left alone), `summary.md` in the run's folder, and the
//! charts in `docs/bench/` when built with the `charts` feature.

use std::fmt::Write as _;

use anyhow::Context as _;
use serde_json::Value;

use crate::settings::Settings;

const BEGIN: &str = "<!-- bench:results:begin -->";
const END: &str = "<!-- bench:results:end -->";

/// Every file a run may have written; missing ones are `Null`.
pub struct Run {
    pub micro: Value,
    pub flows: Value,
    pub footprint: Value,
    pub startup: Value,
    pub audit_micro: Value,
    pub audit_flows: Value,
}

impl Run {
    pub fn load(settings: &Settings) -> Self {
        let read = |name: &str| {
            std::fs::read(settings.out_dir.join(format!("{name}.json")))
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or(Value::Null)
        };
        Self {
            micro: read("micro"),
            flows: read("flows"),
            footprint: read("footprint"),
            startup: read("startup"),
            audit_micro: read("audit-micro"),
            audit_flows: read("audit-flows"),
        }
    }
}

pub fn run(settings: &Settings) -> anyhow::Result<()> {
    let run = Run::load(settings);
    let markdown = render(settings, &run);
    std::fs::write(settings.out_dir.join("summary.md"), &markdown)?;
    let doc_path = settings.root.join("BENCHMARKS.md");
    let doc = std::fs::read_to_string(&doc_path)
        .with_context(|| format!("cannot read {}", doc_path.display()))?;
    let (Some(begin), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        anyhow::bail!("BENCHMARKS.md lacks the {BEGIN} … {END} markers");
    };
    let updated = format!("{}{BEGIN}\n{markdown}{}", &doc[..begin], &doc[end..]);
    std::fs::write(&doc_path, updated)?;
    eprintln!("[bench] updated {}", doc_path.display());
    #[cfg(feature = "charts")]
    crate::charts::draw(settings, &run)?;
    #[cfg(not(feature = "charts"))]
    eprintln!("[bench] charts not drawn: build with --features charts (scripts/bench.sh does)");
    Ok(())
}

/// One figure against its target, for the summary table.
struct Verdict {
    target: &'static str,
    figure: String,
    met: Option<bool>,
}

fn render(settings: &Settings, run: &Run) -> String {
    let mut out = String::new();
    let date = run.micro["date"]
        .as_str()
        .or(run.flows["date"].as_str())
        .unwrap_or("?");
    let _ = writeln!(
        out,
        "_Run of {} UTC on {} ({} cores, {} MB RAM; the load generator shares those cores). Raw files: `{}`._\n",
        &date[..date.len().min(16)].replace('T', " "),
        cpu_model(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_mb(),
        settings
            .out_dir
            .strip_prefix(&settings.root)
            .unwrap_or(&settings.out_dir)
            .display(),
    );
    for (phase, v) in [("micro-benchmarks", &run.micro), ("flows", &run.flows)] {
        if let Some(load) = v["load_average"].as_str() {
            let _ = writeln!(out, "Load average when the {phase} started: {load}.  ");
        }
    }
    let _ = writeln!(out);
    let mut verdicts = Vec::new();

    // Micro-benchmarks beside their ceilings.
    let m = &run.micro;
    let _ = writeln!(out, "### Hot paths beside their ceilings\n");
    if m.is_null() {
        let _ = writeln!(out, "Not measured in this run.\n");
    } else {
        let _ = writeln!(
            out,
            "Closed loop, {} connections, through nginx. Ratio = route ÷ ceiling (same run, same machine).\n",
            m["connections"]
        );
        let _ = writeln!(
            out,
            "| route | req/s | p50 ms | p99 ms | errors | ceiling | ceiling req/s | ratio | target |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---:|---:|---|");
        for (route, key, ceiling, ceiling_key, target) in [
            (
                "`GET /api/users/currentuser`",
                "currentuser",
                "empty axum handler behind the same nginx",
                "ceiling_empty_handler",
                Some(0.5),
            ),
            (
                "`GET /api/tickets` (100 tickets)",
                "tickets_list",
                "raw MongoDB find (same query, 100 docs)",
                "ceiling_mongo_find_100",
                Some(0.5),
            ),
            (
                "`POST /api/tickets`",
                "tickets_create",
                "raw MongoDB insert + JetStream publish-ack",
                "ceiling_insert_and_publish",
                Some(0.5),
            ),
            (
                "`POST /api/orders`",
                "orders_create",
                "raw MongoDB insert + JetStream publish-ack",
                "ceiling_insert_and_publish",
                None,
            ),
        ] {
            let r = &m[key];
            let c = &m[ceiling_key];
            if r.is_null() {
                let _ = writeln!(
                    out,
                    "| {route} | not measured: service not yet landed | | | | {ceiling} | {} | | |",
                    rps(c)
                );
                if target.is_some() {
                    verdicts.push(Verdict {
                        target: target_name(key),
                        figure: "not measured: service not yet landed".into(),
                        met: None,
                    });
                }
                continue;
            }
            let ratio = ratio(r, c);
            let met = target.zip(ratio).map(|(t, r)| r >= t);
            let _ = writeln!(
                out,
                "| {route} | {} | {} | {} | {} | {ceiling} | {} | {} | {} |",
                rps(r),
                ms(&r["p50_ms"]),
                ms(&r["p99_ms"]),
                r["errors"],
                rps(c),
                ratio.map_or("—".into(), |x| format!("{:.0}%", x * 100.0)),
                target.map_or("—".into(), |t| format!(
                    "≥ {:.0}% {}",
                    t * 100.0,
                    tick(met)
                )),
            );
            if target.is_some() {
                verdicts.push(Verdict {
                    target: target_name(key),
                    figure: ratio.map_or("—".into(), |x| format!("{:.0}% of ceiling", x * 100.0)),
                    met,
                });
            }
        }
        let _ = writeln!(out, "\nThe ceilings themselves:\n");
        let _ = writeln!(out, "| ceiling | req/s | p50 ms | p99 ms |");
        let _ = writeln!(out, "|---|---:|---:|---:|");
        for (name, key) in [
            ("empty axum handler behind nginx", "ceiling_empty_handler"),
            ("MongoDB find, 100 tickets", "ceiling_mongo_find_100"),
            ("MongoDB insert", "ceiling_mongo_insert"),
            (
                "JetStream publish, awaiting the ack",
                "ceiling_jetstream_publish",
            ),
            (
                "MongoDB insert + JetStream publish-ack",
                "ceiling_insert_and_publish",
            ),
        ] {
            let c = &m[key];
            if !c.is_null() {
                let _ = writeln!(
                    out,
                    "| {name} | {} | {} | {} |",
                    rps(c),
                    ms(&c["p50_ms"]),
                    ms(&c["p99_ms"])
                );
            }
        }
        let _ = writeln!(
            out,
            "\nWhere the cores went (average cores used during each loop, from `/proc/<pid>/stat`; {} available):\n",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
        let _ = writeln!(out, "| measurement | cores used, busiest first |");
        let _ = writeln!(out, "|---|---|");
        for key in [
            "ceiling_empty_handler",
            "currentuser",
            "ceiling_mongo_find_100",
            "tickets_list",
            "ceiling_mongo_insert",
            "ceiling_jetstream_publish",
            "ceiling_insert_and_publish",
            "tickets_create",
            "orders_create",
        ] {
            let r = &m[key];
            if let Some(cpu) = r["cpu"].as_array().filter(|c| !c.is_empty()) {
                let _ = writeln!(
                    out,
                    "| {} | {} |",
                    r["name"].as_str().unwrap_or(key),
                    cores(cpu)
                );
            }
        }
        let e = &m["event_path"];
        let _ = writeln!(
            out,
            "\n### Event path: ticket created → orderable in orders\n"
        );
        if e.is_null() {
            let _ = writeln!(out, "Not measured: service not yet landed (orders).\n");
            verdicts.push(Verdict {
                target: "event path p99 < 20 ms",
                figure: "not measured: service not yet landed".into(),
                met: None,
            });
        } else {
            let p99 = e["p99_ms"].as_f64().unwrap_or(f64::MAX);
            let _ = writeln!(
                out,
                "{} tickets, one at a time: p50 {} ms, p99 {} ms, max {} ms, {} errors. (Upper bound: includes the round trip of the `POST /api/orders` that succeeded.)\n",
                e["count"],
                ms(&e["p50_ms"]),
                ms(&e["p99_ms"]),
                ms(&e["max_ms"]),
                e["errors"]
            );
            verdicts.push(Verdict {
                target: "event path p99 < 20 ms",
                figure: format!("p99 {} ms", ms(&e["p99_ms"])),
                met: Some(p99 < 20.0),
            });
        }
        for line in m["not_measured"].as_array().into_iter().flatten() {
            let _ = writeln!(out, "- {}", line.as_str().unwrap_or_default());
        }
        let _ = writeln!(out);
    }

    // Flows.
    let f = &run.flows;
    let _ = writeln!(out, "### User flows (goose, through the ingress)\n");
    if f.is_null() {
        let _ = writeln!(out, "Not measured in this run.\n");
    } else {
        let _ = writeln!(
            out,
            "{} users for {} s, offered at most {} req/s: **{} requests, {} errors, {:.0} req/s achieved**; {} orders lost a race for a ticket (contract 400, counted as success), {} carts abandoned to expire. {} orders and {} payments were first answered 404 because the service had not yet received the ticket's / order's event (asked again after 50 ms, as a user would click again; counted apart, not as errors).\n",
            f["users"],
            f["seconds"],
            f["offered_rate"],
            f["total_requests"],
            f["total_errors"],
            f["achieved_rps"].as_f64().unwrap_or(0.0),
            f["lost_races"],
            f["abandoned_orders"],
            f["orders_not_yet_replicated"],
            f["payments_not_yet_replicated"]
        );
        let _ = writeln!(
            out,
            "| request | count | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in f["requests"].as_array().into_iter().flatten() {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {:.1} | {} | {} | {} | {} |",
                r["name"].as_str().unwrap_or("?"),
                r["count"],
                r["errors"],
                r["rps"].as_f64().unwrap_or(0.0),
                r["p50_ms"],
                r["p95_ms"],
                r["p99_ms"],
                r["max_ms"]
            );
        }
        if let Some(cpu) = f["cpu"].as_array().filter(|c| !c.is_empty()) {
            let _ = writeln!(
                out,
                "\nCores used over the run, busiest first: {}.\n",
                cores(cpu)
            );
        }
        let errors = f["total_errors"].as_u64().unwrap_or(1);
        verdicts.push(Verdict {
            target: "zero errors in the flow load",
            figure: format!(
                "{errors} errors in {} requests at ≤ {} req/s",
                f["total_requests"], f["offered_rate"]
            ),
            met: Some(errors == 0),
        });
        let _ = writeln!(out);
    }

    // Expiration and the audit.
    let _ = writeln!(
        out,
        "### Events: exactly once, replicas equal, expiry on time\n"
    );
    let lateness = &run.audit_flows["expiration_lateness"];
    if lateness.is_null() {
        let why = if run.audit_flows.is_null() {
            "no audit of a flow run"
        } else {
            "no order expired (expiration or orders service not yet landed)"
        };
        let _ = writeln!(out, "Expiration lateness not measured: {why}.\n");
        verdicts.push(Verdict {
            target: "expiration ≤ 1 s after expiresAt under load",
            figure: format!("not measured: {why}"),
            met: None,
        });
    } else {
        let max = lateness["max_ms"].as_f64().unwrap_or(f64::MAX);
        let _ = writeln!(
            out,
            "Expiration under the flow load, {} orders: fired p50 {} ms, p99 {} ms, max {} ms after `expiresAt` (JetStream timestamp of `expiration:complete` − the order's `expiresAt`).\n",
            lateness["count"],
            ms(&lateness["p50_ms"]),
            ms(&lateness["p99_ms"]),
            ms(&lateness["max_ms"])
        );
        verdicts.push(Verdict {
            target: "expiration ≤ 1 s after expiresAt under load",
            figure: format!("max {} ms", ms(&lateness["max_ms"])),
            met: Some(max <= 1000.0),
        });
    }
    let mut all_ok = true;
    let mut any = false;
    for (label, audit) in [
        ("after the micro-benchmarks", &run.audit_micro),
        ("after the flows", &run.audit_flows),
    ] {
        if audit.is_null() {
            continue;
        }
        any = true;
        let _ = writeln!(
            out,
            "Audit {label} (events in the stream: {}):\n",
            compact(&audit["events"])
        );
        for check in audit["checks"].as_array().into_iter().flatten() {
            let ok = check["ok"].as_bool().unwrap_or(false);
            all_ok &= ok;
            let _ = writeln!(
                out,
                "- {} {} — {}",
                if ok { "✅" } else { "❌" },
                check["what"].as_str().unwrap_or("?"),
                check["detail"].as_str().unwrap_or("")
            );
        }
        let _ = writeln!(out);
    }
    verdicts.push(Verdict {
        target: "no event lost or duplicated",
        figure: if any {
            if all_ok {
                "every check holds".into()
            } else {
                "a check failed (above)".into()
            }
        } else {
            "not audited".into()
        },
        met: any.then_some(all_ok),
    });

    // Footprint.
    let fp = &run.footprint;
    let _ = writeln!(out, "### Footprint\n");
    if fp.is_null() {
        let _ = writeln!(out, "Not measured in this run.\n");
    } else {
        let _ = writeln!(
            out,
            "| service | idle RSS MB | peak RSS under flows MB | peak RSS under micro MB | start → ready ms (median / max) | release binary MB |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
        let (mut idle_ok, mut load_ok, mut ready_ok) = (true, true, true);
        let (mut idle_max, mut load_max, mut ready_max) = (0.0f64, 0.0f64, 0.0f64);
        for service in crate::stack::SERVICES {
            let idle = fp["idle_rss_kb"][service].as_f64().map(|kb| kb / 1024.0);
            let load = f["peak_rss_kb"][service].as_f64().map(|kb| kb / 1024.0);
            let micro_load = m["peak_rss_kb"][service].as_f64().map(|kb| kb / 1024.0);
            let ready = &run.startup["start_to_ready_ms"][service];
            let size = fp["binary_bytes"][service]
                .as_f64()
                .map(|b| b / 1_048_576.0);
            if idle.is_none() && size.is_none() {
                let _ = writeln!(
                    out,
                    "| {service} | not measured: service not yet landed | | | | |"
                );
                continue;
            }
            if let Some(idle) = idle {
                idle_ok &= idle <= 15.0;
                idle_max = idle_max.max(idle);
            }
            for peak in [load, micro_load].into_iter().flatten() {
                load_ok &= peak <= 60.0;
                load_max = load_max.max(peak);
            }
            if let Some(max) = ready["max_ms"].as_f64() {
                ready_ok &= ready["median_ms"].as_f64().unwrap_or(max) <= 100.0;
                ready_max = ready_max.max(ready["median_ms"].as_f64().unwrap_or(max));
            }
            let _ = writeln!(
                out,
                "| {service} | {} | {} | {} | {} | {} |",
                one(idle),
                one(load),
                one(micro_load),
                if ready.is_null() {
                    "—".into()
                } else {
                    format!("{} / {}", ms(&ready["median_ms"]), ms(&ready["max_ms"]))
                },
                one(size)
            );
        }
        if let Some(size) = fp["binary_bytes"]["bench-empty (ceiling)"].as_f64() {
            let _ = writeln!(
                out,
                "| (empty axum handler, for scale) | | | | | {:.1} |",
                size / 1_048_576.0
            );
        }
        for line in fp["not_measured"]
            .as_array()
            .into_iter()
            .chain(run.startup["not_measured"].as_array())
            .flatten()
        {
            let _ = writeln!(out, "- {}", line.as_str().unwrap_or_default());
        }
        let _ = writeln!(out);
        verdicts.push(Verdict {
            target: "idle RSS ≤ 15 MB per service",
            figure: format!("largest {idle_max:.1} MB"),
            met: Some(idle_ok),
        });
        let measured = load_max > 0.0;
        verdicts.push(Verdict {
            target: "RSS ≤ 60 MB per service under load",
            figure: if measured {
                format!("largest {load_max:.1} MB")
            } else {
                "not measured in this run".into()
            },
            met: measured.then_some(load_ok),
        });
        let measured = !run.startup.is_null();
        verdicts.push(Verdict {
            target: "start → ready ≤ 100 ms (MongoDB/NATS up)",
            figure: if measured {
                format!("slowest median {ready_max:.1} ms")
            } else {
                "not measured in this run".into()
            },
            met: measured.then_some(ready_ok),
        });
    }

    let mut summary = String::new();
    let _ = writeln!(summary, "### Targets\n");
    let _ = writeln!(summary, "| target | this run | met |");
    let _ = writeln!(summary, "|---|---|---|");
    for v in &verdicts {
        let _ = writeln!(summary, "| {} | {} | {} |", v.target, v.figure, tick(v.met));
    }
    let _ = writeln!(summary);
    if cfg!(feature = "charts") || settings.root.join("docs/bench/ratios.png").exists() {
        let _ = writeln!(
            summary,
            "![Hot paths as a share of their ceilings](docs/bench/ratios.png)\n"
        );
        let _ = writeln!(
            summary,
            "![Flow latencies per request](docs/bench/flows.png)\n"
        );
        let _ = writeln!(summary, "![Memory per service](docs/bench/rss.png)\n");
    }
    format!("{summary}{out}")
}

fn target_name(key: &str) -> &'static str {
    match key {
        "currentuser" => "`currentuser` ≥ 50% of the empty-handler ceiling",
        "tickets_list" => "`GET /api/tickets` (100) ≥ 50% of raw MongoDB",
        _ => "`POST /api/tickets` ≥ 50% of raw MongoDB + JetStream",
    }
}

pub fn ratio(route: &Value, ceiling: &Value) -> Option<f64> {
    let (r, c) = (route["rps"].as_f64()?, ceiling["rps"].as_f64()?);
    (c > 0.0).then(|| r / c)
}

fn rps(v: &Value) -> String {
    v["rps"].as_f64().map_or("—".into(), |x| format!("{x:.0}"))
}

fn ms(v: &Value) -> String {
    v.as_f64().map_or("—".into(), |x| {
        if x < 10.0 {
            format!("{x:.2}")
        } else {
            format!("{x:.0}")
        }
    })
}

fn one(v: Option<f64>) -> String {
    v.map_or("—".into(), |x| format!("{x:.1}"))
}

fn tick(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "✅",
        Some(false) => "❌",
        None => "—",
    }
}

/// `[["tickets", 0.6], …]` → `tickets 0.60, …` (the top five).
fn cores(cpu: &[Value]) -> String {
    cpu.iter()
        .take(5)
        .filter_map(|pair| Some(format!("{} {:.2}", pair[0].as_str()?, pair[1].as_f64()?)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn compact(v: &Value) -> String {
    v.as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| format!("`{k}` {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "an unknown CPU".to_owned())
}

fn memory_mb() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("MemTotal:")
                    .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
            })
        })
        .map_or(0, |kb| kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            root: "/repo".into(),
            stack_url: "http://127.0.0.1:1".into(),
            stack_dir: None,
            port_base: 3100,
            out_dir: "/repo/bench-reports/x".into(),
            bin_dir: "/bin".into(),
            smoke: false,
            connections: 16,
            warmup: std::time::Duration::ZERO,
            duration: std::time::Duration::ZERO,
            event_tickets: 1,
            flow_users: 1,
            flow_rate: 1,
            flow_seconds: 1,
        }
    }

    fn loop_of(rps: f64) -> Value {
        json!({ "name": "x", "rps": rps, "p50_ms": 1.0, "p99_ms": 3.0, "errors": 0, "cpu": [["tickets", 0.9]] })
    }

    #[test]
    fn figures_are_read_against_their_ceilings_and_targets() {
        let run = Run {
            micro: json!({
                "date": "2026-11-24T05:10:00Z", "connections": 16,
                "ceiling_empty_handler": loop_of(1000.0), "currentuser": loop_of(600.0),
                "ceiling_mongo_find_100": loop_of(1000.0), "tickets_list": loop_of(300.0),
                "ceiling_insert_and_publish": loop_of(1000.0), "tickets_create": null,
                "event_path": { "count": 1000, "p50_ms": 3.0, "p99_ms": 25.0, "max_ms": 40.0, "errors": 0 },
                "not_measured": ["perf not available: profiles left out"],
            }),
            flows: Value::Null,
            footprint: json!({ "idle_rss_kb": { "auth": 10240 }, "binary_bytes": { "auth": 10485760 } }),
            startup: Value::Null,
            audit_micro: json!({ "events": { "ticket:created": 3 }, "checks": [{ "what": "one ticket:created per ticket", "ok": true, "detail": "expected 3, found 3" }] }),
            audit_flows: Value::Null,
        };
        let text = render(&settings(), &run);
        assert!(
            text.contains(
                "| `currentuser` ≥ 50% of the empty-handler ceiling | 60% of ceiling | ✅ |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| `GET /api/tickets` (100) ≥ 50% of raw MongoDB | 30% of ceiling | ❌ |"
            ),
            "{text}"
        );
        assert!(text.contains("| `POST /api/tickets` ≥ 50% of raw MongoDB + JetStream | not measured: service not yet landed | — |"), "{text}");
        assert!(
            text.contains("| event path p99 < 20 ms | p99 25 ms | ❌ |"),
            "{text}"
        );
        assert!(
            text.contains("| zero errors in the flow load |") || !text.contains("zero errors"),
            "{text}"
        );
        assert!(
            text.contains("| idle RSS ≤ 15 MB per service | largest 10.0 MB | ✅ |"),
            "{text}"
        );
        assert!(
            text.contains(
                "| start → ready ≤ 100 ms (MongoDB/NATS up) | not measured in this run | — |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| no event lost or duplicated | every check holds | ✅ |"),
            "{text}"
        );
        assert!(
            text.contains("- ✅ one ticket:created per ticket — expected 3, found 3"),
            "{text}"
        );
        assert!(text.contains("| x | tickets 0.90 |"), "{text}");
        assert!(text.contains("_Run of 2026-11-24 05:10 UTC"), "{text}");
    }
}
