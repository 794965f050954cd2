/* XXH64, XXH3-128 (seed 0, default secret) and SHA-1, written from the public algorithm descriptions
 * (xxHash specification by Yann Collet; FIPS 180-4). Verified against the `xxhash` and `hashlib`
 * Python packages in tests/test_native.py. */
#include <stdlib.h>
#include <string.h>

#include "kl_internal.h"

#define P32_1 0x9E3779B1U
#define P32_2 0x85EBCA77U
#define P32_3 0xC2B2AE3DU
#define P64_1 0x9E3779B185EBCA87ULL
#define P64_2 0xC2B2AE3D27D4EB4FULL
#define P64_3 0x165667B19E3779F9ULL
#define P64_4 0x85EBCA77C2B2AE63ULL
#define P64_5 0x27D4EB2F165667C5ULL
#define PMX_1 0x165667919E3779F9ULL
#define PMX_2 0x9FB21C651E98DF25ULL

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

uint64_t kl_xxh64(const uint8_t *p, size_t len, uint64_t seed) { return kl_xxh64_inline(p, len, seed); }

/* ---------------------------------------------------------------- XXH3-128, seed 0 */
/* the 192-byte default secret of the XXH3 specification */
const uint8_t kl_xxh3_secret[192] = {
    0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
    0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
    0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
    0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
    0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
    0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
    0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
    0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
    0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
    0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
    0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
    0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
};
#define kSecret kl_xxh3_secret
#define SECRET_SIZE 192
#define STRIPE_LEN 64
#define SECRET_CONSUME_RATE 8
#define ACC_NB 8

typedef struct { uint64_t lo, hi; } u128;

static inline u128 mult64to128(uint64_t a, uint64_t b) {
  __uint128_t p = (__uint128_t)a * b;
  u128 r = {(uint64_t)p, (uint64_t)(p >> 64)};
  return r;
}
static inline uint64_t mul128_fold64(uint64_t a, uint64_t b) {
  u128 r = mult64to128(a, b);
  return r.lo ^ r.hi;
}
static inline uint64_t xxh3_avalanche(uint64_t h) {
  h ^= h >> 37;
  h *= PMX_1;
  return h ^ (h >> 32);
}
static inline uint64_t xorshift64(uint64_t v, int s) { return v ^ (v >> s); }
static inline uint32_t swap32(uint32_t x) { return __builtin_bswap32(x); }
static inline uint64_t swap64(uint64_t x) { return __builtin_bswap64(x); }

static u128 xxh3_len_1to3_128(const uint8_t *in, size_t len, const uint8_t *sec) {
  uint8_t c1 = in[0], c2 = in[len >> 1], c3 = in[len - 1];
  uint32_t combinedl = ((uint32_t)c1 << 16) | ((uint32_t)c2 << 24) | ((uint32_t)c3 << 0) | ((uint32_t)len << 8);
  uint32_t combinedh = rotl32(swap32(combinedl), 13);
  uint64_t bitflipl = (uint64_t)(kl_read32(sec) ^ kl_read32(sec + 4));
  uint64_t bitfliph = (uint64_t)(kl_read32(sec + 8) ^ kl_read32(sec + 12));
  u128 r;
  r.lo = kl_xxh64_avalanche((uint64_t)combinedl ^ bitflipl);
  r.hi = kl_xxh64_avalanche((uint64_t)combinedh ^ bitfliph);
  return r;
}

static u128 xxh3_len_4to8_128(const uint8_t *in, size_t len, const uint8_t *sec) {
  uint32_t in_lo = kl_read32(in), in_hi = kl_read32(in + len - 4);
  uint64_t in64 = in_lo + ((uint64_t)in_hi << 32);
  uint64_t bitflip = kl_read64(sec + 16) ^ kl_read64(sec + 24);
  uint64_t keyed = in64 ^ bitflip;
  u128 m = mult64to128(keyed, P64_1 + ((uint64_t)len << 2));
  m.hi += (m.lo << 1);
  m.lo ^= (m.hi >> 3);
  m.lo = xorshift64(m.lo, 35);
  m.lo *= PMX_2;
  m.lo = xorshift64(m.lo, 28);
  m.hi = xxh3_avalanche(m.hi);
  return m;
}

