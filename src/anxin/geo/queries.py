"""The district maps in the store (SQLAlchemy Core): loading one (checked, stored as a
new version and written to the audit log in one transaction), the current one for the
console, and their history.

Every load is a version of its own and the older ones are kept: what the overview drew
at a given time, from which file and under whose attribution, stays answerable (a map
is a few hundred kilobytes; a city loads a new one rarely)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from anxin import audit
from anxin.geo.boundaries import MAX_ATTRIBUTION, Boundaries, BoundaryError, clean_text, parse_boundaries
from anxin.store import schema as T
from anxin.store.database import Store
from anxin.store.results import inserted_id

_M = T.district_maps.c


@dataclass(frozen=True)
class MapInfo:
    """A stored map without its document."""

    version: int
    loaded_us: int
    actor: str
    source: str
    sha256: bytes
    name_field: str
    attribution: str
    attribution_en: str | None
    districts: list[str]
    vertices: int

    def attribution_in(self, lang: str) -> str:
        """The attribution for a reader of ``lang`` (the English one when there is one)."""
        return (self.attribution_en or self.attribution) if lang == "en" else self.attribution


_INFO = (
    _M.version,
    _M.loaded_us,
    _M.actor,
    _M.source,
    _M.sha256,
    _M.name_field,
    _M.attribution,
    _M.attribution_en,
    _M.districts,
    _M.vertices,
)


def _info(row: Any) -> MapInfo:
    m = row._mapping
    return MapInfo(
        version=int(m["version"]),
        loaded_us=int(m["loaded_us"]),
        actor=m["actor"],
        source=m["source"],
        sha256=bytes(m["sha256"]),
        name_field=m["name_field"],
        attribution=m["attribution"],
        attribution_en=m["attribution_en"],
        districts=list(m["districts"]),
        vertices=int(m["vertices"]),
    )


def _attribution(value: str | None, where: str) -> str | None:
    if value is None or not value.strip():
        return None
    text = clean_text(value, limit=MAX_ATTRIBUTION)
    if text is None:
        raise BoundaryError(where, "bad_attribution", cap=MAX_ATTRIBUTION)
    return text


def load_boundaries(
    store: Store,
    data: bytes,
    *,
    source: str,
    name_field: str = "name",
    attribution: str | None = None,
    attribution_en: str | None = None,
    actor: str,
    reason: str,
    now_us: int,
) -> tuple[MapInfo, Boundaries]:
    """Check ``data`` (a GeoJSON file's bytes) and store it as the new current map, with
    its audit entry (``map.load``, the attribution in its data) in the same transaction.
    Raises :class:`BoundaryError` — and stores nothing — when the file or an attribution
    is not acceptable."""
    if not name_field or len(name_field) > 64:
        raise BoundaryError("--name-field", "bad_name_field")
    text = _attribution(attribution, "--attribution") or ""
    text_en = _attribution(attribution_en, "--attribution-en")
    boundaries = parse_boundaries(data, name_field=name_field)
    digest = hashlib.sha256(data).digest()
    shown = source.encode("utf-8", "backslashreplace").decode("utf-8")[-300:]  # (a file name's stray bytes)
    with store.engine.begin() as c:
        version = inserted_id(
            c.execute(
                T.district_maps.insert().values(
                    loaded_us=now_us,
                    actor=actor,
                    source=shown,
                    sha256=digest,
                    name_field=name_field,
                    attribution=text,
                    attribution_en=text_en,
                    districts=boundaries.names,
                    vertices=boundaries.vertices,
                    document=boundaries.to_geojson(),
                )
            )
        )
        audit.append(
            c,
            actor=actor,
            action="map.load",
            subject=f"district_map:{version}",
            reason=reason,
            data={
                "source": shown,
                "sha256": digest.hex(),
                "attribution": text,
                "attribution_en": text_en,
                "districts": len(boundaries.districts),
                "vertices": boundaries.vertices,
            },
            now_us=now_us,
        )
    info = MapInfo(
        version=version,
        loaded_us=now_us,
        actor=actor,
        source=shown,
        sha256=digest,
        name_field=name_field,
        attribution=text,
        attribution_en=text_en,
        districts=boundaries.names,
        vertices=boundaries.vertices,
    )
    return info, boundaries


def current_map(store: Store) -> MapInfo | None:
    """The current map (the newest load), without its document; None when none was loaded."""
    with store.engine.connect() as c:
        row = c.execute(select(*_INFO).order_by(_M.version.desc()).limit(1)).first()
    return None if row is None else _info(row)


def map_document(store: Store, version: int | None = None) -> tuple[MapInfo, bytes] | None:
    """A map (the current one unless ``version``) with its GeoJSON; None when there is none."""
    q = select(*_INFO, _M.document)
    q = q.order_by(_M.version.desc()).limit(1) if version is None else q.where(_M.version == version)
    with store.engine.connect() as c:
        row = c.execute(q).first()
    return None if row is None else (_info(row), bytes(row._mapping["document"]))


def current_boundaries(store: Store) -> tuple[MapInfo, Boundaries] | None:
    """The current map read back as districts (it was checked when loaded)."""
    found = map_document(store)
    if found is None:
        return None
    info, document = found
    return info, parse_boundaries(document)


def map_versions(store: Store) -> int:
    """How many maps were ever loaded."""
    with store.engine.connect() as c:
        return int(c.execute(select(func.count()).select_from(T.district_maps)).scalar_one())
