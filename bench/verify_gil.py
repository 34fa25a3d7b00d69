"""Does a signature verifier release the GIL? Another thread that yields the GIL at every
step (``time.sleep(0)``) counts its steps while this one verifies, with no forced switches
(switch interval 100 s): it can run only while this thread is inside a C call that
released the GIL. A pure-Python loop is the control (0 steps).

    .venv/bin/python bench/verify_gil.py
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable

from anxin.crypto.schemes import Ed25519Signer, Sm2Signer, load_verifier


def steps_beside(work: Callable[[], None]) -> tuple[int, float]:
    count = [0]
    stop = [False]

    def other() -> None:
        while not stop[0]:
            count[0] += 1
            time.sleep(0)

    t = threading.Thread(target=other)
    t.start()
    time.sleep(0.05)
    before = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        c0, w = count[0], time.perf_counter()
        work()
        c1, w = count[0], time.perf_counter() - w
    finally:
        sys.setswitchinterval(before)
        stop[0] = True
        t.join()
    return c1 - c0, w


def main() -> int:
    for size, n in ((200, 3000), (30_000_000, 3)):
        m = os.urandom(size)
        for signer in (Ed25519Signer(), Sm2Signer()):
            v = load_verifier(signer.alg, signer.public_key_text)
            sig = signer.sign(m)

            def work(v=v, sig=sig, m=m, n=n) -> None:
                for _ in range(n):
                    v.verify(m, sig)

            steps, secs = steps_beside(work)
            print(f"{signer.alg:8s} {size:>11,} B × {n}: the other thread took {steps:,} steps in {secs:.2f} s")

    def loop() -> None:
        x = 0
        for i in range(3_000_000):
            x += i

    steps, secs = steps_beside(loop)
    print(f"control: a pure-Python loop: the other thread took {steps:,} steps in {secs:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
