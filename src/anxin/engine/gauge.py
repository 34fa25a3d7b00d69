"""A tank's accepted gauge readings (液位仪读数), by time: resends told apart, floods thinned.

A tank gauge reads every few minutes. A station that sends readings seconds or
milliseconds apart — a faulty gauge, or a station that wants the platform busy — would
otherwise be held in full: in the engine's memory for resends, in the witness's window,
and in every look's arrays (the temperature smoother's alone are a hundred numbers a
reading). A reading closer than the minimum gap to one already accepted for the same
tank is therefore not taken (counted ``readings_too_frequent``), whatever the order the
readings arrive in: the accepted readings of a tank are at least the gap apart, so a
day holds at most a day's worth at that rate.
"""

from __future__ import annotations

from bisect import bisect_left


class TankReadings:
    """A tank's accepted reading times (sorted) and their digests, for the engine's
    retention."""

    __slots__ = ("t", "digest")

    def __init__(self) -> None:
        self.t: list[int] = []
        self.digest: list[bytes] = []

    def __len__(self) -> int:
        return len(self.t)

    def take(self, t: int, digest: bytes, gap_us: int) -> bytes | bool:
        """The digest already accepted at ``t`` (a resend: identical or not), False when
        an accepted reading lies less than ``gap_us`` away, else True (taken)."""
        ts = self.t
        i = bisect_left(ts, t)
        if i < len(ts) and ts[i] == t:
            return self.digest[i]
        if (i and t - ts[i - 1] < gap_us) or (i < len(ts) and ts[i] - t < gap_us):
            return False
        if i == len(ts):  # the usual case: the latest reading
            ts.append(t)
            self.digest.append(digest)
        else:
            ts.insert(i, t)
            self.digest.insert(i, digest)
        return True

    def prune(self, before: int) -> None:
        """Forget the readings before ``before``."""
        i = bisect_left(self.t, before)
        if i:
            del self.t[:i]
            del self.digest[:i]