static u128 xxh3_len_9to16_128(const uint8_t *in, size_t len, const uint8_t *sec) {
  uint64_t bitflipl = kl_read64(sec + 32) ^ kl_read64(sec + 40);
  uint64_t bitfliph = kl_read64(sec + 48) ^ kl_read64(sec + 56);
  uint64_t in_lo = kl_read64(in), in_hi = kl_read64(in + len - 8);
  u128 m = mult64to128(in_lo ^ in_hi ^ bitflipl, P64_1);
  m.lo += (uint64_t)(len - 1) << 54;
  in_hi ^= bitfliph;
  m.hi += in_hi + (uint64_t)(uint32_t)in_hi * (P32_2 - 1);
  m.lo ^= swap64(m.hi);
  u128 h = mult64to128(m.lo, P64_2);
  h.hi += m.hi * P64_2;
  h.lo = xxh3_avalanche(h.lo);
  h.hi = xxh3_avalanche(h.hi);
  return h;
}

static inline uint64_t mix16B(const uint8_t *in, const uint8_t *sec) {
  return mul128_fold64(kl_read64(in) ^ kl_read64(sec), kl_read64(in + 8) ^ kl_read64(sec + 8));
}

static inline u128 mix32B(u128 acc, const uint8_t *in1, const uint8_t *in2, const uint8_t *sec) {
  acc.lo += mix16B(in1, sec);
  acc.lo ^= kl_read64(in2) + kl_read64(in2 + 8);
  acc.hi += mix16B(in2, sec + 16);
  acc.hi ^= kl_read64(in1) + kl_read64(in1 + 8);
  return acc;
}

static u128 xxh3_finish_mid(u128 acc, size_t len) {
  u128 h;
  h.lo = acc.lo + acc.hi;
  h.hi = acc.lo * P64_1 + acc.hi * P64_4 + (uint64_t)len * P64_2;
  h.lo = xxh3_avalanche(h.lo);
  h.hi = (uint64_t)0 - xxh3_avalanche(h.hi);
  return h;
}

static u128 xxh3_len_17to128_128(const uint8_t *in, size_t len, const uint8_t *sec) {
  u128 acc = {(uint64_t)len * P64_1, 0};
  if (len > 32) {
    if (len > 64) {
      if (len > 96) acc = mix32B(acc, in + 48, in + len - 64, sec + 96);
      acc = mix32B(acc, in + 32, in + len - 48, sec + 64);
    }
    acc = mix32B(acc, in + 16, in + len - 32, sec + 32);
  }
  acc = mix32B(acc, in, in + len - 16, sec);
  return xxh3_finish_mid(acc, len);
}

static u128 xxh3_len_129to240_128(const uint8_t *in, size_t len, const uint8_t *sec) {
  u128 acc = {(uint64_t)len * P64_1, 0};
  size_t i;
  for (i = 32; i < 160; i += 32) acc = mix32B(acc, in + i - 32, in + i - 16, sec + i - 32);
  acc.lo = xxh3_avalanche(acc.lo);
  acc.hi = xxh3_avalanche(acc.hi);
  for (i = 160; i <= len; i += 32) acc = mix32B(acc, in + i - 32, in + i - 16, sec + 3 + i - 160);
  acc = mix32B(acc, in + len - 16, in + len - 32, sec + 136 - 17 - 16);
  return xxh3_finish_mid(acc, len);
}

