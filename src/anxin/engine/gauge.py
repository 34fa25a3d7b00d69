"""A tank's accepted gauge readings (液位仪读数), by time: resends told apart, floods thinned.

A tank gauge reads every few minutes. A station that sends readings seconds or
milliseconds apart — a faulty gauge, or a station that wants the platform busy — would
otherwise be held in full: in the engine's memory for resends, in the witness's window,
and in every look's arrays (the temperature smoother's alone are a hundred numbers a
reading). A reading closer than the minimum gap to one already accepted for the same
tank is therefore not taken (counted ``readings_too_frequent``), whatever the order the
readings arrive in: the accepted readings of a tank are at least the gap apart, so a
day holds at most a day's worth at that rate. The engine's index below holds its
retention; the witness's window (``TankLogs.reading``) applies the same :func:`place`.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import MutableSequence


def place(ts: MutableSequence[int], t: int, gap_us: int) -> int | None:
    """Where ``t`` goes in the sorted times ``ts`` (after an equal time: with no gap the
    first arrival stays first), or None when one of them lies less than ``gap_us`` away."""
    i = bisect_right(ts, t)
    if (i and t - ts[i - 1] < gap_us) or (i < len(ts) and ts[i] - t < gap_us):
        return None
    return i


class TankReadings:
    """A tank's accepted reading times (sorted) and their digests, for the engine's
    retention: in typed arrays (8 bytes a number: a city-day holds every reading's), the
    digests as integers — or, once one is not of 8 bytes (only a test makes one), as they
    are."""

    __slots__ = ("t", "digest")

    def __init__(self) -> None:
        self.t = array("q")
        self.digest: array[int] | list[bytes] = array("Q")

    def __len__(self) -> int:
        return len(self.t)

    def find(self, t: int) -> bytes | None:
        """The digest of the reading accepted at ``t`` (a resend, identical or not)."""
        i = bisect_left(self.t, t)
        if i < len(self.t) and self.t[i] == t:
            d = self.digest[i]
            return d.to_bytes(8, "big") if isinstance(d, int) else d
        return None

    def add(self, i: int, t: int, digest: bytes) -> None:
        """Accept a reading at the place :func:`place` gave."""
        self.t.insert(i, t)
        if type(self.digest) is array:
            if len(digest) == 8:
                self.digest.insert(i, int.from_bytes(digest, "big"))
                return
            self.digest = [d.to_bytes(8, "big") for d in self.digest]
        self.digest.insert(i, digest)  # type: ignore[arg-type]

    def prune(self, before: int) -> None:
        """Forget the readings before ``before``."""
        i = bisect_left(self.t, before)
        if i:
            del self.t[:i]
            del self.digest[:i]
