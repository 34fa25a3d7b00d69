"""``anxin receipt verify``: a receipt checked offline — the receipt's link (the QR code's
text), the evidence (the bundle the receipt page downloads, or the records themselves as
JSON Lines) and the keys (the regulator's registry.json, or one key). The checks are
:mod:`anxin.receipt.check`'s, the server's and the page script's; the keys are the
registry's, never the bundle's. Exit status 0 verified, 1 not verified, 2 unusable input.
Minimal install."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn

import msgspec
import typer
from rich.console import Console
from rich.markup import escape

from anxin.cli_common import LangOpt
from anxin.cli_help import h
from anxin.keyed import render

Fail = Callable[[str], NoReturn]
BUNDLE_MAX = 4 * 1024 * 1024  # a bundle is a few kilobytes; anything this large is not one


def _w(key: str, **params: Any) -> str:
    return render("receipt", key, params)


def bundle_from_records(lines: list[bytes], receipt: Any) -> dict[str, Any] | None:
    """The receipt's bundle built from records as sent (JSON Lines of any kinds)."""
    from anxin.contract.canonical import canonical_of_line
    from anxin.receipt.check import BETWEEN_MAX, FORMAT, MAX_RECORD_CHARS
    from anxin.receipt.digest import public_sale, receipt_of

    def item(raw: bytes) -> dict[str, Any]:
        try:
            message, sig = canonical_of_line(raw)
        except (msgspec.DecodeError, ValueError):  # (not a record the platform would take)
            return {"canonical": None, "sig": ""}
        return {"canonical": message.decode(), "sig": sig if isinstance(sig, str) else ""}

    docs: list[tuple[bytes, dict[str, Any]]] = []
    sale = None
    for raw in lines:
        if len(raw) > MAX_RECORD_CHARS:  # (contract v1.1 §A: no record is longer)
            continue
        try:
            d = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if not isinstance(d, dict):
            continue
        if d.get("kind") == "settlement" and sale is None:
            try:
                if receipt_of(d) == receipt:
                    sale = public_sale(d)
            except ValueError:
                continue
        elif d.get("kind") in ("metering", "event") and isinstance(d.get("seq"), int):
            docs.append((raw, d))
    if sale is None:
        return None
    mine = sorted(
        ((d["seq"], d, raw) for raw, d in docs if d.get("nozzle_id") == sale["nozzle_id"]), key=lambda x: x[0]
    )
    out: dict[str, Any] = {"format": FORMAT, "sale": sale, "metering": None, "previous": None, "between": []}
    seq = sale["pump_seq"]
    hit = next((x for x in mine if x[1].get("kind") == "metering" and x[0] == seq), None) if seq is not None else None
    if hit is None:
        return out
    out["metering"] = item(hit[2])
    earlier = [x for x in mine if x[0] < hit[0]]
    prev = next((x for x in reversed(earlier) if x[1].get("kind") == "metering"), None)
    if prev is not None:
        out["previous"] = item(prev[2])
        out["between"] = [item(x[2]) for x in earlier if x[0] > prev[0] and x[1].get("kind") == "event"][:BETWEEN_MAX]
    return out


def register(app: typer.Typer, console: Console, fail: Fail) -> None:
    receipt_app = typer.Typer(no_args_is_help=True, help=h("receipt"))
    app.add_typer(receipt_app, name="receipt")

    @receipt_app.command("verify", help=h("receipt.verify"))
    def verify(
        url: Annotated[str, typer.Argument(help=h("receipt.verify.url"))],
        bundle: Annotated[Path | None, typer.Option("--bundle", help=h("receipt.verify.bundle"))] = None,
        records: Annotated[list[Path] | None, typer.Option("--records", help=h("receipt.verify.records"))] = None,
        registry: Annotated[Path | None, typer.Option("--registry", help=h("receipt.verify.registry"))] = None,
        key: Annotated[str | None, typer.Option("--key", help=h("receipt.verify.key"))] = None,
        alg: Annotated[str | None, typer.Option("--alg", help=h("receipt.verify.alg"))] = None,
        _lang: LangOpt = None,
    ) -> None:
        from anxin.contract.registry import RegistryError, load_registry
        from anxin.receipt.check import check, key_of
        from anxin.receipt.digest import ReceiptError, parse_receipt_url

        try:
            receipt = parse_receipt_url(url)
        except ReceiptError as exc:
            fail(exc.text())
        if registry is not None:
            try:
                reg = load_registry(registry)
            except (RegistryError, OSError) as exc:
                fail(str(exc))

            def keys(n: str, k: str) -> tuple[str, str] | None:
                return key_of(reg, n, k)
        elif key is not None and alg in ("ed25519", "sm2"):

            def keys(n: str, k: str) -> tuple[str, str] | None:
                return (str(alg), str(key))
        else:
            fail(_w("need_keys"))
        if bundle is not None:
            try:
                with bundle.open("rb") as f:
                    data = f.read(BUNDLE_MAX + 1)
                if len(data) > BUNDLE_MAX:
                    raise ValueError(f"larger than {BUNDLE_MAX} bytes")
                doc = json.loads(data)
                if not isinstance(doc, dict):
                    raise ValueError("not a JSON object")
            except (OSError, ValueError, RecursionError) as exc:
                fail(_w("bundle_unreadable", problem=str(exc)[:200] or type(exc).__name__))
        elif records:
            lines: list[bytes] = []
            try:
                for given in records:
                    for path in sorted(given.glob("*.jsonl")) if given.is_dir() else [given]:
                        lines.extend(x for x in path.read_bytes().splitlines() if x.strip())
            except OSError as exc:
                fail(_w("records_unreadable", problem=str(exc)[:200]))
            found = bundle_from_records(lines, receipt)
            if found is None:
                fail(_w("no_matching_sale"))
            doc = found
        else:
            fail(_w("need_evidence"))
        if registry is not None and isinstance(doc.get("sale"), dict):  # the registry's maximum, not the bundle's
            n = reg.nozzle_by_id.get(str(doc["sale"].get("nozzle_id")))
            doc["max_flow_ml_per_min"] = n.max_flow_ml_per_min if n is not None else None
        report = check(doc, receipt, keys=keys)
        console.print(_w("cli_receipt", station=receipt.station_id, order=receipt.order_id, day=receipt.day))
        mark = {"ok": "[green]✓[/]", "fail": "[red]✗[/]", "na": "–"}
        for finding in report.findings:
            why = render("receipt", f"why_{finding.why}", finding.params) if finding.why else ""
            sep = _w("sep") if why else ""
            name = _w("check_" + finding.name)
            console.print(f"  {mark[finding.status]} {escape(name)}{sep}{escape(why)}", highlight=False)
        if report.verified:
            console.print(f"[bold green]{escape(_w('verified'))}[/]", highlight=False)
        else:
            console.print(f"[bold red]{escape(_w('not_verified'))}[/]", highlight=False)
            raise typer.Exit(1)
