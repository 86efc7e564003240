//! Logs and traces, both through `tracing`.
//!
//! **Logs** are human-readable by default and JSON with `LOG_FORMAT=json` (for a log pipeline in
//! Kubernetes), filtered by `RUST_LOG` (default `info`).
//!
//! **Traces** are OpenTelemetry's: `tracing` spans become OpenTelemetry spans
//! (`tracing-opentelemetry`), exported over OTLP/HTTP (protobuf) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set — the exporter reads that variable and the other standard
//! `OTEL_EXPORTER_OTLP_*` / `OTEL_BSP_*` ones itself, so a collector is configured the way every
//! OpenTelemetry SDK is. The spans that make a trace, and what carries it between services:
//!
//! | span | kind | parent |
//! |---|---|---|
//! | `GET /api/tickets/{id}` (one per request, named by its route) | server | the request's `traceparent` header |
//! | `publish order:created` (outbox fast path, relay, expiration worker) | producer | the span that staged the event (its `traceparent` is stored with the outbox entry, or with the expiration job) |
//! | `process order:created` (one per delivery) | consumer | the publish span, from the message's `traceparent` header |
//!
//! So an event published by the relay a minute after its request still belongs to the request's
//! trace, and whatever a listener publishes in turn continues it.
//!
//! **What it costs when off.** With neither an endpoint nor JSON logs the OpenTelemetry layer is
//! not installed at all: spans are the plain `tracing` spans the logs always had, and no
//! `traceparent` is stored or sent (the helpers below find no trace and return `None`). With JSON
//! logs but no endpoint, traces are made but not exported, so that every log line written inside a
//! span carries `trace_id` and `span_id` and one purchase can still be followed across the six
//! services' logs with one id.

use std::collections::HashMap;
use std::fmt;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::field::{Field, Visit};
use tracing::{Event, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

/// The header (HTTP and NATS alike) and the outbox field that carry a trace: W3C Trace Context.
pub const TRACEPARENT: &str = "traceparent";

/// Keeps the trace exporter alive; dropping it (when `main` returns) flushes the spans not yet
/// exported.
#[must_use = "dropping it at once stops the trace export"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("cannot flush the last traces: {error}");
        }
    }
}

/// What to install, from the environment (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// `LOG_FORMAT=json`.
    pub json: bool,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
    pub export: bool,
}

impl Settings {
    pub fn from_env() -> Self {
        Self {
            json: std::env::var("LOG_FORMAT")
                .is_ok_and(|format| format.eq_ignore_ascii_case("json")),
            export: std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").is_ok_and(|url| !url.is_empty()),
        }
    }
}

/// Installs logging to stderr, and tracing as the module says, for the service `name` (the
/// `service.name` of its spans). A second call in one process (tests starting several apps)
/// keeps the first.
pub fn init(name: &'static str) -> Telemetry {
    let (subscriber, telemetry) = subscriber(name, Settings::from_env(), std::io::stderr);
    match subscriber.try_init() {
        Ok(()) => telemetry,
        // Not ours to flush: an earlier call's subscriber won.
        Err(_) => Telemetry { provider: None },
    }
}

/// The subscriber [`init`] installs, writing its log lines to `writer` (tests read them back).
pub fn subscriber<W>(
    name: &'static str,
    settings: Settings,
    writer: W,
) -> (impl Subscriber + Send + Sync + 'static, Telemetry)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let provider =
        (settings.export || settings.json).then(|| tracer_provider(name, settings.export));
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer(name)));
    let dispatch = DispatchHandle::default();
    let logs = if settings.json {
        tracing_subscriber::fmt::layer()
            .event_format(WithTraceIds {
                format: tracing_subscriber::fmt::format().json(),
                dispatch: dispatch.clone(),
            })
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .with_writer(writer)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .fmt_fields(WithoutOtelFields)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(writer)
            .boxed()
    };
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(traces)
        .with(dispatch);
    (subscriber, Telemetry { provider })
}

fn tracer_provider(name: &'static str, export: bool) -> SdkTracerProvider {
    let builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(name).build());
    if !export {
        return builder.build();
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        // The batch processor exports from a thread of its own, off the request path.
        Ok(exporter) => builder.with_batch_exporter(exporter).build(),
        Err(error) => {
            eprintln!("traces will not be exported: {error}");
            builder.build()
        }
    }
}

