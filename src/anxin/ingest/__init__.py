"""Ingest adapters around the one ingest path (``service.IngestService``)."""
