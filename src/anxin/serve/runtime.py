"""Wiring of the live service from its configuration (used by the CLI and by tests
that start the service in-process)."""

from __future__ import annotations

from pathlib import Path

from anxin.engine import EngineSettings
from anxin.ingest.service import IngestService
from anxin.serve.config import ServeConfig, load_config
from anxin.store.database import Store, StoreError


def open_store(config_path: Path | None, db: str | None) -> Store:
    cfg = load_config(config_path, db=db)
    return _store(cfg)


def _store(cfg: ServeConfig) -> Store:
    try:
        return Store(cfg.db)
    except Exception as exc:  # unreachable server, bad URL, a schema newer than this code
        raise StoreError(f"cannot open the database {cfg.db}: {type(exc).__name__}: {exc}") from exc


def build(config_path: Path | None = None, **overrides):
    """(config, service, ASGI app) — the store opened and migrated, the engine recovered."""
    from anxin.serve.app import create_app

    registry = overrides.pop("registry", None)
    cfg = load_config(config_path, **overrides, registry=str(registry) if registry else None)
    store = _store(cfg)
    service = IngestService(store, EngineSettings(), checkpoint_every=cfg.checkpoint_every)
    if service.registry is None and cfg.registry:
        path = Path(cfg.registry)
        service.set_registry(path.read_bytes(), author="anxin serve", reason=f"initial registry from {path.name}")
    return cfg, service, create_app(cfg, service)
