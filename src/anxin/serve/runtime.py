"""Wiring of the live service from its configuration (used by the CLI and by tests
that start the service in-process)."""

from __future__ import annotations

from pathlib import Path

from anxin.serve.config import load_config
from anxin.store.access import Access
from anxin.store.access import open_store as _open
from anxin.store.database import Store


def open_store(config_path: Path | None, db: str | None, *, access: Access, check_schema: bool = True) -> Store:
    """The database of the configuration (``--config``, ``ANXIN_DB``, ``--db``), opened as
    ``access`` says (see :func:`anxin.store.access.open_store`: only ``anxin serve``,
    ``anxin demo`` and ``anxin db upgrade`` migrate). Raises ValueError (configuration)
    or StoreError, each with a one-line reason."""
    cfg = load_config(config_path, db=db)
    return _open(cfg.db, access, check_schema=check_schema)


def build(config_path: Path | None = None, **overrides):
    """(config, service, ASGI app) — the store opened and migrated, the engine recovered
    (``read_side``: the scale-out's read side instead, :mod:`anxin.cluster.read_side`)."""
    from anxin.engine import EngineSettings
    from anxin.ingest.service import IngestService
    from anxin.serve.app import create_app

    registry = overrides.pop("registry", None)
    read_side = overrides.pop("read_side", False)
    cfg = load_config(config_path, **overrides, registry=str(registry) if registry else None)
    store = _open(cfg.db, "migrate")
    service: IngestService
    if read_side:  # the scale-out's read side: the console over the cluster's store, no engine
        from anxin.cluster.read_side import ReadSide
        from anxin.i18n import t

        if store.dialect != "postgresql":
            store.close()
            raise ValueError(t("cluster_needs_postgresql"))
        service = ReadSide(store, cfg)
    else:
        from anxin.ingest.privacy import policy

        privacy = policy(store, mode=cfg.privacy, key=cfg.privacy_key)
        service = IngestService(store, EngineSettings(), checkpoint_every=cfg.checkpoint_every, privacy=privacy)
    if service.registry is None and cfg.registry:
        path = Path(cfg.registry)
        # (a reason the audit page words; the document itself is named by its sha256)
        service.set_registry(path.read_bytes(), author="anxin serve", reason="initial registry")
    return cfg, service, create_app(cfg, service)


def build_receiver(config_path: Path | None = None, **overrides):
    """(config, ASGI app) of a scale-out receiver: the cluster's PostgreSQL (tokens, the
    registry, rejects), its stream (connected when the app starts)."""
    from anxin.cluster.receiver import Receiver
    from anxin.cluster.receiver_app import create_receiver_app
    from anxin.i18n import t

    cfg = load_config(config_path, **overrides)
    store = _open(cfg.db, "write")
    if store.dialect != "postgresql":
        store.close()
        raise ValueError(t("cluster_needs_postgresql"))
    return cfg, create_receiver_app(cfg, Receiver(cfg, store))
