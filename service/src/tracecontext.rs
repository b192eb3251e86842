//! W3C trace context for the places the service layer touches traces
//! (docs/observability.md): the outbox remembers the `traceparent` of the
//! request that wrote a mail, the mail worker links its send span to it, and
//! the storage calls get spans of their own.
//!
//! The exporter and the subscriber are the binary's (`api::telemetry`);
//! this module only reads and writes the context of `tracing` spans, and
//! does nothing while tracing is off ([`enabled`] is false), so the logs and
//! the cost of a request stay as they were.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Called once by the subscriber's set-up when spans are exported.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether spans are exported (`OTEL_EXPORTER_OTLP_ENDPOINT` is set).
#[must_use]
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// `00-<trace id>-<span id>-<flags>`, the `traceparent` of `span`, when it
/// belongs to a trace.
#[must_use]
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !enabled() {
        return None;
    }
    let cx = span.context();
    format(cx.span().span_context())
}

/// The `traceparent` of the span the caller runs in (for the outbox).
#[must_use]
pub fn current_traceparent() -> Option<String> {
    traceparent_of(&tracing::Span::current())
}

/// `00-<trace id>-<span id>-<flags>` of a valid context.
#[must_use]
pub fn format(cx: &SpanContext) -> Option<String> {
    cx.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            cx.trace_id(),
            cx.span_id(),
            cx.trace_flags().to_u8()
        )
    })
}

/// Parses a version-00 `traceparent` (as [`format`] writes it) into a
/// remote span context; `None` for anything else.
#[must_use]
pub fn parse(traceparent: &str) -> Option<SpanContext> {
    let mut parts = traceparent.trim().split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    if version != "00"
        || parts.next().is_some()
        || !hex(trace, 32)
        || !hex(span, 16)
        || !hex(flags, 2)
    {
        return None;
    }
    let cx = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    cx.is_valid().then_some(cx)
}

/// Links `span` to the trace `traceparent` names (a mail's send span to the
/// request that wrote the mail). Nothing when tracing is off or the value
/// is not a valid `traceparent`.
pub fn link(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(cx) = traceparent.filter(|_| enabled()).and_then(parse) {
        span.add_link(cx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_round_trips() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = parse(tp).expect("valid");
        assert!(cx.is_remote() && cx.is_sampled());
        assert_eq!(format(&cx).as_deref(), Some(tp));
    }

    #[test]
    fn malformed_or_zero_traceparents_are_refused() {
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xx",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
