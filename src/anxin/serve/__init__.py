"""``anxin serve``: the live service (FastAPI) around the ingest path and the store.

Its own SQL (the API tokens) is only in :mod:`~anxin.serve.queries` and
:mod:`~anxin.serve.service`; :mod:`~anxin.serve.tokens` makes and hashes the tokens."""
