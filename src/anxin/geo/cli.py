"""``anxin map load|show``: a city's district boundaries for the console's overview
(registered on the main Typer app; nothing of the ``server`` extra is imported before a
command runs).

``load`` checks the GeoJSON file as if it were hostile (:mod:`anxin.geo.boundaries`) and
stores it as the new current map, with its audit entry; a bad file is one line naming
where and what is wrong, and nothing is stored. ``show`` says what is loaded and how it
covers the registered stations: the districts with stations but no boundary, and the
stations that lie outside their own district's boundary (a coordinate system or a
name that differs from the registry's shows up there)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from anxin.cli_common import ConfigOpt, DbOpt, Fail, LangOpt, open_db
from anxin.cli_help import h
from anxin.i18n import t

if TYPE_CHECKING:
    from rich.console import Console

    from anxin.contract.registry import Registry
    from anxin.geo.boundaries import Boundaries
    from anxin.geo.queries import MapInfo
    from anxin.store.database import Store

SYSTEM = "system"  # the audit actor of what is done on the command line (as anxin.auth.cli's)
SHOWN = 20  # stations listed by name before "and n more"


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    map_app = typer.Typer(no_args_is_help=True, help=h("map"))
    app.add_typer(map_app, name="map")

    @map_app.command("load", help=h("map.load"))
    def map_load(
        file: Annotated[Path, typer.Argument(help=h("map.load.file"))],
        name_field: Annotated[
            str,
            typer.Option(
                "--name-field",
                help=h("map.load.name_field"),
            ),
        ] = "name",
        attribution: Annotated[
            str | None,
            typer.Option(
                "--attribution",
                help=h("map.load.attribution"),
            ),
        ] = None,
        attribution_en: Annotated[
            str | None,
            typer.Option(
                "--attribution-en",
                help=h("map.load.attribution_en"),
            ),
        ] = None,
        reason: Annotated[str, typer.Option("--reason", help=h("option.reason"))] = "anxin map load",
        db: DbOpt = None,
        config: ConfigOpt = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.geo.boundaries import MAX_BYTES, BoundaryError
        from anxin.geo.queries import load_boundaries
        from anxin.store.database import now_us

        data = _read(file, MAX_BYTES, fail)
        store = open_db(config, db, "write", fail)
        try:
            info, boundaries = load_boundaries(
                store,
                data,
                source=file.name,
                name_field=name_field,
                attribution=attribution,
                attribution_en=attribution_en,
                actor=SYSTEM,
                reason=reason,
                now_us=now_us(),
            )
        except BoundaryError as exc:
            store.close()
            fail(t("map_invalid").format(file=file.name, problem=exc.text()))
        try:
            registry = _registry(store)
        finally:
            store.close()
        console.print(
            f"[green]{escape(t('map_loaded').format(version=info.version, n=len(info.districts), vertices=info.vertices))}[/]",
            highlight=False,
            soft_wrap=True,
        )
        if not info.attribution:
            console.print(f"[yellow]{escape(t('map_no_attribution'))}[/]", highlight=False, soft_wrap=True)
        if registry is not None:
            _coverage(console, boundaries, registry)

    @map_app.command("show", help=h("map.show"))
    def map_show(db: DbOpt = None, config: ConfigOpt = None, _lang: LangOpt = None) -> None:
        from anxin.geo.queries import current_boundaries, map_versions

        store = open_db(config, db, "read", fail)
        try:
            found = current_boundaries(store)
            versions = map_versions(store)
            registry = _registry(store)
        finally:
            store.close()
        if found is None:
            console.print(t("map_none_loaded"), highlight=False, soft_wrap=True)
            return
        info, boundaries = found
        _header(console, info, versions)
        stations: dict[str, int] = {}
        if registry is not None:
            for s in registry.stations:
                stations[s.district] = stations.get(s.district, 0) + 1
        table = Table(title=t("map_districts"))
        for key in ("map_col_district", "map_col_polygons", "map_col_vertices", "map_col_stations"):
            table.add_column(t(key))
        for d in boundaries.districts:
            table.add_row(escape(d.name), str(len(d.polygons)), f"{d.vertices:,}", str(stations.get(d.name, 0)))
        console.print(table)
        if registry is not None:
            _coverage(console, boundaries, registry)
        else:
            console.print(t("map_no_registry"), highlight=False, soft_wrap=True)


def _read(file: Path, cap: int, fail: Fail) -> bytes:
    """The file's bytes, read no further than one byte past the cap (a huge file is not
    read into memory to be refused)."""
    try:
        with file.open("rb") as f:
            data = f.read(cap + 1)
    except OSError as exc:
        fail(t("map_cannot_read").format(file=file, reason=exc.strerror or exc))
    return data


def _registry(store: Store) -> Registry | None:
    from anxin.contract.registry import parse_registry

    latest = store.registry_latest()
    return None if latest is None else parse_registry(latest[1])


def _header(console: Console, info: MapInfo, versions: int) -> None:
    from anxin.contract.times import format_ts

    console.print(f"[bold]{escape(t('map_title').format(version=info.version, n=versions))}[/]", highlight=False)
    rows: list[tuple[str, str]] = [
        ("map_loaded_at", f"{format_ts(info.loaded_us)[:19].replace('T', ' ')} · {info.actor}"),
        ("map_source", f"{info.source} (sha256 {info.sha256.hex()[:16]}…) · {t('map_name_field')} {info.name_field}"),
        ("map_attribution", info.attribution or t("map_attribution_none")),
    ]
    if info.attribution_en:
        rows.append(("map_attribution_en", info.attribution_en))
    for key, value in rows:
        console.print(f"{t(key)}{t('map_colon')}{escape(value)}", highlight=False, soft_wrap=True)


def _coverage(console: Console, boundaries: Boundaries, registry: Registry) -> None:
    from anxin.geo.boundaries import coverage

    cov = coverage(boundaries, registry.stations)
    names = {s.station_id: s.name for s in registry.stations}
    district = {s.station_id: s.district for s in registry.stations}
    if not cov.unmapped and not cov.outside:
        console.print(f"[green]{escape(t('map_covers_all'))}[/]", highlight=False, soft_wrap=True)
        return
    if cov.unmapped:
        console.print(f"[yellow]{escape(t('map_unmapped'))}[/]", highlight=False, soft_wrap=True)
        for d, ids in cov.unmapped.items():
            listed = " ".join(ids[:SHOWN]) + (
                f" {t('map_more').format(n=len(ids) - SHOWN)}" if len(ids) > SHOWN else ""
            )
            console.print(f"  {escape(d)}{t('map_colon')}{escape(listed)}", highlight=False, soft_wrap=True)
    if cov.outside:
        console.print(
            f"[yellow]{escape(t('map_outside').format(n=len(cov.outside)))}[/]", highlight=False, soft_wrap=True
        )
        for sid, where in cov.outside[:SHOWN]:
            lies = t("map_lies_in").format(district=where) if where else t("map_lies_nowhere")
            line = t("map_station_lies").format(station=sid, name=names[sid], district=district[sid], lies=lies)
            console.print(f"  {escape(line)}", highlight=False, soft_wrap=True)
        if len(cov.outside) > SHOWN:
            console.print(f"  {t('map_more').format(n=len(cov.outside) - SHOWN)}", highlight=False)
