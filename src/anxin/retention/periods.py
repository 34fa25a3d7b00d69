"""How long each class of data is kept (days; None: kept, never purged). The defaults
and their legal basis are ``docs/privacy.md``'s table; the shortest a deployment may set
is the floor below, so a typo cannot erase what the law says to keep.

* ``ledger`` — the records as received (raw evidence) — and ``alarms`` (with their
  triage): 3 years. 行政处罚法 §36: a violation found within 2 years may be punished
  (5 where life, health or financial security is at stake), so the evidence outlives the
  limitation period; 计量法 and JJG 443 records (verifications) are kept apart and never
  purged here.
* ``rejects`` (an upload's refused lines, a log of the network service) and
  ``sessions`` (who signed in, when): 6 months — 网络安全法 §21(三): network logs kept
  no less than six months; beyond that PIPL §19: no longer than the purpose needs.
* ``webhook_deliveries`` (the outbox's delivered or dead entries): 6 months.
* ``complainant``: a complainant's contact (complaints, 你点我检 requests) 1 year after
  the complaint is closed (the request done): enough to answer a review or a follow-up
  question (市场监督管理投诉举报处理暂行办法 — replies and review within months), then
  PIPL §19/§47: erased. The complaint itself stays (a record of enforcement).
* ``audit``: None — the hash-chained record of enforcement; purging its head would break
  the chain (``anxin audit verify``), and it holds no personal data beyond user names.
"""

from __future__ import annotations

import msgspec

DAY_US = 86_400 * 1_000_000

FLOORS: dict[str, int] = {  # the least a deployment may set, days
    "ledger": 3 * 365,
    "alarms": 3 * 365,
    "rejects": 183,
    "sessions": 183,
    "webhook_deliveries": 30,
    "complainant": 30,
}


class Retention(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Days each class is kept (``[retention]`` in the service's TOML file)."""

    ledger: int | None = 3 * 365 + 1  # (a leap day)
    alarms: int | None = 3 * 365 + 1
    rejects: int | None = 183
    sessions: int | None = 183
    webhook_deliveries: int | None = 183
    complainant: int | None = 365

    def problems(self) -> list[tuple[str, int, int]]:
        """(class, days, floor) of each period shorter than its floor."""
        out = []
        for name, floor in FLOORS.items():
            days = getattr(self, name)
            if days is not None and days < floor:
                out.append((name, days, floor))
        return out

    def cutoff_us(self, name: str, now_us: int) -> int | None:
        """Data of class ``name`` older than this (µs) is past its period; None: kept."""
        days = getattr(self, name)
        return None if days is None else now_us - days * DAY_US
