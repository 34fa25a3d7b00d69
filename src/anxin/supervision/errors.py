"""The refusals of the supervision package, worded once in both languages.

A refusal (:class:`Refusal`: :class:`~anxin.supervision.SupervisionError`,
:class:`~anxin.supervision.cases.CaseError`, :class:`~anxin.supervision.risk.DrawError`)
carries a stable ``code``, the ``field`` it concerns (when there is one) and its
parameters; it is worded here, in :data:`ERRORS`, a template per key in Chinese and in
English, and renders itself with :meth:`Refusal.text` (``"zh"`` or ``"en"``).

A key is the code, or ``code.variant`` when one code is worded differently at different
places (``concurrent_change.complaint``, ``bad_run.not_finite``): ``.code`` is always the
part before the dot — the code pages, tests and logs know stays the same. A parameter
is data (an id, a nozzle the user typed, a number), given as it is in both languages,
or :class:`Words` — a status, a field's name, a list of the allowed values — given in
both, so that a Chinese sentence never shows a raw code and an English one never a
Chinese word the user did not type.

``str(refusal)`` is ``"<code>: <Chinese>"``: the stable code first for logs and the
command line (grep by code), the words in the platform's first language, as
SupervisionError always was; ``.message`` is the Chinese alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from anxin.i18n.language import lang as current_lang

__all__ = ["ERRORS", "FIELDS", "Refusal", "Words", "field_words", "joined", "render"]


class Words(NamedTuple):
    """A parameter worded in both languages (a status, a field, a list of choices)."""

    zh: str
    en: str


def joined(items: Iterable[Words], zh_sep: str = "/", en_sep: str = ", ") -> Words:
    """Several words as one parameter: ``已受理/已分派`` and ``received, assigned``."""
    parts = list(items)
    return Words(zh_sep.join(w.zh for w in parts), en_sep.join(w.en for w in parts))


# key -> (Chinese template, English template), with named {placeholders}. The Chinese is
# the wording users and tests have known; keep it when touching the English.
ERRORS: dict[str, tuple[str, str]] = {
    # ---- any text input (need_text): {what} is the input's name in words
    "missing": ("缺少{what}", "The {what} is missing"),
    "empty": ("{what}不能为空", "The {what} cannot be empty"),
    "too_long": ("{what}超过 {max_chars} 字", "The {what} is longer than {max_chars} characters"),
    "bad_char": ("{what}含有非法字符", "The {what} contains an invalid character"),
    # ---- complaints (投诉举报)
    "unknown_station": ("未登记的加油站 {station_id!r}", "Unregistered station {station_id!r}"),
    "unknown_nozzle": ("未登记的油枪 {nozzle_id!r}", "Unregistered nozzle {nozzle_id!r}"),
    "unknown_nozzle.not_at_station": (
        "油枪 {nozzle_id!r} 不属于加油站 {station_id}",
        "Nozzle {nozzle_id!r} is not at station {station_id}",
    ),
    "nozzle_not_at_station": (
        "油枪 {nozzle_id} 不属于加油站 {station_id}",
        "Nozzle {nozzle_id} is not at station {station_id}",
    ),
    "bad_channel": ("渠道须为 {channels}", "The channel must be one of: {channels}"),
    "bad_event_time": ("发生时间无效", "The time of the event is not valid"),
    "event_in_future": ("发生时间晚于当前时间", "The time of the event is later than now"),
    "bad_attachment.shape": ("附件须为 (名称, 类型, 内容)", "An attachment must be (name, type, content)"),
    "bad_attachment.bytes": ("附件内容须为字节", "An attachment's content must be bytes"),
    "too_many_attachments": ("附件不能超过 {max_count} 个", "No more than {max_count} attachments are allowed"),
    "bad_attachment_name": ("附件名称不能含路径", "An attachment's name cannot contain a path"),
    "empty_attachment": ("附件为空", "The attachment is empty"),
    "attachment_too_large": ("附件超过 {max_mib} MiB", "An attachment is larger than {max_mib} MiB"),
    "bad_attachment_type": (
        "附件须为 JPEG、PNG 图片或 PDF 文件（按文件内容判断）",
        "An attachment must be a JPEG or PNG image or a PDF file (judged by its content)",
    ),
    "attachments_too_large": ("附件合计超过 {max_mib} MiB", "The attachments together are larger than {max_mib} MiB"),
    "bad_outcome": ("办结结果须为 {outcomes}", "The outcome must be one of: {outcomes}"),
    "bad_triage": ("研判结果须为可信或不可信", "The triage must be plausible or not plausible"),
    "forbidden_step.complaint": (
        "投诉 {complaint_id} 当前状态为「{status}」，不能{step}（允许的状态：{allowed}）",
        "Complaint {complaint_id} is “{status}”: it cannot be {step} (allowed when: {allowed})",
    ),
    "concurrent_change.complaint": (
        "投诉 {complaint_id} 已被他人修改，请刷新",
        "Complaint {complaint_id} was changed by someone else meanwhile; please reload",
    ),
    "unknown_complaint": ("没有编号为 {complaint_id} 的投诉", "There is no complaint {complaint_id}"),
    "bad_status": ("状态须为 {statuses}", "The status must be one of: {statuses}"),
    # ---- inspections (检查), 你点我检 requests, the test fill, the checklist
    "bad_kind": ("检查类型须为 {kinds}", "The kind of inspection must be one of: {kinds}"),
    "bad_time": ("计划时间无效", "The scheduled time is not valid"),
    "follow_up_needs_origin": (
        "复查须注明所复查的检查",
        "A follow-up inspection must name the inspection it follows up",
    ),
    "unknown_inspection": ("没有编号为 {inspection_id} 的检查", "There is no inspection {inspection_id}"),
    "follow_up_other_station": (
        "复查须在原检查的加油站进行",
        "A follow-up inspection must be at the station of the inspection it follows up",
    ),
    "follow_up_of_undone": ("所复查的检查尚未完成", "The inspection to follow up is not done yet"),
    "not_a_follow_up": (
        "只有复查可以注明所复查的检查",
        "Only a follow-up inspection may name an inspection it follows up",
    ),
    "unknown_request": (
        "没有编号为 {request_id} 的你点我检申请",
        "There is no citizen-chosen inspection request {request_id}",
    ),
    "request_already_scheduled": (
        "申请 {request_id} 已安排检查",
        "Request {request_id} already has its inspection scheduled",
    ),
    "concurrent_change.request": (
        "申请 {request_id} 已被他人修改，请刷新",
        "Request {request_id} was changed by someone else meanwhile; please reload",
    ),
    "no_runs": ("测试加油至少需要一次", "A test fill needs at least one run"),
    "too_many_runs": ("测试加油次数过多", "Too many test fill runs"),
    "bad_run.shape": ("测试加油记录格式错误", "A test fill run is malformed"),
    "bad_run.not_finite": ("{quantity}须为有限数值", "The {quantity} must be a finite number"),
    "bad_run.not_positive": ("体积与流量须为正数", "Volumes and flow must be positive"),
    "bad_run.not_computable": ("测试加油数据无法计算：{reasons}", "The test fill cannot be computed: {reasons}"),
    "forbidden_step.inspection": (
        "检查 {inspection_id} 当前状态为「{status}」，不能登记检查结果",
        "Inspection {inspection_id} is “{status}”: its result cannot be recorded",
    ),
    "test_fill_needs_nozzle": ("测试加油须指明油枪", "A test fill must name its nozzle"),
    "concurrent_change.inspection": (
        "检查 {inspection_id} 已被他人修改，请刷新",
        "Inspection {inspection_id} was changed by someone else meanwhile; please reload",
    ),
    "bad_checklist": ("检查项格式错误", "The checklist is malformed"),
    "unknown_item": ("未知检查项 {item!r}", "Unknown checklist item {item!r}"),
    "bad_item.shape": ("检查项须为 (是否合格, 说明)", "A checklist item must be (passed, note)"),
    "bad_item.no_verdict": ("检查项须注明是否合格", "A checklist item must say whether it passed"),
    "missing_item": ("缺少检查项：{items}", "Checklist items missing: {items}"),
    # ---- cases (案件): 立案 … 处罚决定 … 结案
    "case_required_field": ("须填写{what}", "{what} is required"),
    "case_bad_source": (
        "案件来源无效：{source!r}（须为报警、投诉或检查）",
        "source must be alarm:<id>, complaint:<id> or inspection:<id>, not {source!r}",
    ),
    "case_source_elsewhere": (
        "{source} 属于加油站 {owner}，不属于加油站 {station_id}",
        "{source} belongs to station {owner}, not {station_id}",
    ),
    "case_no_source": ("没有编号为 {ref!r} 的{kind}", "no {kind} {ref!r}"),
    "case_unknown": ("没有编号为 {case_id} 的案件", "no case {case_id}"),
    "case_changed": ("案件 {case_id} 已被他人修改，请刷新", "case {case_id} changed meanwhile"),
    "case_nothing_to_update": ("没有要更新的内容：请填写当事人或违法事实", "nothing to update"),
    "case_malformed": ("{what}格式错误", "{what} malformed: {detail}"),
    "case_fixed_after_decision": (
        "案件 {case_id} 当前状态为「{status}」，当事人和违法事实已不能修改",
        "case {case_id} is {status}: parties and violations are fixed",
    ),
    "case_bad_penalty": ("{what}须为不小于 0 的整数", "{what} must be an integer ≥ 0"),
    "case_already_decided": (
        "案件 {case_id} 当前状态为「{status}」，已作出处罚决定",
        "case {case_id} is {status}: already decided",
    ),
    "case_not_decided": (
        "案件 {case_id} 当前状态为「{status}」，只有已作出处罚决定的案件才能结案",
        "case {case_id} is {status}: only a decided case can be closed",
    ),
    # ---- the random draw (双随机)
    "draw_bad_method": ("抽取方式须为按风险加权或等概率", "method must be risk or uniform"),
    "draw_no_inspector": ("至少需要一名检查人员", "at least one inspector is needed"),
    "draw_bad_count": ("抽取的加油站数须为正整数", "stations must be a positive integer"),
    "draw_bad_seed": ("随机种子须为 [0, 2^63) 内的整数", "seed must be an integer in [0, 2^63)"),
    "draw_needs_name": ("抽查须有名称和操作人", "a draw needs a name and an actor"),
}

# The inputs of need_text, named as a user knows them ({what} of the first four keys).
FIELDS: dict[str, Words] = {
    "text": Words("投诉内容", "complaint text"),
    "contact": Words("联系方式", "contact"),
    "order_ref": Words("订单号", "order number"),
    "assignee": Words("承办人", "assignee"),
    "note": Words("调查记录", "investigation note"),
    "reply": Words("答复", "reply"),
    "reason": Words("办结理由", "reason for closing"),
    "actor": Words("操作人", "acting user"),
    "station_id": Words("加油站", "station"),
    "inspector": Words("检查人员", "inspector"),
    "findings": Words("检查发现", "findings"),
}
_ATTACHMENT_PART = re.compile(r"attachments\[(\d+)\]\.(name|mime)")


def field_words(field: str) -> Words:
    """An input's name in words (``attachments[0].name``: the name of attachment 1)."""
    if field in FIELDS:
        return FIELDS[field]
    m = _ATTACHMENT_PART.fullmatch(field)
    if m is not None:
        n = int(m.group(1)) + 1
        zh, en = ("名称", "name") if m.group(2) == "name" else ("类型", "type")
        return Words(f"第 {n} 个附件的{zh}", f"{en} of attachment {n}")
    return Words("该项", field)  # never a raw name on a Chinese page


