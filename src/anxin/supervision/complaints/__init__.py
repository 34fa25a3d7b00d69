"""Complaints (投诉举报): submission from the public, automatic linking to the records
that bear on it, handling to closure, and the queries the console needs.

Statuses: ``received`` → ``assigned`` → ``investigating`` → ``replied`` → ``closed``.
Re-assigning is allowed while assigned or investigating (the status stays), further
investigation notes while investigating, a further reply while replied; ``close`` only
from ``replied`` (a reply to the complainant comes before closure), with an outcome of
substantiated | unsubstantiated | referred | withdrawn and a reason. The graph is
written once, in :mod:`anxin.supervision.lifecycle` (its table).

Triage (研判) is apart from the status: a regulator marks a complaint plausible or not
(spam, off-topic, a duplicate) at any step, and may revise it. Only a complaint triaged
plausible, or closed as substantiated, counts in the risk score of the random draw
(:mod:`anxin.supervision.risk`): the number of submissions alone moves nothing.

Every change is one transaction with one audit entry (subject ``complaint:<id>``); the
investigation notes live in the audit log (``get`` shows the history). Linking finds,
within ±2 h of the complaint's time (the event time given, else the sale's time when the
order number matched one, else the time it was received):

* the sale (``settlement``) by its order number (natural key ``station/order_id``), or
  the sales of that station (that nozzle, if given) in the window, nearest first;
* the metering record paired to a linked sale (``nozzle/pump_seq``) and the metering
  records of the nozzle in the window;
* the alarms of that nozzle (or station-wide ones) in the window, by ``alarms.ts_us``.

Each link keeps why it was made as parts, not as a sentence (:mod:`anxin.supervision.parts`):
:func:`link_reason` words it in the reader's language from the catalog (a link stored
before as a Chinese sentence is shown as written).

The words, checks and the reasons of the links are here; submitting, linking and
handling are written by :mod:`.service`, the console's queries are :mod:`.queries` — both
re-exported here, so ``complaints.submit`` is what it was (the layout of every concept of
:mod:`anxin.supervision`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from anxin.i18n import RULE_NAMES_EN, RULE_NAMES_ZH
from anxin.i18n.po import table
from anxin.supervision import parts
from anxin.supervision._common import SupervisionError, SupervisionSettings, need_text
from anxin.supervision.errors import Words, joined, words_table
from anxin.supervision.lifecycle import COMPLAINT_STATUSES

CHANNELS = ("qr", "web", "api", "phone")
STATUSES = COMPLAINT_STATUSES  # the lifecycle's, under this module's old name
OUTCOMES = ("substantiated", "unsubstantiated", "referred", "withdrawn")
STATUS_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("complaint_status").items()}
OUTCOME_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("complaint_outcome").items()}
CHANNEL_ZH: dict[str, str] = {k: zh for k, (zh, _) in table("complaint_channel").items()}
# The same in English (a refusal names them in the reader's language).
STATUS_EN: dict[str, str] = {k: en for k, (_, en) in table("complaint_status").items()}
OUTCOME_EN: dict[str, str] = {k: en for k, (_, en) in table("complaint_outcome").items()}
CHANNEL_EN: dict[str, str] = {k: en for k, (_, en) in table("complaint_channel").items()}


def _names(codes: Iterable[str], zh: dict[str, str], en: dict[str, str], zh_sep: str = "/") -> Words:
    """The allowed values in words, for a refusal (``已受理/已分派…`` and ``received, assigned…``)."""
    return joined((Words(zh.get(c, c), en.get(c, c)) for c in codes), zh_sep=zh_sep)


class Attachment(NamedTuple):
    """One file sent with a complaint (a photo of the receipt, of the display…)."""

    name: str
    mime: str
    data: bytes


_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"%PDF-", "application/pdf"),
)


def sniff(data: bytes) -> str | None:
    """The type of a file by its first bytes (JPEG, PNG or PDF), or None."""
    return next((mime for magic, mime in _MAGIC if data.startswith(magic)), None)


def _check_attachments(items: Iterable[Any], s: SupervisionSettings) -> list[Attachment]:
    """The attachments checked: how many, each one's name, size and type by its content
    (the stored type is the one found, not the one declared), and their total size."""
    out: list[Attachment] = []
    total = 0
    for i, item in enumerate(items):
        field = f"attachments[{i}]"
        if isinstance(item, dict):
            name, mime, data = item.get("name"), item.get("mime"), item.get("data", item.get("bytes"))
        else:
            try:
                name, mime, data = item
            except (TypeError, ValueError):
                raise SupervisionError("bad_attachment.shape", field=field) from None
        if len(out) >= s.attachments_max:
            raise SupervisionError("too_many_attachments", field="attachments", max_count=s.attachments_max)
        name_v = need_text(name, f"{field}.name", max_chars=200)
        if "/" in name_v or "\\" in name_v:
            raise SupervisionError("bad_attachment_name", field=f"{field}.name")
        need_text(mime, f"{field}.mime", max_chars=100)  # declared, but the content decides
        if not isinstance(data, bytes | bytearray | memoryview):
            raise SupervisionError("bad_attachment.bytes", field=f"{field}.data")
        data_b = bytes(data)
        if not data_b:
            raise SupervisionError("empty_attachment", field=f"{field}.data")
        if len(data_b) > s.attachment_max_bytes:
            raise SupervisionError(
                "attachment_too_large", field=f"{field}.data", max_mib=s.attachment_max_bytes // (1024 * 1024)
            )
        found = sniff(data_b)
        if found is None or found not in s.attachment_types:
            raise SupervisionError("bad_attachment_type", field=f"{field}.data")
        total += len(data_b)
        if total > s.attachments_total_max_bytes:
            raise SupervisionError(
                "attachments_too_large", field="attachments", max_mib=s.attachments_total_max_bytes // (1024 * 1024)
            )
        out.append(Attachment(name_v, found, data_b))
    return out


# ---------------------------------------------------------------------------- linking: the reasons
# A link's reason is stored as parts (:mod:`anxin.supervision.parts`): a key of the
# catalog's ``complaint_link`` table and codes — the time the records were looked for
# around (``basis``: a key of ``complaint_link_basis``), the signed offset in µs, the
# order number, the sale, the rule — worded when read (:func:`link_reason`).
def _link_center(event_ts_us: int | None, sales: list[dict[str, Any]], received_us: int) -> tuple[int, str]:
    """The time a complaint's records are looked for around, and its name: the event time
    given, else the time of the sale its order number matched, else when it was received."""
    if event_ts_us is not None:
        return int(event_ts_us), "event"
    if sales:
        return sales[0]["t"], "order"
    return int(received_us), "received"


def _why_order(order_ref: str) -> str:
    return parts.dump("order", order=order_ref)


def _why_sale(basis: str, dt_us: int) -> str:
    return parts.dump("sale", basis=basis, dt_us=dt_us)


def _why_paired(sale_key: str) -> str:
    return parts.dump("paired", sale=sale_key)


def _why_metering(basis: str, dt_us: int, quarantined: bool) -> str:
    return parts.dump("metering", basis=basis, dt_us=dt_us, quarantined=bool(quarantined))


def _why_alarm(same_nozzle: bool, basis: str, dt_us: int, rule: str) -> str:
    return parts.dump("alarm", basis=basis, dt_us=dt_us, rule=rule, same_nozzle=same_nozzle)


def link_reason(why: str | None, lang: str = "zh") -> str:
    """Why a record is linked to a complaint (``complaint_links.why`` as stored), in
    ``lang`` (``zh`` | ``en``): worded from its parts; a reason stored before as a Chinese
    sentence (an existing database's) is shown as written, in either language."""
    got = parts.load(why)
    said = None if got is None else link_words(*got, lang)
    return (why or "") if said is None else said


def link_words(key: str, params: dict[str, Any], lang: str = "zh") -> str | None:
    """A link's reason worded from its parts (None for parts this catalog does not know)."""
    i = 0 if lang == "zh" else 1
    words = table("complaint_link")
    p = dict(params)
    p["basis"] = table("complaint_link_basis").get(str(params.get("basis", "")), ("", ""))[i]
    try:
        if "dt_us" in params:
            dt = int(params["dt_us"])
            sec = abs(dt) // 1_000_000
            p["offset"] = words["offset"][i].format(sign="+" if dt >= 0 else "−", min=sec // 60, sec=f"{sec % 60:02d}")
        if key == "metering" and params.get("quarantined"):
            key = "metering_quarantined"
        elif key == "alarm":
            rule = str(params.get("rule", ""))
            p["rule"] = (RULE_NAMES_ZH if i == 0 else RULE_NAMES_EN).get(rule, rule)
            key = "alarm_nozzle" if params.get("same_nozzle") else "alarm_station"
        entry = words.get(key)
        return None if entry is None else entry[i].format(**p)
    except (KeyError, IndexError, TypeError, ValueError):  # a shape this catalog does not know
        return None


def _sale(body: dict[str, Any]) -> dict[str, Any]:
    seq = body.get("pump_seq")
    return {"nozzle_id": body.get("nozzle_id"), "pump_seq": seq if type(seq) is int else None}


# ---------------------------------------------------------------------------- handling: words
_STEPS: dict[str, Words] = words_table("complaint_step")  # a handling step, as a refusal names it


def _status_words(status: str) -> Words:
    return Words(STATUS_ZH.get(status, status), STATUS_EN.get(status, status))


# ---------------------------------------------------------------------------- what is overdue
def _is_overdue(d: dict[str, Any], now_us: int) -> bool:
    return d["status"] != "closed" and d["deadline_us"] is not None and d["deadline_us"] < now_us


# The statements (they use the words and checks above: imported last).
from anxin.supervision.complaints.queries import attachment, counts, get, listing, overdue  # noqa: E402
from anxin.supervision.complaints.service import (  # noqa: E402
    assign,
    close,
    investigate,
    link,
    may_see_contact,
    record_attachment_view,
    reply,
    reveal_contact,
    submit,
    triage,
)

__all__ = [
    "CHANNELS",
    "CHANNEL_EN",
    "CHANNEL_ZH",
    "OUTCOMES",
    "OUTCOME_EN",
    "OUTCOME_ZH",
    "STATUSES",
    "STATUS_EN",
    "STATUS_ZH",
    "Attachment",
    "assign",
    "attachment",
    "close",
    "counts",
    "get",
    "investigate",
    "link",
    "link_reason",
    "link_words",
    "listing",
    "may_see_contact",
    "overdue",
    "record_attachment_view",
    "reveal_contact",
    "reply",
    "sniff",
    "submit",
    "triage",
]
