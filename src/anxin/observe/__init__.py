"""What operators watch (docs/live-service.md, "Observability"): the Prometheus exposition
shared by ``anxin serve`` and the receivers (the client library's process, GC and platform
collectors, ``anxin_build_info``, latency histograms), the time from a sale's receipt to
its alarm, and optional OpenTelemetry traces (:mod:`anxin.observe.tracing`)."""
