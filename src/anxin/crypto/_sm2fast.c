/* SM2 signature verification with SM3 (GB/T 32918.2, GB/T 32905) on the recommended
 * curve (GB/T 32918.5): the compiled hot path of anxin.crypto.schemes.Sm2Verifier.
 *
 * Verification handles public data only (the key, the message, the signature), so
 * nothing here is constant time; it is exact. The Python fallbacks (Tongsuo,
 * anxin.crypto.sm2) give the same verdicts; tests/test_sm2_fast.py compares them.
 *
 *   public_table(point: bytes) -> bytes
 *       the key's comb table (below) from its uncompressed encoding 04 ‖ x ‖ y;
 *       ValueError for anything that is not a point of the curve.
 *   verify(table: bytes, za: bytes, message: buffer, signature: buffer) -> bool
 *       e = SM3(Z_A ‖ M); 1 ≤ r, s < n; t = (r + s) mod n ≠ 0; (x1, y1) = s·G + t·P
 *       not the point at infinity; (e + x1) mod n == r.
 *   sm3(data: buffer) -> bytes
 *
 * Field elements: 4 × 64-bit limbs, little endian, in Montgomery form mod p (p ≡ −1
 * mod 2^64, so the Montgomery factor −p⁻¹ mod 2^64 is 1). Points: Jacobian
 * coordinates (a = −3). Scalar multiplication: a comb with 8 teeth 32 bits apart: for a
 * point Q the table holds T[m] = Σ_{i: bit i of m} 2^{32 i}·Q for m = 1 … 255 (affine,
 * 16 KiB), and k·Q = Σ_j 2^j·T[m_j] with m_j the bits j, j+32, …, j+224 of k. s·G and
 * t·P share the doublings: 31 doublings and at most 64 mixed additions. G's table is
 * built when the module is imported, a key's once when its verifier is made. x1 is
 * compared without an inversion: X == x·Z² for the (at most two) x ≡ r − e mod n.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;
typedef unsigned __int128 u128;

typedef struct {
    u64 v[4];
} fe;
typedef struct {
    fe x, y, z; /* z == 0: the point at infinity */
} jpoint;
typedef struct {
    fe x, y;
} apoint;

#define TEETH 8
#define SPACING 32
#define TABLE_POINTS 255
#define TABLE_BYTES (TABLE_POINTS * sizeof(apoint))

static const fe P = {{0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFF00000000ULL, 0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL}};
static const fe N = {{0x53BBF40939D54123ULL, 0x7203DF6B21C6052BULL, 0xFFFFFFFFFFFFFFFFULL, 0xFFFFFFFEFFFFFFFFULL}};
static const fe B_PLAIN = {{0xDDBCBD414D940E93ULL, 0xF39789F515AB8F92ULL, 0x4D5A9E4BCF6509A7ULL, 0x28E9FA9E9D9F5E34ULL}};
static const fe GX_PLAIN = {{0x715A4589334C74C7ULL, 0x8FE30BBFF2660BE1ULL, 0x5F9904466A39C994ULL, 0x32C4AE2C1F198119ULL}};
static const fe GY_PLAIN = {{0x02DF32E52139F0A0ULL, 0xD0A9877CC62A4740ULL, 0x59BDCEE36B692153ULL, 0xBC3736A2F4F6779CULL}};

static fe R2;     /* 2^512 mod p: to Montgomery form */
static fe ONE;    /* 1 in Montgomery form (2^256 mod p) */
static fe B_MONT; /* the curve's b */
static apoint G_TABLE[TABLE_POINTS];

/* ------------------------------------------------------------------ 256-bit integers */
static inline int is_zero(const fe *a) { return (a->v[0] | a->v[1] | a->v[2] | a->v[3]) == 0; }

static inline int eq(const fe *a, const fe *b) {
    return ((a->v[0] ^ b->v[0]) | (a->v[1] ^ b->v[1]) | (a->v[2] ^ b->v[2]) | (a->v[3] ^ b->v[3])) == 0;
}

/* r = a − m; returns the borrow (1 when a < m). */
static inline u64 sub_raw(fe *r, const fe *a, const fe *m) {
    u64 borrow = 0;
    for (int i = 0; i < 4; i++) {
        u128 d = (u128)a->v[i] - m->v[i] - borrow;
        r->v[i] = (u64)d;
        borrow = (u64)(d >> 64) & 1;
    }
    return borrow;
}

