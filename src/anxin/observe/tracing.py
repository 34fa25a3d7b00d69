"""Optional OpenTelemetry traces (``pip install 'anxin[otel]'``, config ``otel = true`` or
``ANXIN_OTEL=true``): a
span per upload (``anxin.upload``), its ingest (``anxin.ingest``), the ledger append
(``anxin.ledger.append``), the engine (``anxin.engine.feed``), the outputs stored
(``anxin.alarms.store``) and the new alarms announced (``anxin.alarms.announce``) —
one trace from the station's request to the webhook being woken.

Off, it costs one global read per span site and imports nothing of OpenTelemetry:
:func:`span` hands back a shared no-op context manager. On, the spans go to the
tracer provider given to :func:`enable` (tests: the SDK's in-memory exporter) or,
from :func:`enable_otlp` (``anxin serve`` with ``otel`` on), to an OTLP/HTTP exporter
configured by the standard ``OTEL_EXPORTER_OTLP_*`` and ``OTEL_SERVICE_NAME`` variables."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from typing import Any

_tracer: Any = None
_NOOP = contextlib.nullcontext()


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
    Raises ImportError (its ``name`` the missing module) when OpenTelemetry is not installed."""
    global _tracer
    from opentelemetry import trace

    import anxin

    _tracer = trace.get_tracer("anxin", anxin.__version__, tracer_provider=provider)


def disable() -> None:
    global _tracer
    _tracer = None


def enable_otlp() -> None:
    """Spans exported over OTLP/HTTP in batches (the SDK's BatchSpanProcessor: the request
    path never waits for the collector). Raises ImportError (its ``name`` the missing
    module: ``anxin``'s command line then names the [otel] extra) without it."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "anxin")}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    enable(provider)
