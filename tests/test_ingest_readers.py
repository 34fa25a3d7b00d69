"""An upload's lines read with their signatures checked in the worker process
(anxin.ingest.readers) give exactly what the same lines give read in-process — records,
verdicts, the privacy step, rejects with their reasons — and a worker that dies costs that
upload nothing but the speed."""

from __future__ import annotations

import base64
import os
import signal

from factory import T0, City, line

from anxin.contract.parse import Parsed, Reject
from anxin.crypto.keys import KeyRing, KeyVerdict
from anxin.ingest.readers import Readers, RingSpec
from anxin.ingest.screen import read_line, screen
from anxin.privacy.policy import Privacy

PRIVACY = Privacy(mode="tokenise", key=b"k" * 32)


def _lines(city: City) -> list[bytes]:
    out = [line(r) for r in city.honest_day("S1-N1", T0, 6) + city.honest_day("S1-N2", T0, 6)]
    forged = city.metering("S1-N1", T0 + 10**10)
    forged["sig"] = base64.b64encode(bytes(64)).decode()
    out.append(line(forged))
    short = city.metering("S1-N2", T0 + 10**10)  # an SM2 signature of the wrong length
    short["sig"] = base64.b64encode(bytes(10)).decode()
    out.append(line(short))
    forged_private = city.metering("S1-N3", T0 + 3 * 10**10, member={"phone": "13812345678"})
    forged_private["sig"] = base64.b64encode(bytes(64)).decode()  # a forgery holding personal data
    out.append(line(forged_private))
    m = city.metering("S1-N3", T0 + 2 * 10**10)
    out.append(line(city.sale(m, member={"phone": "13812345678"})))  # tokenised
    out += [b"not json", b'{"kind":"nope"}', '{"kind":"metering","x":"\udcff"}'.encode("utf-8", "surrogatepass")]
    out.append(line(city.metering("S2-N1", T0, station_id="S1")))  # the nozzle is another station's
    out.append(line(city.metering("S1-N1", T0, key_id="S1-N1-k9")))  # not its key
    out.append(line(city.verification("S1-N1", T0)))
    return out


def _same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for (p, v, f, body), (q, w, g, body2) in zip(a, b):
        assert type(p) is type(q) and p == q and (v, f, body) == (w, g, body2)
        if isinstance(p, Parsed):
            assert repr(p.rec) == repr(q.rec)


def _in_process(lines: list[bytes], ring: KeyRing, privacy: Privacy) -> list:
    return [read_line(raw, ring, privacy) for raw in lines]


def test_lines_read_with_the_worker_checking_signatures_are_read_as_in_process() -> None:
    city = City()
    ring = KeyRing.from_registry(city.registry())
    lines = _lines(city)
    readers = Readers(1, min_lines=1)
    try:
        for privacy in (PRIVACY, Privacy(mode="keep"), Privacy(mode="refuse")):
            got = readers.read(lines, ring, RingSpec(ring), privacy)
            _same(got, _in_process(lines, ring, privacy))
        assert readers._all  # it went through the worker
        verdicts = {v for _p, v, _f, _b in got}
        assert {KeyVerdict.OK, KeyVerdict.BAD_SIGNATURE, KeyVerdict.WRONG_STATION, KeyVerdict.WRONG_KEY} <= verdicts
        assert any(isinstance(p, Reject) for p, *_ in got)
    finally:
        readers.close()


def test_screen_outcomes_do_not_depend_on_where_signatures_are_checked() -> None:
    city = City()
    reg = city.registry()
    ring = KeyRing.from_registry(reg)
    lines = [b"", *_lines(city), b"  ", b"\r"]
    kw = dict(
        station_id="S1", principal=None, source="t", received=T0 + 10**12, registry=reg, ring=ring,
        ahead_tolerance_us=60_000_000, privacy=PRIVACY,
    )  # fmt: skip
    readers = Readers(1, min_lines=1)
    try:
        a = screen(lines, **kw)
        b = screen(lines, **kw, readers=readers, spec=RingSpec(ring))
    finally:
        readers.close()
    assert a.results == b.results and a.rejects == b.rejects and a.rows == b.rows and a.ahead == b.ahead
    assert a.parsed == b.parsed
    statuses = {r.status for r in a.results}
    assert {"rejected", "quarantined", "accepted"} <= statuses


def test_a_dead_worker_costs_the_upload_nothing() -> None:
    city = City()
    ring = KeyRing.from_registry(city.registry())
    lines = _lines(city)
    readers = Readers(1, min_lines=1)
    try:
        readers.read(lines[:2], ring, RingSpec(ring), PRIVACY)
        (worker,) = readers._all
        os.kill(worker.proc.pid, signal.SIGKILL)  # the worker killed under the service
        worker.proc.join(5)
        _same(readers.read(lines, ring, RingSpec(ring), PRIVACY), _in_process(lines, ring, PRIVACY))
        assert not readers._all  # that upload was read in-process
        _same(readers.read(lines, ring, RingSpec(ring), PRIVACY), _in_process(lines, ring, PRIVACY))
        assert len(readers._all) == 1 and readers._all[0] is not worker  # a new worker took over
    finally:
        readers.close()


def test_small_uploads_and_no_workers_read_in_process() -> None:
    city = City()
    ring = KeyRing.from_registry(city.registry())
    lines = _lines(city)
    for readers in (Readers(0, min_lines=1), Readers(1, min_lines=len(lines) + 1)):
        _same(readers.read(lines, ring, RingSpec(ring), PRIVACY), _in_process(lines, ring, PRIVACY))
        assert not readers._all


def test_a_hung_worker_costs_the_upload_its_timeout_only() -> None:
    city = City()
    ring = KeyRing.from_registry(city.registry())
    lines = _lines(city)
    readers = Readers(1, min_lines=1)
    try:
        readers.read(lines[:2], ring, RingSpec(ring), PRIVACY)  # (the worker started, at leisure)
        (worker,) = readers._all
        readers.timeout_s = 0.5
        os.kill(worker.proc.pid, signal.SIGSTOP)  # alive, but answers nothing
        try:
            _same(readers.read(lines, ring, RingSpec(ring), PRIVACY), _in_process(lines, ring, PRIVACY))
            assert not readers._all and not worker.proc.is_alive()  # that one was stopped
        finally:
            if worker.proc.is_alive():
                os.kill(worker.proc.pid, signal.SIGKILL)
    finally:
        readers.close()