/* r = a + m; returns the carry. */
static inline u64 add_raw(fe *r, const fe *a, const fe *m) {
    u128 c = 0;
    for (int i = 0; i < 4; i++) {
        c += (u128)a->v[i] + m->v[i];
        r->v[i] = (u64)c;
        c >>= 64;
    }
    return (u64)c;
}

static inline int less_than(const fe *a, const fe *m) {
    fe t;
    return (int)sub_raw(&t, a, m);
}

/* r = (a + b) mod m for a, b < m. */
static inline void add_mod(fe *r, const fe *a, const fe *b, const fe *m) {
    fe t, s;
    u64 carry = add_raw(&t, a, b);
    u64 borrow = sub_raw(&s, &t, m);
    *r = (carry || !borrow) ? s : t;
}

/* r = (a − b) mod m for a, b < m. */
static inline void sub_mod(fe *r, const fe *a, const fe *b, const fe *m) {
    fe t;
    if (sub_raw(&t, a, b)) {
        add_raw(&t, &t, m);
    }
    *r = t;
}

static void from_be(fe *r, const unsigned char *b) {
    for (int i = 0; i < 4; i++) {
        u64 w = 0;
        for (int j = 0; j < 8; j++) {
            w = (w << 8) | b[(3 - i) * 8 + j];
        }
        r->v[i] = w;
    }
}

/* ------------------------------------------------------------------ the field mod p */
static inline void fp_add(fe *r, const fe *a, const fe *b) { add_mod(r, a, b, &P); }
static inline void fp_sub(fe *r, const fe *a, const fe *b) { sub_mod(r, a, b, &P); }

/* Montgomery product a·b·2^-256 mod p (CIOS; −p⁻¹ mod 2^64 = 1). Output < p. */
static void fp_mul(fe *r, const fe *a, const fe *b) {
    u64 t[6] = {0, 0, 0, 0, 0, 0};
    for (int i = 0; i < 4; i++) {
        u64 c = 0;
        for (int j = 0; j < 4; j++) {
            u128 uv = (u128)a->v[j] * b->v[i] + t[j] + c;
            t[j] = (u64)uv;
            c = (u64)(uv >> 64);
        }
        u128 uv = (u128)t[4] + c;
        t[4] = (u64)uv;
        t[5] = (u64)(uv >> 64);
        u64 m = t[0];
        uv = (u128)m * P.v[0] + t[0];
        c = (u64)(uv >> 64);
        for (int j = 1; j < 4; j++) {
            uv = (u128)m * P.v[j] + t[j] + c;
            t[j - 1] = (u64)uv;
            c = (u64)(uv >> 64);
        }
        uv = (u128)t[4] + c;
        t[3] = (u64)uv;
        t[4] = t[5] + (u64)(uv >> 64);
    }
    fe lo = {{t[0], t[1], t[2], t[3]}}, s;
    u64 borrow = sub_raw(&s, &lo, &P);
    *r = (t[4] || !borrow) ? s : lo;
}

static inline void fp_sqr(fe *r, const fe *a) { fp_mul(r, a, a); }

static inline void to_mont(fe *r, const fe *a) { fp_mul(r, a, &R2); }

/* a^(p−2): the inverse of a non-zero a (Montgomery form in and out). */
static void fp_inv(fe *r, const fe *a) {
    fe e, acc = ONE;
    static const fe two = {{2, 0, 0, 0}};
    sub_raw(&e, &P, &two);
    for (int i = 255; i >= 0; i--) {
        fp_sqr(&acc, &acc);
        if ((e.v[i >> 6] >> (i & 63)) & 1) {
            fp_mul(&acc, &acc, a);
        }
    }
    *r = acc;
}

