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
