"""anxin (安心) — remote metrological monitoring of fuel dispensers."""

__version__ = "0.1.0"