/* ------------------------------------------------------------------ the curve */
static void jdouble(jpoint *r, const jpoint *p) {
    if (is_zero(&p->z) || is_zero(&p->y)) {
        memset(r, 0, sizeof *r);
        return;
    }
    fe delta, gamma, beta, alpha, t1, t2, x3, y3, z3;
    fp_sqr(&delta, &p->z);
    fp_sqr(&gamma, &p->y);
    fp_mul(&beta, &p->x, &gamma);
    fp_sub(&t1, &p->x, &delta);
    fp_add(&t2, &p->x, &delta);
    fp_mul(&alpha, &t1, &t2);
    fp_add(&t1, &alpha, &alpha);
    fp_add(&alpha, &t1, &alpha); /* alpha = 3(x − δ)(x + δ) */
    fp_sqr(&x3, &alpha);
    fp_add(&t1, &beta, &beta);  /* 2β */
    fp_add(&t1, &t1, &t1);      /* 4β */
    fp_add(&t2, &t1, &t1);      /* 8β */
    fp_sub(&x3, &x3, &t2);      /* x3 = α² − 8β */
    fp_add(&z3, &p->y, &p->z);
    fp_sqr(&z3, &z3);
    fp_sub(&z3, &z3, &gamma);
    fp_sub(&z3, &z3, &delta);   /* z3 = (y + z)² − γ − δ */
    fp_sub(&t1, &t1, &x3);      /* 4β − x3 */
    fp_mul(&y3, &alpha, &t1);
    fp_sqr(&t2, &gamma);
    fp_add(&t2, &t2, &t2);
    fp_add(&t2, &t2, &t2);
    fp_add(&t2, &t2, &t2);      /* 8γ² */
    fp_sub(&y3, &y3, &t2);
    r->x = x3;
    r->y = y3;
    r->z = z3;
}

/* r = p + q with q affine (and never the point at infinity). r may alias p. */
static void jadd_affine(jpoint *r, const jpoint *p, const apoint *q) {
    if (is_zero(&p->z)) {
        r->x = q->x;
        r->y = q->y;
        r->z = ONE;
        return;
    }
    fe z1z1, u2, s2, h, rr, hh, hhh, v, t, x3, y3, z3;
    fp_sqr(&z1z1, &p->z);
    fp_mul(&u2, &q->x, &z1z1);
    fp_mul(&s2, &q->y, &p->z);
    fp_mul(&s2, &s2, &z1z1);
    fp_sub(&h, &u2, &p->x);
    fp_sub(&rr, &s2, &p->y);
    if (is_zero(&h)) {
        if (is_zero(&rr)) {
            jpoint copy = *p;
            jdouble(r, &copy);
        } else {
            memset(r, 0, sizeof *r);
        }
        return;
    }
    fp_sqr(&hh, &h);
    fp_mul(&hhh, &h, &hh);
    fp_mul(&v, &p->x, &hh);
    fp_sqr(&x3, &rr);
    fp_sub(&x3, &x3, &hhh);
    fp_sub(&x3, &x3, &v);
    fp_sub(&x3, &x3, &v); /* x3 = r² − h³ − 2v */
    fp_sub(&t, &v, &x3);
    fp_mul(&y3, &rr, &t);
    fp_mul(&t, &p->y, &hhh);
    fp_sub(&y3, &y3, &t); /* y3 = r(v − x3) − y1·h³ */
    fp_mul(&z3, &p->z, &h);
    r->x = x3;
    r->y = y3;
    r->z = z3;
}

/* y² == x³ − 3x + b for x, y in Montgomery form. */
static int on_curve(const fe *x, const fe *y) {
    fe lhs, rhs, t;
    fp_sqr(&lhs, y);
    fp_sqr(&rhs, x);
    fp_mul(&rhs, &rhs, x);
    fp_add(&t, x, x);
    fp_add(&t, &t, x);
    fp_sub(&rhs, &rhs, &t);
    fp_add(&rhs, &rhs, &B_MONT);
    return eq(&lhs, &rhs);
}

/* Converts n Jacobian points (none at infinity) to affine with one inversion. */
static int batch_affine(apoint *out, const jpoint *in, int n) {
    fe *prefix = PyMem_Malloc(sizeof(fe) * (size_t)n);
    if (prefix == NULL) {
        return -1;
    }
    fe acc = ONE;
    for (int i = 0; i < n; i++) {
        prefix[i] = acc;
        fp_mul(&acc, &acc, &in[i].z);
    }
    fe inv;
    fp_inv(&inv, &acc); /* 1 / (z_0 ⋯ z_{n−1}) */
    for (int i = n - 1; i >= 0; i--) {
        fe zi, zi2, zi3;
        fp_mul(&zi, &inv, &prefix[i]);   /* 1 / z_i */
        fp_mul(&inv, &inv, &in[i].z);    /* 1 / (z_0 ⋯ z_{i−1}) */
        fp_sqr(&zi2, &zi);
        fp_mul(&zi3, &zi2, &zi);
        fp_mul(&out[i].x, &in[i].x, &zi2);
        fp_mul(&out[i].y, &in[i].y, &zi3);
    }
    PyMem_Free(prefix);
    return 0;
}

