"""SM2 verification backends against Ed25519, in one run (issue 14, item 3).

    .venv/bin/python bench/sm2_backends.py [--rounds 15] [--batch 200] [--keys 20] [--cross 300]

Times one verification (µs of CPU time, the median over ``--rounds`` rounds of ``--batch``
verifications each, the backends interleaved round by round so that a load on the machine
falls on all of them alike) of:

* Ed25519 through ``cryptography`` (OpenSSL), anxin's ``Ed25519Verifier``: the floor;
* SM2 through each of anxin's backends (``Sm2Verifier(…, backend=…)``): ``c`` (the
  compiled ``anxin.crypto._sm2fast``), ``tongsuo`` (tongsuopy), ``python``
  (``anxin.crypto.sm2``);
* SM2 through ``gmssl`` (pure Python; ``CryptSM2.verify_with_sm3``), for reference;

each on 200-byte messages under ``--keys`` keys, and prints the ratio of each time to
Ed25519's (the target: SM2 at most 2× Ed25519's time). Before timing, every backend must
pass the known answer of the standard — the signature example on the recommended curve of
GB/T 32918.5-2017 (GM/T 0003.5-2012): private key 3945208F…, message "message digest",
user id 1234567812345678, e = F0B43E94…, r = F5A03B06…, s = B1B6AA29… (the same vector
OpenSSL's and Tongsuo's SM2 tests use; GB/T 32918.2's Annex A example with user id
ALICE123@YAHOO.COM is on a different, 'example' curve that none of these backends takes) —
and all must give the same verdicts on ``--cross`` random signatures under random keys:
valid, one bit flipped, the message changed, under another key, r or s out of range
(gmssl, which does not check the ranges of r and s, only on the first three).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable

from gmssl import sm2 as gm

from anxin.crypto import sm2
from anxin.crypto.schemes import SM2_BACKENDS, Ed25519Signer, Ed25519Verifier, Sm2Signer, Sm2Verifier, Verifier

# GB/T 32918.5-2017 (GM/T 0003.5-2012), the signature example on the recommended curve.
KAT_D = 0x3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8
KAT_PUBLIC = (
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
KAT_MESSAGE = b"message digest"
KAT_E = "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640"
KAT_SIG = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)


class Gmssl:
    """gmssl behind the same ``verify(message, signature)`` as anxin's verifiers."""

    alg = "sm2"

    def __init__(self, public_key_text: str) -> None:
        self._key = gm.CryptSM2(private_key="", public_key=public_key_text[2:])

    def verify(self, message: bytes, signature: bytes) -> bool:
        return bool(self._key.verify_with_sm3(signature.hex(), message))


def known_answer(backends: dict[str, Callable[[str], Verifier]]) -> None:
    assert Sm2Signer(KAT_D).public_key_text == KAT_PUBLIC.lower(), "KAT: the public key of d"
    point = (int(KAT_PUBLIC[2:66], 16), int(KAT_PUBLIC[66:], 16))
    assert sm2.sm3(sm2.user_hash(point) + KAT_MESSAGE).hex() == KAT_E.lower(), "KAT: e = SM3(Z_A ‖ M)"
    for name, make in backends.items():
        v = make(KAT_PUBLIC)
        assert v.verify(KAT_MESSAGE, KAT_SIG), f"KAT: {name} rejects the standard's signature"
        bad = KAT_SIG[:63] + bytes([KAT_SIG[63] ^ 1])
        assert not v.verify(KAT_MESSAGE, bad), f"KAT: {name} accepts a changed signature"


