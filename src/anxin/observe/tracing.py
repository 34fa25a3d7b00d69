"""Optional OpenTelemetry traces (``pip install 'anxin[otel]'``, ``ANXIN_OTEL=1``): a
span per upload (``anxin.upload``), its ingest (``anxin.ingest``), the ledger append
(``anxin.ledger.append``), the engine (``anxin.engine.feed``), the outputs stored
(``anxin.alarms.store``) and the new alarms announced (``anxin.alarms.announce``) —
one trace from the station's request to the webhook being woken.

Off, it costs one global read per span site and imports nothing of OpenTelemetry:
:func:`span` hands back a shared no-op context manager. On, the spans go to the
tracer provider given to :func:`enable` (tests: the SDK's in-memory exporter) or,
from :func:`enable_from_env`, to an OTLP/HTTP exporter configured by the standard
``OTEL_EXPORTER_OTLP_*`` and ``OTEL_SERVICE_NAME`` variables."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

_tracer: Any = None
_NOOP = contextlib.nullcontext()
ENV = "ANXIN_OTEL"


def span(
    name: str, attributes: Mapping[str, str | int | float | bool] | None = None
) -> contextlib.AbstractContextManager:
    """A span named ``name`` as the current span's child, or nothing when tracing is off."""
    tracer = _tracer
    if tracer is None:
        return _NOOP
    return tracer.start_as_current_span(name, attributes=attributes)


def enabled() -> bool:
    return _tracer is not None


def enable(provider: Any = None) -> None:
    """Trace from now on, with ``provider`` (an SDK ``TracerProvider``) or the global one.
    Raises ImportError (naming the extra) when OpenTelemetry is not installed."""
    global _tracer
    try:
        from opentelemetry import trace
    except ImportError as exc:
        raise ImportError("tracing needs OpenTelemetry: pip install 'anxin[otel]'") from exc
    import anxin

    _tracer = trace.get_tracer("anxin", anxin.__version__, tracer_provider=provider)


def disable() -> None:
    global _tracer
    _tracer = None


def enable_from_env() -> bool:
    """With ``ANXIN_OTEL=1`` (also true/yes/on): spans exported over OTLP/HTTP in batches
    (the SDK's BatchSpanProcessor: the request path never waits for the collector).
    Returns whether tracing is on; raises ImportError naming the extra when it is asked
    for and not installed, ValueError for a value that is not a yes or a no."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return False
    if value not in ("1", "true", "yes", "on"):
        raise ValueError(f"{ENV}={value!r}: use 1 (trace, exported over OTLP) or 0")
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError(f"{ENV} is set but OpenTelemetry is not installed: pip install 'anxin[otel]'") from exc
    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "anxin")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    enable(provider)
    return True