/* The comb table of the affine point q: 0 on success, 1 for a degenerate table
 * (impossible for a point of the curve), −1 out of memory. */
static int build_table(apoint *table, const apoint *q) {
    jpoint *jt = PyMem_Malloc(sizeof(jpoint) * TABLE_POINTS);
    if (jt == NULL) {
        return -1;
    }
    apoint teeth[TEETH];
    jpoint cur = {q->x, q->y, ONE};
    teeth[0] = *q;
    jt[0] = cur; /* T[1] = q */
    for (int i = 1; i < TEETH; i++) {
        for (int d = 0; d < SPACING; d++) {
            jdouble(&cur, &cur);
        }
        if (is_zero(&cur.z)) {
            PyMem_Free(jt);
            return 1;
        }
        fe zi, zi2, zi3;
        fp_inv(&zi, &cur.z);
        fp_sqr(&zi2, &zi);
        fp_mul(&zi3, &zi2, &zi);
        fp_mul(&teeth[i].x, &cur.x, &zi2);
        fp_mul(&teeth[i].y, &cur.y, &zi3);
        cur.x = teeth[i].x;
        cur.y = teeth[i].y;
        cur.z = ONE;
    }
    for (int m = 2; m <= TABLE_POINTS; m++) {
        int low = __builtin_ctz((unsigned)m);
        int rest = m & (m - 1);
        if (rest == 0) {
            jt[m - 1].x = teeth[low].x;
            jt[m - 1].y = teeth[low].y;
            jt[m - 1].z = ONE;
        } else {
            jadd_affine(&jt[m - 1], &jt[rest - 1], &teeth[low]);
        }
        if (is_zero(&jt[m - 1].z)) {
            PyMem_Free(jt);
            return 1;
        }
    }
    int rc = batch_affine(table, jt, TABLE_POINTS);
    PyMem_Free(jt);
    return rc;
}

static inline unsigned comb_index(const fe *k, int j) {
    unsigned m = 0;
    for (int i = 0; i < TEETH; i++) {
        int b = SPACING * i + j;
        m |= (unsigned)((k->v[b >> 6] >> (b & 63)) & 1) << i;
    }
    return m;
}

/* ------------------------------------------------------------------ SM3 */
typedef struct {
    u32 h[8];
    unsigned char buf[64];
    size_t used;
    u64 total;
} sm3_ctx;

#define ROTL(x, n) (((x) << (n)) | ((x) >> ((32 - (n)) & 31)))
#define P0(x) ((x) ^ ROTL((x), 9) ^ ROTL((x), 17))
#define P1(x) ((x) ^ ROTL((x), 15) ^ ROTL((x), 23))

static u32 SM3_T[64];

static void sm3_init(sm3_ctx *c) {
    static const u32 iv[8] = {0x7380166F, 0x4914B2B9, 0x172442D7, 0xDA8A0600,
                              0xA96F30BC, 0x163138AA, 0xE38DEE4D, 0xB0FB0E4E};
    memcpy(c->h, iv, sizeof iv);
    c->used = 0;
    c->total = 0;
}

static void sm3_block(u32 h[8], const unsigned char *p) {
    u32 w[68], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int j = 0; j < 16; j++) {
        w[j] = ((u32)p[4 * j] << 24) | ((u32)p[4 * j + 1] << 16) | ((u32)p[4 * j + 2] << 8) | p[4 * j + 3];
    }
    for (int j = 16; j < 68; j++) {
        u32 x = w[j - 16] ^ w[j - 9] ^ ROTL(w[j - 3], 15);
        w[j] = P1(x) ^ ROTL(w[j - 13], 7) ^ w[j - 6];
    }
    for (int j = 0; j < 64; j++) {
        u32 a12 = ROTL(a, 12);
        u32 ss1 = ROTL(a12 + e + SM3_T[j], 7);
        u32 ss2 = ss1 ^ a12;
        u32 ff = j < 16 ? (a ^ b ^ c) : ((a & b) | (a & c) | (b & c));
        u32 gg = j < 16 ? (e ^ f ^ g) : ((e & f) | (~e & g));
        u32 tt1 = ff + d + ss2 + (w[j] ^ w[j + 4]);
        u32 tt2 = gg + hh + ss1 + w[j];
        d = c;
        c = ROTL(b, 9);
        b = a;
        a = tt1;
        hh = g;
        g = ROTL(f, 19);
        f = e;
        e = P0(tt2);
    }
    h[0] ^= a;
    h[1] ^= b;
    h[2] ^= c;
    h[3] ^= d;
    h[4] ^= e;
    h[5] ^= f;
    h[6] ^= g;
    h[7] ^= hh;
}

