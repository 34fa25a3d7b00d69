"""Configuration of ``anxin serve``: defaults, then a TOML file, then environment
variables (``ANXIN_…``), then command-line options — each overriding the one before.
(Logging is the CLI's: ``anxin --log info`` or ``ANXIN_LOG``.)"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import msgspec


class ServeConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    db: str = "anxin-data/anxin.sqlite"  # a path (SQLite) or postgresql://…
    host: str = "127.0.0.1"
    port: int = 8080
    admin_token: str | None = None  # Bearer token of the registry/administration API; None: admin API off
    read_token: str | None = None  # Bearer token to read alarms (SSE, list); defaults to the admin token
    max_body_bytes: int = 8 * 1024 * 1024  # one upload
    max_lines: int = 20_000  # records in one upload
    rate_per_station: float = 50.0  # uploads per second per station (token bucket)
    burst_per_station: int = 100
    checkpoint_every: int = 200_000  # records between engine checkpoints
    registry: str | None = None  # registry.json to load when the database has none yet
    mqtt_url: str | None = None  # mqtt://host:1883 to run the MQTT bridge inside the service
    webhook_max_attempts: int = 8
    webhook_allow_private: bool = False  # allow webhooks to loopback/private addresses (a receiver on the LAN)
    console: bool = True  # the regulator console and the public nozzle pages
    reports_every_s: float = 3600.0  # how often to generate missing daily reports (0: never)
    public_base_url: str | None = None  # the address printed in the nozzle QR codes (default: as requested)


ENV_PREFIX = "ANXIN_"


def load_config(path: Path | None = None, **overrides: object) -> ServeConfig:
    """Defaults ← TOML file ← ANXIN_* environment ← ``overrides`` (None values ignored).
    Raises ValueError naming the bad key or value."""
    data: dict[str, object] = {}
    if path is not None:
        try:
            data.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"config file {path}: {exc}") from None
    fields = {f.name: f.type for f in msgspec.structs.fields(ServeConfig)}
    for name in fields:
        env = os.environ.get(ENV_PREFIX + name.upper())
        if env is not None:
            data[name] = env
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return msgspec.convert(data, ServeConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise ValueError(f"configuration: {exc}") from None
