"""Configuration of ``anxin serve``: defaults, then a TOML file, then environment
variables (``ANXIN_…``), then command-line options — each overriding the one before.
(Logging is the CLI's: ``anxin --log info`` or ``ANXIN_LOG``.)

A secret (:data:`SECRETS`: the tokens, and the database and MQTT addresses, which may
carry a password) never has to be on a command line: ``ANXIN_ADMIN_TOKEN=…``, or
``ANXIN_ADMIN_TOKEN_FILE=/run/secrets/admin_token`` — the file's content, stripped of
surrounding white space, is the value (Docker secrets, systemd ``LoadCredential=``).
Setting both the variable and its ``_FILE`` is an error."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Literal

import msgspec

from anxin.i18n import t
from anxin.keyed import KeyedError, Message, os_reason
from anxin.retention.periods import Retention


class ConfigError(KeyedError, ValueError):
    """The configuration cannot be used — which file, variable or key, and why: a key of
    the catalog's ``config_error`` table, worded for the operator in the process's
    language (``str(exc)``; a ValueError, as callers catch)."""

    context = "config_error"


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
    # How often the platform's clock is read for ticks (contract v1.1 §D): DATA_OUTAGE of a
    # silent station, the decisions of one silent for a day. 0: never (replays, tests).
    clock_every_s: float = 60.0
    public_base_url: str | None = None  # the address printed in the nozzle QR codes (default: as requested)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (uvicorn's
    # forwarded_allow_ips): the client address and scheme come from them. Comma-separated
    # addresses or networks, "*" for any (only when nothing else can reach the port).
    # Empty (the default): no proxy is believed, the address is the connection's — a
    # deployment behind nginx names it (deploy/systemd/serve.env.example, compose.yaml).
    forwarded_allow_ips: str = ""
    # The console's cookies (session, device, form) carry Secure: sent over HTTPS only.
    # Off only for plain HTTP on one's own machine (the demo, tests).
    cookie_secure: bool = True
    # Bearer token of GET /metrics. Without one, /metrics answers only connections from
    # this machine's loopback that no proxy forwarded.
    metrics_token: str | None = None
    # The platform's own key that signs evidence bundles (anxin.supervision.signing): its
    # text (PEM Ed25519, ed25519:<hex>, sm2:<hex>), best from ANXIN_SIGNING_KEY_FILE; None:
    # a key made on first use and kept in the database, of signing_key_alg (ed25519 | sm2).
    signing_key: str | None = None
    signing_key_alg: str = "ed25519"
    # An RFC 3161 time-stamping authority for the bundles' manifests (None: no timestamp).
    tsa_url: str | None = None
    # Scale-out (anxin.cluster, docs/scale-out.md): the NATS servers (comma-separated
    # nats:// addresses), the cluster's name (its stream, subjects and lease bucket are
    # named after it), the partitions of its stream (set once: changing it is a
    # migration), the stream's replicas (3 in production, 1 on one machine), how long a
    # worker's lease lasts without a heartbeat, and how long the stream keeps a message.
    nats_url: str = "nats://127.0.0.1:4222"
    cluster: str = "anxin"
    partitions: int = 64
    stream_replicas: int = 1
    lease_ttl_s: float = 10.0
    stream_max_age_days: float = 7.0
    # The receivers' and workers' shared key: each message carries an HMAC of what the
    # receiver decided (the signature's verdict above all), so that nothing else that
    # reaches the stream can pass for a receiver. None: the stream is trusted as it is.
    cluster_secret: str | None = None
    # OpenTelemetry traces of each upload (anxin.observe.tracing; the [otel] extra),
    # exported over OTLP/HTTP as the standard OTEL_EXPORTER_OTLP_* variables say.
    otel: bool = False
    # The latest `anxin certify` report (its certify.json; certify.pdf beside it): the
    # figures the console's alarm pages link to. The default is where `anxin certify`
    # writes run from the same directory.
    certify_report: str = "anxin-data/certify/certify.json"
    # Personal data in a record (docs/privacy.md): a card, account, phone, ID or plate
    # number in an unknown field or in a settlement's payment is tokenised (a keyed HMAC;
    # refused in a signed record, whose bytes cannot change), refused, or kept.
    privacy: Literal["refuse", "tokenise", "keep"] = "tokenise"
    # The tokens' key (best from ANXIN_PRIVACY_KEY_FILE); None: one made on first use and
    # kept in the database.
    privacy_key: str | None = None
    # How long each class of data is kept, in days (anxin.retention, docs/privacy.md), and
    # how often anxin serve purges what is past its period (0: never; `anxin purge`).
    retention: Retention = msgspec.field(default_factory=Retention)
    purge_every_s: float = 86400.0


ENV_PREFIX = "ANXIN_"
SECRETS = (  # also read from ANXIN_<KEY>_FILE
    "admin_token",
    "read_token",
    "db",
    "mqtt_url",
    "metrics_token",
    "signing_key",
    "nats_url",
    "cluster_secret",
    "privacy_key",
)


def env_name(key: str) -> str:
    return ENV_PREFIX + key.upper()


def secret_from_env(name: str) -> str | None:
    """The value of the environment variable ``name``, or the stripped content of the
    file named by ``name``_FILE; None when neither is set. Raises ValueError naming the
    variable when both are set or the file cannot be read or is empty."""
    value, file_ = os.environ.get(name), os.environ.get(name + "_FILE")
    if file_ is None:
        return value
    if value is not None:
        raise ValueError(t("secret_both").format(name=name))
    try:
        content = Path(file_).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(t("secret_file_bad").format(name=name, path=file_, reason=os_reason(exc))) from None
    if not content:
        raise ValueError(t("secret_file_empty").format(name=name, path=file_))
    return content


def load_config(path: Path | None = None, **overrides: object) -> ServeConfig:
    """Defaults ← TOML file ← ANXIN_* environment (ANXIN_*_FILE for secrets) ← ``overrides``
    (None values ignored). Raises :class:`ConfigError` (a ValueError) naming the file, the
    bad key or value."""
    data: dict[str, object] = {}
    if path is not None:
        try:
            data.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError("file_unreadable", path=str(path), reason=os_reason(exc)) from None
        except tomllib.TOMLDecodeError as exc:
            raise _not_toml(path, exc) from None
    for f in msgspec.structs.fields(ServeConfig):
        name = env_name(f.name)
        env = secret_from_env(name) if f.name in SECRETS else os.environ.get(name)
        if env is not None:
            data[f.name] = env
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        cfg = msgspec.convert(data, ServeConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid(exc) from None
    for name, days, floor in cfg.retention.problems():  # (the purge would refuse to run)
        raise ConfigError("retention_below_floor", key=name, days=days, floor=floor)
    return cfg


def _not_toml(path: Path, exc: tomllib.TOMLDecodeError) -> ConfigError:
    """The file is not TOML: where (its line and column, or its end), the parser's own
    words in English only."""
    detail = str(exc)
    where: str | Message = ""
    if m := re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", detail, re.S):
        detail, where = m[1], Message(ctx="config_error", key="at_line", params={"line": m[2], "column": m[3]})
    elif m := re.fullmatch(r"(.*) \(at end of document\)", detail, re.S):
        detail, where = m[1], Message(ctx="config_error", key="at_end")
    return ConfigError("file_not_toml", path=str(path), detail=detail, where=where)


def _invalid(exc: msgspec.ValidationError) -> ConfigError:
    """A key that is not one, or a value that does not fit its key: the key named."""
    text = str(exc)
    if m := re.fullmatch(r"Object contains unknown field `(.+)`", text):
        return ConfigError("unknown_key", key=m[1])
    if m := re.fullmatch(r"(.*) - at `\$\.(\w+)`", text, re.S):
        return ConfigError("bad_value", key=m[2], detail=m[1])
    return ConfigError("invalid", detail=text)
