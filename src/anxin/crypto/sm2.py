"""SM2 signatures with SM3 (GB/T 32918.2, GB/T 32905) in pure Python.

The fallback backend: used where the compiled one (Tongsuo, the ``sm2`` extra) is not
installed — a station gateway on ARM, a minimal install running ``anxin check``. It
gives the same verdicts as the compiled backend (tests compare both on the same
signatures, and with the independent ``gmssl``), at a few milliseconds a signature.

Points are kept in Jacobian coordinates (the curve's a is −3, so doubling takes the
cheaper formula); a verification is ``s·G + t·P`` by Straus' method with 4-bit windows,
the window of G computed once and that of each public key once per key.
"""

from __future__ import annotations

import hashlib
import struct

# The recommended curve (GB/T 32918.5).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0
DEFAULT_USER_ID = b"1234567812345678"

Affine = tuple[int, int]
Jacobian = tuple[int, int, int]
_INF: Jacobian = (1, 1, 0)


# ------------------------------------------------------------------ SM3
def _rotl(x: int, n: int) -> int:
    n %= 32
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


_IV = (0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600, 0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E)
_T = [_rotl(0x79CC4519 if j < 16 else 0x7A879D8A, j) for j in range(64)]


def sm3_python(data: bytes) -> bytes:
    """SM3 (GB/T 32905) in pure Python, for interpreters whose OpenSSL lacks it."""
    n = len(data)
    msg = data + b"\x80" + b"\x00" * ((55 - n) % 64) + struct.pack(">Q", n * 8)
    v = list(_IV)
    for off in range(0, len(msg), 64):
        w = list(struct.unpack(">16I", msg[off : off + 64]))
        for j in range(16, 68):
            x = w[j - 16] ^ w[j - 9] ^ _rotl(w[j - 3], 15)
            w.append((x ^ _rotl(x, 15) ^ _rotl(x, 23)) ^ _rotl(w[j - 13], 7) ^ w[j - 6])
        a, b, c, d, e, f, g, h = v
        for j in range(64):
            a12 = _rotl(a, 12)
            ss1 = _rotl((a12 + e + _T[j]) & 0xFFFFFFFF, 7)
            ss2 = ss1 ^ a12
            if j < 16:
                ff, gg = a ^ b ^ c, e ^ f ^ g
            else:
                ff, gg = (a & b) | (a & c) | (b & c), (e & f) | (~e & g)
            tt1 = (ff + d + ss2 + (w[j] ^ w[j + 4])) & 0xFFFFFFFF
            tt2 = (gg + h + ss1 + w[j]) & 0xFFFFFFFF
            a, b, c, d = tt1, a, _rotl(b, 9), c
            e, f, g, h = tt2 ^ _rotl(tt2, 9) ^ _rotl(tt2, 17), e, _rotl(f, 19), g
        v = [x ^ y for x, y in zip(v, (a, b, c, d, e, f, g, h), strict=True)]
    return struct.pack(">8I", *v)


def _sm3_openssl(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


sm3 = _sm3_openssl if "sm3" in hashlib.algorithms_available else sm3_python


# ------------------------------------------------------------------ curve arithmetic
def _double(p: Jacobian) -> Jacobian:
    x, y, z = p
    if not z or not y:
        return _INF
    delta = z * z % P
    gamma = y * y % P
    beta = x * gamma % P
    alpha = 3 * (x - delta) * (x + delta) % P
    x3 = (alpha * alpha - 8 * beta) % P
    z3 = ((y + z) ** 2 - gamma - delta) % P
    y3 = (alpha * (4 * beta - x3) - 8 * gamma * gamma) % P
    return x3, y3, z3


def _add_affine(p: Jacobian, q: Affine) -> Jacobian:
    """p + q with q affine (mixed addition)."""
    x1, y1, z1 = p
    if not z1:
        return q[0], q[1], 1
    z1z1 = z1 * z1 % P
    u2 = q[0] * z1z1 % P
    s2 = q[1] * z1 * z1z1 % P
    h = (u2 - x1) % P
    r = (s2 - y1) % P
    if not h:
        return _double(p) if not r else _INF
    hh = h * h % P
    hhh = h * hh % P
    v = x1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - y1 * hhh) % P
    return x3, y3, z1 * h % P


def _to_affine(p: Jacobian) -> Affine:
    x, y, z = p
    zi = pow(z, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _window(point: Affine) -> list[Affine]:
    """[1·Q, 2·Q, …, 15·Q] in affine form (index k−1 holds k·Q)."""
    table: list[Jacobian] = [(point[0], point[1], 1)]
    for _ in range(14):
        table.append(_add_affine(table[-1], point))
    return [_to_affine(t) for t in table]


_G_WINDOW = _window((GX, GY))


def _straus(scalars: list[int], windows: list[list[Affine]]) -> Jacobian:
    acc = _INF
    for shift in range(252, -1, -4):
        if acc[2]:
            for _ in range(4):
                acc = _double(acc)
        for k, table in zip(scalars, windows, strict=True):
            nibble = (k >> shift) & 15
            if nibble:
                acc = _add_affine(acc, table[nibble - 1])
    return acc


def base_mult(k: int) -> Affine:
    """k·G."""
    return _to_affine(_straus([k % N], [_G_WINDOW]))


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


# ------------------------------------------------------------------ signatures
def user_hash(public: Affine, user_id: bytes = DEFAULT_USER_ID) -> bytes:
    """Z_A = SM3(ENTL ‖ ID ‖ a ‖ b ‖ x_G ‖ y_G ‖ x_A ‖ y_A)."""
    parts = (A, B, GX, GY, public[0], public[1])
    return sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + b"".join(v.to_bytes(32, "big") for v in parts))


class PublicKey:
    """An SM2 public key ready to verify: its window and Z_A computed once."""

    __slots__ = ("point", "za", "_window")

    def __init__(self, point: Affine, user_id: bytes = DEFAULT_USER_ID) -> None:
        if not on_curve(*point):
            raise ValueError("not a point on the SM2 curve")
        self.point = point
        self.za = user_hash(point, user_id)
        self._window = _window(point)

    @classmethod
    def from_uncompressed(cls, data: bytes) -> PublicKey:
        if len(data) != 65 or data[0] != 4:
            raise ValueError("not an uncompressed point")
        return cls((int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big")))

    def verify(self, message: bytes, r: int, s: int) -> bool:
        if not (0 < r < N and 0 < s < N):
            return False
        t = (r + s) % N
        if not t:
            return False
        e = int.from_bytes(sm3(self.za + message), "big")
        point = _straus([s, t], [_G_WINDOW, self._window])
        if not point[2]:
            return False
        x1, _ = _to_affine(point)
        return (e + x1) % N == r


def sign_with_nonce(d: int, za: bytes, message: bytes, k: int, *, x1: int | None = None) -> tuple[int, int] | None:
    """(r, s) of ``message`` with private key ``d`` and nonce ``k`` (GB/T 32918.2 §6.1), or
    None when this k is unusable (the caller draws another). ``x1`` is k·G's x when the
    caller computed it faster elsewhere."""
    e = int.from_bytes(sm3(za + message), "big")
    if x1 is None:
        x1 = base_mult(k)[0]
    r = (e + x1) % N
    if not r or r + k == N:
        return None
    s = pow(1 + d, -1, N) * (k - r * d) % N
    return (r, s) if s else None
