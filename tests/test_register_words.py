"""The register's words (issue 13): a verification's errors labelled with their flow, its
sender named in words — an import's ledger source (``demo:S0001``) and a station's id
are provenance for the tooltip, not text for the reader."""

from __future__ import annotations

from anxin.contract.registry import Registry, Station
from anxin.ingest.principals import sender_of
from anxin.web.pages import _flow_point, _sender_text
from anxin.web.texts import words

ZH, EN = words("zh"), words("en")


def test_flow_points_are_labelled_with_their_flow() -> None:
    assert _flow_point({"flow_ml_per_min": 40000, "error": -0.00385}, ZH) == "40 升/分钟：-3.85‰"
    assert _flow_point({"flow_ml_per_min": 6500, "error": 0.0004}, EN) == "6.5 L/min: +0.40‰"
    assert _flow_point({"error": 0.001}, ZH) == "+1.00‰"  # no flow: the error alone
    assert _flow_point({"flow_ml_per_min": 40000, "error": "x"}, ZH) == "—"  # a hostile body shown, not trusted


def test_senders_are_named_not_identified() -> None:
    reg = Registry(
        stations=[
            Station(station_id="S0001", name="城西加油站", operator="某公司", district="西湖区", lat=30.0, lon=120.0)
        ],
        nozzles=[],
    )
    assert _sender_text(sender_of("demo:S0001"), ZH, reg) == "数据导入"
    refused = _sender_text(sender_of("http:S0001"), ZH, reg)
    assert "城西加油站" in refused and "S0001" not in refused and "（" in refused
    assert _sender_text(None, ZH, reg) == "—"
