/* shared inline helpers of the kllama C core (not part of the Python-facing API) */
#ifndef KL_INTERNAL_H
#define KL_INTERNAL_H
#include <stdint.h>
#include <string.h>

#include "kllama.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define KL_X86 1
#else
#define KL_X86 0
#endif

static inline uint64_t kl_read64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap64(v);
#endif
  return v;
}
static inline uint32_t kl_read32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  v = __builtin_bswap32(v);
#endif
  return v;
}
static inline uint32_t kl_read32be(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline int64_t kl_off(const void *offsets, int off64, int64_t i) {
  return off64 ? ((const int64_t *)offsets)[i] : (int64_t)((const int32_t *)offsets)[i];
}

uint64_t kl_sha1_first8_le(const uint8_t *p, size_t len);

#define KL_P64_1 0x9E3779B185EBCA87ULL
#define KL_P64_2 0xC2B2AE3D27D4EB4FULL
#define KL_P64_3 0x165667B19E3779F9ULL
#define KL_P64_4 0x85EBCA77C2B2AE63ULL
#define KL_P64_5 0x27D4EB2F165667C5ULL
static inline uint64_t kl_rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* ---------------------------------------------------------------- XXH64 */
static inline uint64_t kl_xxh64_round(uint64_t acc, uint64_t input) {
  acc += input * KL_P64_2;
  acc = kl_rotl64(acc, 31);
  return acc * KL_P64_1;
}
static inline uint64_t kl_xxh64_merge(uint64_t acc, uint64_t val) {
  acc ^= kl_xxh64_round(0, val);
  return acc * KL_P64_1 + KL_P64_4;
}
static inline uint64_t kl_xxh64_avalanche(uint64_t h) {
  h ^= h >> 33;
  h *= KL_P64_2;
  h ^= h >> 29;
  h *= KL_P64_3;
  h ^= h >> 32;
  return h;
}

static inline uint64_t kl_xxh64_inline(const uint8_t *p, size_t len, uint64_t seed) {
  const uint8_t *end = p + len;
  uint64_t h;
  if (len >= 32) {
    const uint8_t *limit = end - 32;
    uint64_t v1 = seed + KL_P64_1 + KL_P64_2, v2 = seed + KL_P64_2, v3 = seed, v4 = seed - KL_P64_1;
    do {
      v1 = kl_xxh64_round(v1, kl_read64(p));
      v2 = kl_xxh64_round(v2, kl_read64(p + 8));
      v3 = kl_xxh64_round(v3, kl_read64(p + 16));
      v4 = kl_xxh64_round(v4, kl_read64(p + 24));
      p += 32;
    } while (p <= limit);
    h = kl_rotl64(v1, 1) + kl_rotl64(v2, 7) + kl_rotl64(v3, 12) + kl_rotl64(v4, 18);
    h = kl_xxh64_merge(h, v1);
    h = kl_xxh64_merge(h, v2);
    h = kl_xxh64_merge(h, v3);
    h = kl_xxh64_merge(h, v4);
  } else {
    h = seed + KL_P64_5;
  }
  h += (uint64_t)len;
  while (end - p >= 8) {
    h ^= kl_xxh64_round(0, kl_read64(p));
    h = kl_rotl64(h, 27) * KL_P64_1 + KL_P64_4;
    p += 8;
  }
  if (end - p >= 4) {
    h ^= (uint64_t)kl_read32(p) * KL_P64_1;
    h = kl_rotl64(h, 23) * KL_P64_2 + KL_P64_3;
    p += 4;
  }
  while (p < end) {
    h ^= (*p) * KL_P64_5;
    h = kl_rotl64(h, 11) * KL_P64_1;
    p++;
  }
  return kl_xxh64_avalanche(h);
}



/* ---------------------------------------------------------------- XXH3-64 (seed 0), inputs <= 16 bytes */
extern const uint8_t kl_xxh3_secret[192];
uint64_t kl_xxh3_64(const uint8_t *p, size_t len);
#define KL_PMX_1 0x165667919E3779F9ULL
#define KL_PMX_2 0x9FB21C651E98DF25ULL
static inline uint64_t kl_xxh3_avalanche(uint64_t h) {
  h ^= h >> 37;
  h *= KL_PMX_1;
  return h ^ (h >> 32);
}
static inline uint64_t kl_xxh3_64_short(const uint8_t *in, size_t len) {
  const uint8_t *sec = kl_xxh3_secret;
  if (len > 8) {
    uint64_t lo = kl_read64(in) ^ (kl_read64(sec + 24) ^ kl_read64(sec + 32));
    uint64_t hi = kl_read64(in + len - 8) ^ (kl_read64(sec + 40) ^ kl_read64(sec + 48));
    __uint128_t p = (__uint128_t)lo * hi;
    uint64_t acc = (uint64_t)len + __builtin_bswap64(lo) + hi + ((uint64_t)p ^ (uint64_t)(p >> 64));
    return kl_xxh3_avalanche(acc);
  }
  if (len >= 4) {
    uint64_t in64 = (uint64_t)kl_read32(in + len - 4) + ((uint64_t)kl_read32(in) << 32);
    uint64_t h = in64 ^ (kl_read64(sec + 8) ^ kl_read64(sec + 16));
    h ^= kl_rotl64(h, 49) ^ kl_rotl64(h, 24);
    h *= KL_PMX_2;
    h ^= (h >> 35) + (uint64_t)len;
    h *= KL_PMX_2;
    return h ^ (h >> 28);
  }
  if (len > 0) {
    uint32_t combined = ((uint32_t)in[0] << 16) | ((uint32_t)in[len >> 1] << 24) | (uint32_t)in[len - 1] |
                        ((uint32_t)len << 8);
    return kl_xxh64_avalanche((uint64_t)combined ^ (uint64_t)(kl_read32(sec) ^ kl_read32(sec + 4)));
  }
  return kl_xxh64_avalanche(kl_read64(sec + 56) ^ kl_read64(sec + 64));
}

/* kl_xxh3_64_short of the first len (1..16) bytes of the little-endian 128-bit value w (no memory access,
 * for words lowercased in a vector register) */
static inline uint64_t kl_xxh3_64_w128(__uint128_t w, size_t len) {
  const uint8_t *sec = kl_xxh3_secret;
#define KL_W32(k) ((uint32_t)(w >> (8 * (k))))
#define KL_W64(k) ((uint64_t)(w >> (8 * (k))))
  if (len > 8) {
    uint64_t lo = KL_W64(0) ^ (kl_read64(sec + 24) ^ kl_read64(sec + 32));
    uint64_t hi = KL_W64(len - 8) ^ (kl_read64(sec + 40) ^ kl_read64(sec + 48));
    __uint128_t p = (__uint128_t)lo * hi;
    uint64_t acc = (uint64_t)len + __builtin_bswap64(lo) + hi + ((uint64_t)p ^ (uint64_t)(p >> 64));
    return kl_xxh3_avalanche(acc);
  }
  if (len >= 4) {
    uint64_t in64 = (uint64_t)KL_W32(len - 4) + ((uint64_t)KL_W32(0) << 32);
    uint64_t h = in64 ^ (kl_read64(sec + 8) ^ kl_read64(sec + 16));
    h ^= kl_rotl64(h, 49) ^ kl_rotl64(h, 24);
    h *= KL_PMX_2;
    h ^= (h >> 35) + (uint64_t)len;
    h *= KL_PMX_2;
    return h ^ (h >> 28);
  }
  uint32_t combined = ((uint32_t)(uint8_t)KL_W32(0) << 16) | ((uint32_t)(uint8_t)KL_W32(len >> 1) << 24) |
                      (uint32_t)(uint8_t)KL_W32(len - 1) | ((uint32_t)len << 8);
#undef KL_W32
#undef KL_W64
  return kl_xxh64_avalanche((uint64_t)combined ^ (uint64_t)(kl_read32(sec) ^ kl_read32(sec + 4)));
}
static inline uint64_t kl_word_hash(const uint8_t *p, size_t len) {
  return len <= 16 ? kl_xxh3_64_short(p, len) : kl_xxh3_64(p, len);
}

/* Strict UTF-8 decoding of one code point at s (avail > 0 bytes). Returns the code point and sets *n
 * to its length, or returns -1 for an invalid / truncated / overlong / surrogate sequence. */
static inline int32_t kl_utf8_decode(const uint8_t *s, int64_t avail, int *n) {
  uint32_t b0 = s[0];
  if (b0 < 0x80) {
    *n = 1;
    return (int32_t)b0;
  }
  if (b0 < 0xC2) return -1;
  if (b0 < 0xE0) {
    if (avail < 2 || (s[1] & 0xC0) != 0x80) return -1;
    *n = 2;
    return (int32_t)(((b0 & 0x1F) << 6) | (s[1] & 0x3F));
  }
  if (b0 < 0xF0) {
    if (avail < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return -1;
    if (b0 == 0xE0 && s[1] < 0xA0) return -1; /* overlong */
    if (b0 == 0xED && s[1] >= 0xA0) return -1; /* surrogate */
    *n = 3;
    return (int32_t)(((b0 & 0x0F) << 12) | ((uint32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F));
  }
  if (b0 < 0xF5) {
    if (avail < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) return -1;
    if (b0 == 0xF0 && s[1] < 0x90) return -1; /* overlong */
    if (b0 == 0xF4 && s[1] >= 0x90) return -1; /* > U+10FFFF */
    *n = 4;
    return (int32_t)(((b0 & 0x07) << 18) | ((uint32_t)(s[1] & 0x3F) << 12) | ((uint32_t)(s[2] & 0x3F) << 6) |
                     (s[3] & 0x3F));
  }
  return -1;
}

/* start of the code point that ends right before position `pos` (valid UTF-8 assumed, never below lo) */
static inline int64_t kl_utf8_prev(const uint8_t *s, int64_t lo, int64_t pos) {
  int64_t p = pos - 1;
  while (p > lo && (s[p] & 0xC0) == 0x80) p--;
  return p;
}

static inline int kl_utf8_encode(uint32_t cp, uint8_t *o) {
  if (cp < 0x80) {
    o[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (uint8_t)(0xC0 | (cp >> 6));
    o[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (uint8_t)(0xE0 | (cp >> 12));
    o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (uint8_t)(0xF0 | (cp >> 18));
  o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}
#endif