static inline void accumulate_512(uint64_t *acc, const uint8_t *in, const uint8_t *sec) {
  for (int i = 0; i < ACC_NB; i++) {
    uint64_t data_val = kl_read64(in + 8 * i);
    uint64_t data_key = data_val ^ kl_read64(sec + 8 * i);
    acc[i ^ 1] += data_val;
    acc[i] += (uint64_t)(uint32_t)data_key * (data_key >> 32);
  }
}
static inline void scramble_acc(uint64_t *acc, const uint8_t *sec) {
  for (int i = 0; i < ACC_NB; i++) {
    uint64_t a = acc[i];
    a ^= a >> 47;
    a ^= kl_read64(sec + 8 * i);
    a *= P32_1;
    acc[i] = a;
  }
}
static uint64_t merge_accs(const uint64_t *acc, const uint8_t *sec, uint64_t start) {
  uint64_t r = start;
  for (int i = 0; i < 4; i++)
    r += mul128_fold64(acc[2 * i] ^ kl_read64(sec + 16 * i), acc[2 * i + 1] ^ kl_read64(sec + 16 * i + 8));
  return xxh3_avalanche(r);
}

static u128 xxh3_long_128(const uint8_t *in, size_t len) {
  uint64_t acc[ACC_NB] = {P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1};
  const size_t stripes_per_block = (SECRET_SIZE - STRIPE_LEN) / SECRET_CONSUME_RATE;
  const size_t block_len = STRIPE_LEN * stripes_per_block;
  const size_t nb_blocks = (len - 1) / block_len;
  for (size_t n = 0; n < nb_blocks; n++) {
    const uint8_t *b = in + n * block_len;
    for (size_t s = 0; s < stripes_per_block; s++)
      accumulate_512(acc, b + s * STRIPE_LEN, kSecret + s * SECRET_CONSUME_RATE);
    scramble_acc(acc, kSecret + SECRET_SIZE - STRIPE_LEN);
  }
  size_t nb_stripes = ((len - 1) - block_len * nb_blocks) / STRIPE_LEN;
  const uint8_t *b = in + nb_blocks * block_len;
  for (size_t s = 0; s < nb_stripes; s++)
    accumulate_512(acc, b + s * STRIPE_LEN, kSecret + s * SECRET_CONSUME_RATE);
  accumulate_512(acc, in + len - STRIPE_LEN, kSecret + SECRET_SIZE - STRIPE_LEN - 7);
  u128 h;
  h.lo = merge_accs(acc, kSecret + 11, (uint64_t)len * P64_1);
  h.hi = merge_accs(acc, kSecret + SECRET_SIZE - 64 - 11, ~((uint64_t)len * P64_2));
  return h;
}

/* XXH3-64, seed 0: the <= 16 byte paths are inline in kl_internal.h (kl_xxh3_64_short) */
static uint64_t xxh3_64_long(const uint8_t *in, size_t len) {
  uint64_t acc[ACC_NB] = {P32_3, P64_1, P64_2, P64_3, P64_4, P32_2, P64_5, P32_1};
  const size_t stripes_per_block = (SECRET_SIZE - STRIPE_LEN) / SECRET_CONSUME_RATE;
  const size_t block_len = STRIPE_LEN * stripes_per_block;
  const size_t nb_blocks = (len - 1) / block_len;
  for (size_t n = 0; n < nb_blocks; n++) {
    const uint8_t *b = in + n * block_len;
    for (size_t s = 0; s < stripes_per_block; s++)
      accumulate_512(acc, b + s * STRIPE_LEN, kSecret + s * SECRET_CONSUME_RATE);
    scramble_acc(acc, kSecret + SECRET_SIZE - STRIPE_LEN);
  }
  size_t nb_stripes = ((len - 1) - block_len * nb_blocks) / STRIPE_LEN;
  const uint8_t *b = in + nb_blocks * block_len;
  for (size_t s = 0; s < nb_stripes; s++)
    accumulate_512(acc, b + s * STRIPE_LEN, kSecret + s * SECRET_CONSUME_RATE);
  accumulate_512(acc, in + len - STRIPE_LEN, kSecret + SECRET_SIZE - STRIPE_LEN - 7);
  return merge_accs(acc, kSecret + 11, (uint64_t)len * P64_1);
}

