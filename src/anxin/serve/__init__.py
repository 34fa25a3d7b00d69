"""``anxin serve``: the live service (FastAPI) around the ingest path and the store."""