static void sm3_update(sm3_ctx *c, const unsigned char *p, size_t n) {
    c->total += n;
    if (c->used) {
        size_t take = 64 - c->used < n ? 64 - c->used : n;
        memcpy(c->buf + c->used, p, take);
        c->used += take;
        p += take;
        n -= take;
        if (c->used < 64) {
            return;
        }
        sm3_block(c->h, c->buf);
        c->used = 0;
    }
    while (n >= 64) {
        sm3_block(c->h, p);
        p += 64;
        n -= 64;
    }
    memcpy(c->buf, p, n);
    c->used = n;
}

static void sm3_final(sm3_ctx *c, unsigned char out[32]) {
    u64 bits = c->total * 8;
    unsigned char pad[72] = {0x80};
    size_t padlen = (c->used < 56 ? 56 : 120) - c->used;
    unsigned char len[8];
    for (int i = 0; i < 8; i++) {
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    }
    sm3_update(c, pad, padlen);
    sm3_update(c, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

/* ------------------------------------------------------------------ verification */
static int verify_raw(const apoint *table, const unsigned char *za, const unsigned char *msg, size_t msg_len,
                      const unsigned char *sig) {
    fe r, s, t, e;
    from_be(&r, sig);
    from_be(&s, sig + 32);
    if (is_zero(&r) || is_zero(&s) || !less_than(&r, &N) || !less_than(&s, &N)) {
        return 0;
    }
    add_mod(&t, &r, &s, &N);
    if (is_zero(&t)) {
        return 0;
    }
    unsigned char digest[32];
    sm3_ctx ctx;
    sm3_init(&ctx);
    sm3_update(&ctx, za, 32);
    sm3_update(&ctx, msg, msg_len);
    sm3_final(&ctx, digest);
    from_be(&e, digest);
    if (!less_than(&e, &N)) {
        sub_raw(&e, &e, &N); /* e < 2^256 < 2n */
    }

    jpoint acc;
    memset(&acc, 0, sizeof acc);
    for (int j = SPACING - 1; j >= 0; j--) {
        jdouble(&acc, &acc);
        unsigned ms = comb_index(&s, j), mt = comb_index(&t, j);
        if (ms) {
            jadd_affine(&acc, &acc, &G_TABLE[ms - 1]);
        }
        if (mt) {
            jadd_affine(&acc, &acc, &table[mt - 1]);
        }
    }
    if (is_zero(&acc.z)) {
        return 0;
    }
    /* x1 = X / Z² in [0, p) with (e + x1) mod n == r  ⇔  x1 ∈ {c, c + n} ∩ [0, p), c = (r − e) mod n. */
    fe c, z2, cand, lhs;
    sub_mod(&c, &r, &e, &N);
    fp_sqr(&z2, &acc.z);
    to_mont(&cand, &c);
    fp_mul(&lhs, &cand, &z2);
    if (eq(&lhs, &acc.x)) {
        return 1;
    }
    fe c2;
    if (!add_raw(&c2, &c, &N) && less_than(&c2, &P)) {
        to_mont(&cand, &c2);
        fp_mul(&lhs, &cand, &z2);
        if (eq(&lhs, &acc.x)) {
            return 1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ Python */
static PyObject *py_public_table(PyObject *Py_UNUSED(self), PyObject *arg) {
    Py_buffer point;
    if (PyObject_GetBuffer(arg, &point, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (point.len != 65 || ((const unsigned char *)point.buf)[0] != 4) {
        PyBuffer_Release(&point);
        PyErr_SetString(PyExc_ValueError, "not an uncompressed point");
        return NULL;
    }
    fe x, y;
    from_be(&x, (const unsigned char *)point.buf + 1);
    from_be(&y, (const unsigned char *)point.buf + 33);
    PyBuffer_Release(&point);
    if (!less_than(&x, &P) || !less_than(&y, &P)) {
        PyErr_SetString(PyExc_ValueError, "not a point on the SM2 curve");
        return NULL;
    }
    apoint q;
    to_mont(&q.x, &x);
    to_mont(&q.y, &y);
    if (!on_curve(&q.x, &q.y)) {
        PyErr_SetString(PyExc_ValueError, "not a point on the SM2 curve");
        return NULL;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)TABLE_BYTES);
    if (out == NULL) {
        return NULL;
    }
    apoint *table = PyMem_Malloc(TABLE_BYTES);
    if (table == NULL) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    int rc = build_table(table, &q);
    if (rc != 0) {
        PyMem_Free(table);
        Py_DECREF(out);
        if (rc < 0) {
            return PyErr_NoMemory();
        }
        PyErr_SetString(PyExc_ValueError, "not a point of the SM2 group");
        return NULL;
    }
    memcpy(PyBytes_AS_STRING(out), table, TABLE_BYTES);
    PyMem_Free(table);
    return out;
}

static PyObject *py_verify(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "verify(table, za, message, signature)");
        return NULL;
    }
    if (!PyBytes_Check(args[0]) || PyBytes_GET_SIZE(args[0]) != (Py_ssize_t)TABLE_BYTES) {
        PyErr_SetString(PyExc_ValueError, "not a table made by public_table()");
        return NULL;
    }
    if (!PyBytes_Check(args[1]) || PyBytes_GET_SIZE(args[1]) != 32) {
        PyErr_SetString(PyExc_ValueError, "Z_A must be 32 bytes");
        return NULL;
    }
    Py_buffer msg, sig;
    if (PyObject_GetBuffer(args[2], &msg, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[3], &sig, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&msg);
        return NULL;
    }
    int ok = 0;
    if (sig.len == 64) {
        /* A bytes object's data is 8-byte aligned in CPython: the table is read in place. */
        const apoint *table = (const apoint *)PyBytes_AS_STRING(args[0]);
        const unsigned char *za = (const unsigned char *)PyBytes_AS_STRING(args[1]);
        Py_BEGIN_ALLOW_THREADS;
        ok = verify_raw(table, za, msg.buf, (size_t)msg.len, sig.buf);
        Py_END_ALLOW_THREADS;
    }
    PyBuffer_Release(&sig);
    PyBuffer_Release(&msg);
    return PyBool_FromLong(ok);
}

static PyObject *py_sm3(PyObject *Py_UNUSED(self), PyObject *arg) {
    Py_buffer data;
    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    unsigned char out[32];
    sm3_ctx ctx;
    sm3_init(&ctx);
    sm3_update(&ctx, data.buf, (size_t)data.len);
    sm3_final(&ctx, out);
    PyBuffer_Release(&data);
    return PyBytes_FromStringAndSize((const char *)out, 32);
}

static PyMethodDef methods[] = {
    {"public_table", py_public_table, METH_O, "The comb table of an SM2 public key (04 ‖ x ‖ y)."},
    {"verify", (PyCFunction)(void (*)(void))py_verify, METH_FASTCALL,
     "verify(table, za, message, signature) -> bool: an SM2-with-SM3 signature r ‖ s."},
    {"sm3", py_sm3, METH_O, "SM3 (GB/T 32905) of a bytes-like object."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_sm2fast", "SM2 verification (GB/T 32918.2) with SM3, compiled.", -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__sm2fast(void) {
    for (int j = 0; j < 64; j++) {
        u32 tj = j < 16 ? 0x79CC4519u : 0x7A879D8Au;
        int n = j % 32;
        SM3_T[j] = n ? ((tj << n) | (tj >> (32 - n))) : tj;
    }
    /* ONE = 2^256 mod p = 2^256 − p; R2 = ONE doubled 256 times. */
    static const fe zero = {{0, 0, 0, 0}};
    sub_raw(&ONE, &zero, &P);
    R2 = ONE;
    for (int i = 0; i < 256; i++) {
        fp_add(&R2, &R2, &R2);
    }
    to_mont(&B_MONT, &B_PLAIN);
    apoint g;
    to_mont(&g.x, &GX_PLAIN);
    to_mont(&g.y, &GY_PLAIN);
    if (!on_curve(&g.x, &g.y) || build_table(G_TABLE, &g) != 0) {
        PyErr_SetString(PyExc_ImportError, "_sm2fast: self-check of the curve constants failed");
        return NULL;
    }
    return PyModule_Create(&module);
}