uint64_t kl_xxh3_64(const uint8_t *in, size_t len) {
  if (len <= 16) return kl_xxh3_64_short(in, len);
  if (len <= 128) {
    uint64_t acc = (uint64_t)len * P64_1;
    if (len > 32) {
      if (len > 64) {
        if (len > 96) {
          acc += mix16B(in + 48, kSecret + 96);
          acc += mix16B(in + len - 64, kSecret + 112);
        }
        acc += mix16B(in + 32, kSecret + 64);
        acc += mix16B(in + len - 48, kSecret + 80);
      }
      acc += mix16B(in + 16, kSecret + 32);
      acc += mix16B(in + len - 32, kSecret + 48);
    }
    acc += mix16B(in, kSecret);
    acc += mix16B(in + len - 16, kSecret + 16);
    return xxh3_avalanche(acc);
  }
  if (len <= 240) {
    uint64_t acc = (uint64_t)len * P64_1;
    size_t rounds = len / 16;
    for (size_t i = 0; i < 8; i++) acc += mix16B(in + 16 * i, kSecret + 16 * i);
    acc = xxh3_avalanche(acc);
    for (size_t i = 8; i < rounds; i++) acc += mix16B(in + 16 * i, kSecret + 16 * (i - 8) + 3);
    acc += mix16B(in + len - 16, kSecret + 136 - 17);
    return xxh3_avalanche(acc);
  }
  return xxh3_64_long(in, len);
}

void kl_xxh3_128(const uint8_t *p, size_t len, uint64_t out[2]) {
  u128 h;
  if (len == 0) {
    h.lo = kl_xxh64_avalanche(kl_read64(kSecret + 64) ^ kl_read64(kSecret + 72));
    h.hi = kl_xxh64_avalanche(kl_read64(kSecret + 80) ^ kl_read64(kSecret + 88));
  } else if (len <= 3) {
    h = xxh3_len_1to3_128(p, len, kSecret);
  } else if (len <= 8) {
    h = xxh3_len_4to8_128(p, len, kSecret);
  } else if (len <= 16) {
    h = xxh3_len_9to16_128(p, len, kSecret);
  } else if (len <= 128) {
    h = xxh3_len_17to128_128(p, len, kSecret);
  } else if (len <= 240) {
    h = xxh3_len_129to240_128(p, len, kSecret);
  } else {
    h = xxh3_long_128(p, len);
  }
  out[0] = h.lo;
  out[1] = h.hi;
}

/* ---------------------------------------------------------------- SHA-1 */
static void sha1_block(uint32_t st[5], const uint8_t *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++) w[i] = kl_read32be(p + 4 * i);
  for (int i = 16; i < 80; i++) w[i] = rotl32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], t;
#define SHA1_STEP(f, k)                           \
  t = rotl32(a, 5) + (f) + e + (k) + w[i];        \
  e = d;                                          \
  d = c;                                          \
  c = rotl32(b, 30);                              \
  b = a;                                          \
  a = t;
  int i;
  for (i = 0; i < 20; i++) { SHA1_STEP((b & c) | (~b & d), 0x5A827999U) }
  for (; i < 40; i++) { SHA1_STEP(b ^ c ^ d, 0x6ED9EBA1U) }
  for (; i < 60; i++) { SHA1_STEP((b & c) | (b & d) | (c & d), 0x8F1BBCDCU) }
  for (; i < 80; i++) { SHA1_STEP(b ^ c ^ d, 0xCA62C1D6U) }
#undef SHA1_STEP
  st[0] += a;
  st[1] += b;
  st[2] += c;
  st[3] += d;
  st[4] += e;
}