class _Values(dict[str, Any]):
    """A template's values; one not given shows as a dash rather than failing the refusal."""

    def __missing__(self, key: str) -> str:
        return "—"


def _lang(lang: str | None) -> str:
    if lang is None:
        lang = current_lang()
    return "en" if lang.lower().startswith("en") else "zh"


def render(key: str, params: dict[str, Any], lang: str | None = None) -> str:
    """The refusal ``key`` with ``params`` in ``lang`` ("zh" or "en"; None: the request's,
    else the process's language)."""
    i = 0 if _lang(lang) == "zh" else 1
    entry = ERRORS.get(key)
    if entry is None:  # a key the catalog lacks: the code in English, a plain sentence in Chinese
        return ("操作未能完成", key.partition(".")[0])[i]
    values = _Values({k: (v[i] if isinstance(v, Words) else v) for k, v in params.items()})
    return entry[i].format_map(values)


def _restore(cls: type[Refusal], key: str, field: str | None, params: dict[str, Any]) -> Refusal:
    return cls(key, field=field, **params)


class Refusal(ValueError):
    """A refused input or step; nothing was written. ``code`` names it (stable), ``field``
    the offending input when there is one, ``params`` the values its words show;
    :meth:`text` words it in Chinese or English, ``message`` is the Chinese."""

    def __init__(self, key: str, /, *, field: str | None = None, **params: Any) -> None:
        self.key = key
        self.code = key.partition(".")[0]
        self.field = field
        self.params = params
        self.message = render(key, params, "zh")
        super().__init__(f"{self.code}: {self.message}")

    def text(self, lang: str | None = None) -> str:
        """The refusal in ``lang`` ("zh" or "en"; None: the current request's language)."""
        return render(self.key, self.params, lang)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.key, self.field, self.params))