def cross_check(backends: dict[str, Callable[[str], Verifier]], count: int, rng: random.Random) -> int:
    """Same verdicts everywhere; returns how many of the cases verified."""
    signers = [Sm2Signer(rng.randrange(1, sm2.N)) for _ in range(8)]
    verifiers = {s.public_key_text: {n: make(s.public_key_text) for n, make in backends.items()} for s in signers}
    valid = 0
    for i in range(count):
        signer = signers[i % len(signers)]
        message = rng.randbytes(rng.randrange(0, 300))
        sig = signer.sign(message)
        pos, bit = rng.randrange(64), 1 << rng.randrange(8)
        r, s = sig[:32], sig[32:]
        n_bytes = sm2.N.to_bytes(32, "big")
        cases = [
            (signer, message, sig, True),
            (signer, message, sig[:pos] + bytes([sig[pos] ^ bit]) + sig[pos + 1 :], True),
            (signer, message + b"!", sig, True),
            (signers[(i + 1) % len(signers)], message, sig, False),
            (signer, message, n_bytes + s, False),
            (signer, message, r + bytes(32), False),
            (signer, message, r + (sm2.N + rng.randrange(2**256 - sm2.N)).to_bytes(32, "big"), False),
        ]
        for who, m, sg, with_gmssl in cases:
            got = {n: v.verify(m, sg) for n, v in verifiers[who.public_key_text].items() if with_gmssl or n != "gmssl"}
            assert len(set(got.values())) == 1, f"verdicts differ: {got} (case {i})"
            valid += next(iter(got.values()))
    return valid


def _sm2(backend: str) -> Callable[[str], Verifier]:
    return lambda text: Sm2Verifier(text, backend=backend)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--cross", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(14)

    sm2_backends: dict[str, Callable[[str], Verifier]] = {f"SM2 {b}": _sm2(b) for b in SM2_BACKENDS}
    sm2_backends["SM2 gmssl"] = Gmssl
    known_answer(sm2_backends)
    print(f"known answer (GB/T 32918.5-2017 example): passed by {', '.join(sm2_backends)}", file=sys.stderr)
    t = time.perf_counter()
    valid = cross_check({n.removeprefix("SM2 "): m for n, m in sm2_backends.items()}, args.cross, rng)
    print(
        f"cross-check: {args.cross} × 7 cases, {valid} valid, same verdict in every backend "
        f"({time.perf_counter() - t:.0f} s)",
        file=sys.stderr,
    )

    # The workloads: (verify, message, signature) triples, all valid.
    work: dict[str, list[tuple[Callable[[bytes, bytes], bool], bytes, bytes]]] = {}
    eds = [Ed25519Signer.from_seed(rng.randbytes(32)) for _ in range(args.keys)]
    sms = [Sm2Signer(rng.randrange(1, sm2.N)) for _ in range(args.keys)]
    messages = [rng.randbytes(200) for _ in range(args.batch)]
    ed_verifiers = [Ed25519Verifier(s.public_key_text) for s in eds]
    work["Ed25519 (cryptography/OpenSSL)"] = [
        (ed_verifiers[i % args.keys].verify, m, eds[i % args.keys].sign(m)) for i, m in enumerate(messages)
    ]
    sm_sigs = [sms[i % args.keys].sign(m) for i, m in enumerate(messages)]
    for name, make in sm2_backends.items():
        vs = [make(s.public_key_text) for s in sms]
        slow = name in ("SM2 python", "SM2 gmssl")
        n = max(args.batch // 20, 5) if slow else args.batch
        work[name] = [(vs[i % args.keys].verify, messages[i], sm_sigs[i]) for i in range(n)]
    times: dict[str, list[float]] = {name: [] for name in work}
    for _ in range(args.rounds):
        for name, triples in work.items():
            t = time.process_time()
            for verify, m, sg in triples:
                if not verify(m, sg):
                    raise AssertionError(f"{name}: a valid signature failed")
            times[name].append((time.process_time() - t) / len(triples) * 1e6)
    floor = statistics.median(times["Ed25519 (cryptography/OpenSSL)"])
    print(f"\n{args.rounds} rounds, medians (CPU time); {args.keys} keys, 200-byte messages\n")
    print("| verification | µs | × Ed25519's time | spread (min–max µs) |")
    print("|---|---:|---:|---|")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {med:.1f} | {med / floor:.2f} | {min(ts):.1f}–{max(ts):.1f} |")
    key = sms[0].public_key_text
    for b in SM2_BACKENDS:
        t = time.process_time()
        for _ in range(20):
            Sm2Verifier(key, backend=b)
        print(f"making a verifier ({b}): {(time.process_time() - t) / 20 * 1e3:.2f} ms", file=sys.stderr)


if __name__ == "__main__":
    main()