#if KL_X86
#include <immintrin.h>
/* SHA-1 with the x86 SHA extensions (same result, used when the CPU has them) */
__attribute__((target("sha,sse4.1"))) static void sha1_blocks_ni(uint32_t st[5], const uint8_t *p,
                                                                  size_t nblocks) {
  const __m128i MASK = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
  __m128i ABCD = _mm_loadu_si128((const __m128i *)st);
  __m128i E0 = _mm_set_epi32((int)st[4], 0, 0, 0);
  ABCD = _mm_shuffle_epi32(ABCD, 0x1B);
  __m128i E1, MSG0, MSG1, MSG2, MSG3, ABCD_SAVE, E0_SAVE;
  while (nblocks--) {
    ABCD_SAVE = ABCD;
    E0_SAVE = E0;
    MSG0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), MASK);
    MSG1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), MASK);
    MSG2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), MASK);
    MSG3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), MASK);
    /* rounds 0-3 */
    E0 = _mm_add_epi32(E0, MSG0);
    E1 = ABCD;
    ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 0);
    /* rounds 4-7 */
    E1 = _mm_sha1nexte_epu32(E1, MSG1);
    E0 = ABCD;
    ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 0);
    MSG0 = _mm_sha1msg1_epu32(MSG0, MSG1);
    /* rounds 8-11 */
    E0 = _mm_sha1nexte_epu32(E0, MSG2);
    E1 = ABCD;
    ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 0);
    MSG1 = _mm_sha1msg1_epu32(MSG1, MSG2);
    MSG0 = _mm_xor_si128(MSG0, MSG2);
#define KL_SHA_R(EA, EB, M0, M1, M2, M3, F)        \
  EA = _mm_sha1nexte_epu32(EA, M3);                \
  EB = ABCD;                                       \
  M0 = _mm_sha1msg2_epu32(M0, M3);                 \
  ABCD = _mm_sha1rnds4_epu32(ABCD, EA, F);         \
  M2 = _mm_sha1msg1_epu32(M2, M3);                 \
  M1 = _mm_xor_si128(M1, M3);
    /* rounds 12-15 */
    KL_SHA_R(E1, E0, MSG0, MSG1, MSG2, MSG3, 0)
    /* 16-19 */
    KL_SHA_R(E0, E1, MSG1, MSG2, MSG3, MSG0, 0)
    /* 20-23 */
    KL_SHA_R(E1, E0, MSG2, MSG3, MSG0, MSG1, 1)
    /* 24-27 */
    KL_SHA_R(E0, E1, MSG3, MSG0, MSG1, MSG2, 1)
    /* 28-31 */
    KL_SHA_R(E1, E0, MSG0, MSG1, MSG2, MSG3, 1)
    /* 32-35 */
    KL_SHA_R(E0, E1, MSG1, MSG2, MSG3, MSG0, 1)
    /* 36-39 */
    KL_SHA_R(E1, E0, MSG2, MSG3, MSG0, MSG1, 1)
    /* 40-43 */
    KL_SHA_R(E0, E1, MSG3, MSG0, MSG1, MSG2, 2)
    /* 44-47 */
    KL_SHA_R(E1, E0, MSG0, MSG1, MSG2, MSG3, 2)
    /* 48-51 */
    KL_SHA_R(E0, E1, MSG1, MSG2, MSG3, MSG0, 2)
    /* 52-55 */
    KL_SHA_R(E1, E0, MSG2, MSG3, MSG0, MSG1, 2)
    /* 56-59 */
    KL_SHA_R(E0, E1, MSG3, MSG0, MSG1, MSG2, 2)
    /* 60-63 */
    KL_SHA_R(E1, E0, MSG0, MSG1, MSG2, MSG3, 3)
    /* 64-67 */
    KL_SHA_R(E0, E1, MSG1, MSG2, MSG3, MSG0, 3)
#undef KL_SHA_R
    /* 68-71 */
    E1 = _mm_sha1nexte_epu32(E1, MSG1);
    E0 = ABCD;
    MSG2 = _mm_sha1msg2_epu32(MSG2, MSG1);
    ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 3);
    MSG3 = _mm_xor_si128(MSG3, MSG1);
    /* 72-75 */
    E0 = _mm_sha1nexte_epu32(E0, MSG2);
    E1 = ABCD;
    MSG3 = _mm_sha1msg2_epu32(MSG3, MSG2);
    ABCD = _mm_sha1rnds4_epu32(ABCD, E0, 3);
    /* 76-79 */
    E1 = _mm_sha1nexte_epu32(E1, MSG3);
    E0 = ABCD;
    ABCD = _mm_sha1rnds4_epu32(ABCD, E1, 3);
    E0 = _mm_sha1nexte_epu32(E0, E0_SAVE);
    ABCD = _mm_add_epi32(ABCD, ABCD_SAVE);
    p += 64;
  }
  ABCD = _mm_shuffle_epi32(ABCD, 0x1B);
  _mm_storeu_si128((__m128i *)st, ABCD);
  st[4] = (uint32_t)_mm_extract_epi32(E0, 3);
}
#endif