/// The W3C `traceparent` of `span`, if it belongs to a trace (tracing is on).
pub fn traceparent_of(span: &Span) -> Option<String> {
    let context = span.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The `traceparent` of the current span: what an event staged or a job scheduled now carries.
pub fn traceparent() -> Option<String> {
    traceparent_of(&Span::current())
}

/// Makes `span` a child of the span `traceparent` names (from a header, an outbox entry, a job);
/// nothing if there is none, it does not parse, or tracing is off.
pub fn set_parent(span: &Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        // Fails only when tracing is off, which leaves nothing to link.
        let _ = span.set_parent(parent);
    }
}

/// The dispatcher the subscriber was installed as, kept (weakly) by a layer of its own so the
/// log format can ask the OpenTelemetry layer for a span's ids. (`dispatcher::get_default` would
/// not do: inside an event it answers "none" whenever a scoped dispatcher exists, as in tests.)
#[derive(Clone, Default)]
struct DispatchHandle(std::sync::Arc<std::sync::OnceLock<tracing::dispatcher::WeakDispatch>>);

impl<S: Subscriber> tracing_subscriber::Layer<S> for DispatchHandle {
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        let _ = self.0.set(subscriber.downgrade());
    }
}

impl DispatchHandle {
    /// The trace and span ids of the span with `id`, as the logs print them.
    fn trace_ids(&self, id: &tracing::span::Id) -> Option<(String, String)> {
        let dispatch = self.0.get()?.upgrade()?;
        let context = tracing_opentelemetry::get_otel_context(id, &dispatch)?;
        let span = context.span();
        let span_context = span.span_context();
        span_context.is_valid().then(|| {
            (
                span_context.trace_id().to_string(),
                span_context.span_id().to_string(),
            )
        })
    }
}

/// JSON lines with `trace_id` and `span_id` of the span they were written in, added to what
/// `tracing-subscriber`'s JSON format writes.
struct WithTraceIds<F> {
    format: F,
    dispatch: DispatchHandle,
}

impl<S, N, F> FormatEvent<S, N> for WithTraceIds<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let ids = context
            .parent_span()
            .and_then(|span| self.dispatch.trace_ids(&span.id()));
        let Some((trace_id, span_id)) = ids else {
            return self.format.format_event(context, writer, event);
        };
        let mut line = String::new();
        self.format
            .format_event(context, Writer::new(&mut line), event)?;
        // The JSON format writes one object and a newline: the ids go in before its brace.
        match line.strip_suffix("}\n") {
            Some(object) => writeln!(
                writer,
                r#"{object},"trace_id":"{trace_id}","span_id":"{span_id}"}}"#
            ),
            None => writer.write_str(&line),
        }
    }
}

/// The human-readable format's fields without those that only the exporter needs (span name and
/// kind, constant messaging attributes), which would repeat themselves on every line.
struct WithoutOtelFields;

/// What [`WithoutOtelFields`] leaves out: fields whose name starts with one of these.
const EXPORTER_ONLY: [&str; 3] = ["otel.", "messaging.system", "messaging.operation."];

impl<'writer> FormatFields<'writer> for WithoutOtelFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = FieldWriter {
            writer,
            empty: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }

    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        let mut added = String::new();
        self.format_fields(Writer::new(&mut added), fields)?;
        if !added.is_empty() {
            if !current.fields.is_empty() {
                current.fields.push(' ');
            }
            current.fields.push_str(&added);
        }
        Ok(())
    }
}

struct FieldWriter<'writer> {
    writer: Writer<'writer>,
    empty: bool,
    result: fmt::Result,
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        // As the default format writes them: the message as it is, other strings quoted.
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let exporter_only = EXPORTER_ONLY
            .iter()
            .any(|prefix| field.name().starts_with(prefix));
        if self.result.is_err() || exporter_only {
            return;
        }
        let separator = if self.empty { "" } else { " " };
        self.empty = false;
        // One event is one line, whatever a value holds: control characters (a CR/LF in a card
        // token or in a message that echoes user input) are written escaped, so no text can
        // start a forged line of its own. (JSON lines are escaped by the JSON encoder.)
        let written = format!("{value:?}");
        let value = escape_controls(&written);
        self.result = if field.name() == "message" {
            write!(self.writer, "{separator}{value}")
        } else {
            write!(self.writer, "{separator}{}={value}", field.name())
        };
    }
}

/// `text` with every control character written as its escape (`\r`, `\n`, `\u{1b}`, …).
fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            escaped.extend(c.escape_default());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}
