/*
 * A reference in C of canonical bytes and Ed25519 signing (anxin data contract v1 §4,
 * v1.1 §E), checked against docs/vectors/vectors.json by tests/test_vectors_c.py.
 *
 * Not a JSON parser: each record is written from fixed C values, as a module's firmware
 * writes the record it has just measured. The canonical writer knows the three value
 * types a metering record needs — strings, integers, and nothing else — and:
 *   - sorts the members by key (strcmp: byte order of UTF-8, which is RFC 8785's UTF-16
 *     order for the ASCII keys the contract uses),
 *   - writes no whitespace, integers in plain decimal (|n| <= 2^53 - 1, contract v1.1 §A),
 *   - escapes in strings only '"', '\\' and the control characters below U+0020
 *     (\b \f \n \r \t, else \u00xx in lowercase hex); all other UTF-8 goes out as it is,
 *   - leaves out "sig" (the signature covers everything else).
 * The signature is libsodium's crypto_sign_detached (Ed25519) with the key pair made from
 * the 32-byte private key (RFC 8032's seed) given in base64, as the vectors publish it.
 *
 *   cc -O2 -o canonical_sign canonical_sign.c -lsodium
 *   ./canonical_sign <private key, base64>
 * prints per record: its vector's name, the canonical bytes in hex, the signature in hex.
 */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum type { STR, INT };

struct member {
    const char *key;
    enum type type;
    const char *s;
    int64_t n;
};

struct buf {
    unsigned char data[4096];
    size_t len;
};

static void put(struct buf *b, const void *p, size_t n) {
    if (b->len + n > sizeof b->data) {
        fputs("record too long\n", stderr);
        exit(2);
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

static void put_string(struct buf *b, const char *s) {
    char esc[8];
    puts_(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': puts_(b, "\\\""); break;
        case '\\': puts_(b, "\\\\"); break;
        case '\b': puts_(b, "\\b"); break;
        case '\f': puts_(b, "\\f"); break;
        case '\n': puts_(b, "\\n"); break;
        case '\r': puts_(b, "\\r"); break;
        case '\t': puts_(b, "\\t"); break;
        default:
            if (*p < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", *p);
                puts_(b, esc);
            } else {
                put(b, p, 1);
            }
        }
    }
    puts_(b, "\"");
}

static int by_key(const void *a, const void *b) {
    return strcmp(((const struct member *)a)->key, ((const struct member *)b)->key);
}

static void canonical(struct buf *b, struct member *m, size_t n) {
    char num[32];
    qsort(m, n, sizeof *m, by_key);
    b->len = 0;
    puts_(b, "{");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].key, "sig") == 0) continue;
        if (!first) puts_(b, ",");
        first = 0;
        put_string(b, m[i].key);
        puts_(b, ":");
        if (m[i].type == STR) {
            put_string(b, m[i].s);
        } else {
            snprintf(num, sizeof num, "%lld", (long long)m[i].n);
            puts_(b, num);
        }
    }
    puts_(b, "}");
}

#define S(k, v) {k, STR, v, 0}
#define I(k, v) {k, INT, NULL, v}
#define MAX_INT 9007199254740991LL /* 2^53 - 1 */

/* A metering record's fields, in the order a module happens to hold them. */
#define METERING(station, seq, pulses, k, volume, tot_start, tot_end)                          \
    S("kind", "metering"), S("station_id", station), S("nozzle_id", "N0001-1"), I("seq", seq), \
        S("start", "2026-03-01T08:15:02.250+08:00"), S("end", "2026-03-01T08:17:40.125+08:00"), \
        I("pulses", pulses), I("k_pulses_per_m3", k), I("volume_ml", volume),                  \
        I("totalizer_start_ml", tot_start), I("totalizer_end_ml", tot_end), S("key_id", "K-ED25519-A")

static void emit(const char *name, struct member *m, size_t n, const unsigned char *sk) {
    struct buf b;
    unsigned char sig[crypto_sign_BYTES];
    char hex[2 * sizeof b.data + 1];
    canonical(&b, m, n);
    crypto_sign_detached(sig, NULL, b.data, b.len, sk);
    printf("%s %s ", name, sodium_bin2hex(hex, sizeof hex, b.data, b.len));
    printf("%s\n", sodium_bin2hex(hex, sizeof hex, sig, sizeof sig));
}

int main(int argc, char **argv) {
    unsigned char seed[crypto_sign_SEEDBYTES], pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    size_t seed_len = 0;
    if (argc != 2 || sodium_init() < 0 ||
        sodium_base642bin(seed, sizeof seed, argv[1], strlen(argv[1]), NULL, &seed_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        seed_len != sizeof seed) {
        fputs("usage: canonical_sign <Ed25519 private key: base64 of 32 bytes>\n", stderr);
        return 2;
    }
    crypto_sign_seed_keypair(pk, sk, seed);

    struct member plain[] = {METERING("S0001", 1042, 41180, 998700, 41234, 123456789, 123498023)};
    emit("metering-ed25519", plain, sizeof plain / sizeof *plain, sk);

    struct member non_ascii[] = {
        METERING("苏州工业园区加油站S0001", 1042, 41180, 998700, 41234, 123456789, 123498023),
        S("note", "加油 92# — 已付款 ✓ é 𠀋 😀"),
        S("escapes", "quote \" backslash \\ slash / newline \n tab \t cr \r bs \b ff \f nul-less \x01 \x1f"
                     " del \x7f ls \xe2\x80\xa8"),
        S("sig", "(not signed: left out of the canonical bytes)"),
    };
    emit("metering-non-ascii-ed25519", non_ascii, sizeof non_ascii / sizeof *non_ascii, sk);

    struct member bounds[] = {
        METERING("S0001", MAX_INT, MAX_INT, MAX_INT, 1000000, MAX_INT - 1000000, MAX_INT),
        I("ext_min", -MAX_INT),
        I("ext_zero", 0),
    };
    emit("metering-bounds-ed25519", bounds, sizeof bounds / sizeof *bounds, sk);
    return 0;
}