static int sha_ni_state = -1;
static int have_sha_ni(void) {
#if KL_X86
  if (sha_ni_state < 0) {
    __builtin_cpu_init();
    unsigned a, b, c, d;
    int ok = 0;
    if (__builtin_cpu_supports("sse4.1")) {
      __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
      ok = (b >> 29) & 1; /* CPUID.(EAX=7,ECX=0):EBX.SHA[bit 29] */
    }
    sha_ni_state = ok && getenv("KLLAMA_NO_SHA_NI") == NULL;
  }
  return sha_ni_state;
#else
  return 0;
#endif
}

static inline void sha1_blocks(uint32_t st[5], const uint8_t *p, size_t nblocks, int ni) {
#if KL_X86
  if (ni) {
    sha1_blocks_ni(st, p, nblocks);
    return;
  }
#endif
  (void)ni;
  for (size_t i = 0; i < nblocks; i++) sha1_block(st, p + 64 * i);
}

/* returns the state after hashing p[0..len) with padding */
static void sha1_state(const uint8_t *p, size_t len, uint32_t st[5], int ni) {
  st[0] = 0x67452301U;
  st[1] = 0xEFCDAB89U;
  st[2] = 0x98BADCFEU;
  st[3] = 0x10325476U;
  st[4] = 0xC3D2E1F0U;
  size_t full = len / 64;
  if (full) sha1_blocks(st, p, full, ni);
  uint8_t tail[128];
  size_t rem = len - full * 64;
  memcpy(tail, p + full * 64, rem);
  tail[rem] = 0x80;
  size_t tl = (rem + 9 <= 64) ? 64 : 128;
  memset(tail + rem + 1, 0, tl - rem - 1);
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) tail[tl - 1 - i] = (uint8_t)(bits >> (8 * i));
  sha1_blocks(st, tail, tl / 64, ni);
}

void kl_sha1(const uint8_t *p, size_t len, uint8_t digest[20]) {
  uint32_t st[5];
  sha1_state(p, len, st, have_sha_ni());
  for (int i = 0; i < 5; i++) {
    digest[4 * i] = (uint8_t)(st[i] >> 24);
    digest[4 * i + 1] = (uint8_t)(st[i] >> 16);
    digest[4 * i + 2] = (uint8_t)(st[i] >> 8);
    digest[4 * i + 3] = (uint8_t)st[i];
  }
}

/* first 8 digest bytes read little-endian (cc_net's np.frombuffer(digest[:8], uint64)) */
uint64_t kl_sha1_first8_le(const uint8_t *p, size_t len) {
  uint32_t st[5];
  sha1_state(p, len, st, have_sha_ni());
  return (uint64_t)__builtin_bswap32(st[0]) | ((uint64_t)__builtin_bswap32(st[1]) << 32);
}

/* ---------------------------------------------------------------- batches */
int kl_hash64_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t seed,
                    uint64_t *out) {
  for (int64_t i = 0; i < n; i++) {
    int64_t a = kl_off(offsets, off64, i), b = kl_off(offsets, off64, i + 1);
    if (b < a) return KL_EARG;
    out[i] = kl_xxh64(data + a, (size_t)(b - a), seed);
  }
  return 0;
}

int kl_hash128_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t *out) {
  for (int64_t i = 0; i < n; i++) {
    int64_t a = kl_off(offsets, off64, i), b = kl_off(offsets, off64, i + 1);
    if (b < a) return KL_EARG;
    kl_xxh3_128(data + a, (size_t)(b - a), out + 2 * i);
  }
  return 0;
}
