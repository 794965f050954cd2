/* Text routines of the kllama C core: UTF-8 validation, words / shingles / MinHash, digit splitting,
 * cc_net line normalisation + hashing. Unicode behaviour comes from unicode_tables.h, generated from
 * CPython by csrc/gen_unicode_tables.py. */
#include <stdlib.h>
#include <string.h>

#include "kl_internal.h"
#include "unicode_tables.h"

const char *kl_unicode_version(void) { return KL_UNICODE_VERSION; }

/* ---------------------------------------------------------------- UTF-8 validation */
static int64_t validate_utf8(const uint8_t *s, int64_t len) {
  int64_t i = 0;
  while (i < len) {
    if (i + 8 <= len && (kl_read64(s + i) & 0x8080808080808080ULL) == 0) {
      i += 8;
      continue;
    }
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    int n;
    if (kl_utf8_decode(s + i, len - i, &n) < 0) return i;
    i += n;
  }
  return -1;
}

int kl_validate_utf8_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int64_t *err) {
  for (int64_t i = 0; i < n; i++) {
    int64_t a = kl_off(offsets, off64, i), b = kl_off(offsets, off64, i + 1);
    if (b < a) return KL_EARG;
    int64_t bad = validate_utf8(data + a, b - a);
    if (bad >= 0) {
      err[0] = i;
      err[1] = bad;
      return KL_EINVAL_UTF8;
    }
  }
  return 0;
}

/* ---------------------------------------------------------------- Final_Sigma (CPython's lower()) */
/* Is the U+03A3 at s[pos..pos+2) final within the string s[lo..hi)?  In word mode the string ends at
 * the first non-word character after pos. \p{cased}\p{case-ignorable}* SIGMA !(\p{case-ignorable}*\p{cased}) */
static int sigma_is_final(const uint8_t *s, int64_t lo, int64_t hi, int64_t pos, int word_mode) {
  int64_t p = pos;
  int n, found = 0;
  while (p > lo) {
    int64_t q = kl_utf8_prev(s, lo, p);
    int32_t cp = kl_utf8_decode(s + q, hi - q, &n);
    if (cp < 0) return 0;
    const kl_urec *r = kl_ulookup((uint32_t)cp);
    if (r->flags & KL_F_IGN) {
      p = q;
      continue;
    }
    found = (r->flags & KL_F_CASED) != 0;
    break;
  }
  if (!found) return 0;
  p = pos + 2;
  while (p < hi) {
    int32_t cp = kl_utf8_decode(s + p, hi - p, &n);
    if (cp < 0) return 1;
    const kl_urec *r = kl_ulookup((uint32_t)cp);
    if (word_mode && !(r->flags & KL_F_WORD)) return 1;
    if (r->flags & KL_F_IGN) {
      p += n;
      continue;
    }
    return (r->flags & KL_F_CASED) == 0;
  }
  return 1;
}

static inline int emit_lower(uint32_t cp, const kl_urec *r, const uint8_t *s, int64_t lo, int64_t hi, int64_t pos,
                             int word_mode, uint8_t *o) {
  if (r->flags & KL_F_SIGMA) return kl_utf8_encode(sigma_is_final(s, lo, hi, pos, word_mode) ? 0x3C2 : 0x3C3, o);
  if (r->flags & KL_F_MULTI) {
    for (int k = 0; k < KL_N_MULTI; k++)
      if (kl_umulti[k].cp == cp) {
        memcpy(o, kl_umulti[k].utf8, kl_umulti[k].len);
        return kl_umulti[k].len;
      }
  }
  return kl_utf8_encode((uint32_t)((int32_t)cp + r->delta), o);
}

/* ---------------------------------------------------------------- scratch buffers */
typedef struct {
  uint8_t *buf; /* lowered bytes of the current word */
  int64_t bufcap;
  uint64_t *wh; /* word hashes */
  int64_t wcap;
  uint64_t *hs; /* shingle hashes */
  int64_t hcap;
} kl_scratch;

static int grow(void **p, int64_t *cap, int64_t need, size_t elem) {
  if (need <= *cap) return 0;
  int64_t nc = need + need / 2 + 64;
  void *q = realloc(*p, (size_t)nc * elem);
  if (!q) return KL_ENOMEM;
  *p = q;
  *cap = nc;
  return 0;
}
static void scratch_free(kl_scratch *sc) {
  free(sc->buf);
  free(sc->wh);
  free(sc->hs);
}

/* ---------------------------------------------------------------- words and shingles */
/* byte class for word scanning: 0 = ASCII non-word byte, 0xFF = non-ASCII (decode), else the lowered
 * ASCII letter / digit */
static uint8_t word_class[256];
__attribute__((constructor)) static void word_class_init(void) {
  for (int b = 0; b < 256; b++) {
    uint8_t v = 0;
    if (b >= 0x80)
      v = 0xFF;
    else if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'))
      v = (uint8_t)b;
    else if (b >= 'A' && b <= 'Z')
      v = (uint8_t)(b + 32);
    word_class[b] = v;
  }
}

/* XXH64 (seed 0) of every lowercased word of s[0..len) into sc->wh. Returns the number of words, or
 * KL_EINVAL_UTF8 (*bad = byte offset) / KL_ENOMEM. */
static int64_t word_hashes(const uint8_t *s, int64_t len, kl_scratch *sc, int64_t *bad) {
  if (grow((void **)&sc->buf, &sc->bufcap, 2 * len + 16, 1) || grow((void **)&sc->wh, &sc->wcap, len / 2 + 2, 8))
    return KL_ENOMEM;
  uint8_t *o = sc->buf;
  uint64_t *wh = sc->wh;
  int64_t nw = 0, i = 0;
  while (i < len) {
    if (word_class[s[i]] == 0) {
      i++;
      continue;
    }
    int64_t wstart = i, op = 0;
    while (i < len) {
      uint8_t c = word_class[s[i]];
      if (c == 0) break;
      if (c != 0xFF) {
        o[op++] = c;
        i++;
        continue;
      }
      int n;
      int32_t cp = kl_utf8_decode(s + i, len - i, &n);
      if (cp < 0) {
        *bad = i;
        return KL_EINVAL_UTF8;
      }
      const kl_urec *r = kl_ulookup((uint32_t)cp);
      if (!(r->flags & KL_F_WORD)) {
        if (op == 0) i += n;
        break;
      }
      op += emit_lower((uint32_t)cp, r, s, wstart, len, i, 1, o + op);
      i += n;
    }
    if (op) wh[nw++] = kl_xxh64_inline(o, (size_t)op, 0);
  }
  return nw;
}

#define SHINGLE_P 0x9E3779B185EBCA87ULL
static inline uint64_t avalanche64(uint64_t h) {
  h ^= h >> 33;
  h *= 0xC2B2AE3D27D4EB4FULL;
  h ^= h >> 29;
  h *= 0x165667B19E3779F9ULL;
  h ^= h >> 32;
  return h;
}

/* shingle j over word hashes w[j..j+m): avalanche64(sum_k w[j+k] * P^(m-1-k) mod 2^64), m = min(ngram, nw);
 * computed with a rolling update. Returns the number of shingles. */
static int64_t shingles_from_words(const uint64_t *w, int64_t nw, int ngram, uint64_t *out) {
  if (nw == 0) return 0;
  int64_t m = nw < ngram ? nw : ngram;
  int64_t ns = nw - m + 1;
  uint64_t S = 0, pm1 = 1;
  for (int64_t k = 0; k < m; k++) S = S * SHINGLE_P + w[k];
  for (int64_t k = 1; k < m; k++) pm1 *= SHINGLE_P;
  out[0] = avalanche64(S);
  for (int64_t j = 1; j < ns; j++) {
    S = (S - w[j - 1] * pm1) * SHINGLE_P + w[j + m - 1];
    out[j] = avalanche64(S);
  }
  return ns;
}

int64_t kl_shingle_hashes(const uint8_t *text, int64_t len, int ngram, uint64_t *out, int64_t cap, int64_t *err) {
  if (ngram < 1 || len < 0) return KL_EARG;
  kl_scratch sc = {0};
  int64_t bad = 0;
  int64_t nw = word_hashes(text, len, &sc, &bad);
  int64_t r;
  if (nw < 0) {
    err[0] = 0;
    err[1] = bad;
    r = nw;
  } else if ((nw >= ngram ? nw - ngram + 1 : (nw > 0)) > cap) {
    r = KL_EARG;
  } else {
    r = shingles_from_words(sc.wh, nw, ngram, out);
  }
  scratch_free(&sc);
  return r;
}

/* ---------------------------------------------------------------- MinHash */
static inline uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void kl_minhash_coefficients(int num_perm, uint64_t seed, uint32_t *a, uint32_t *b, uint32_t *c) {
  uint64_t st = seed;
  for (int i = 0; i < num_perm; i++) {
    a[i] = (uint32_t)(splitmix64(&st) >> 32) | 1u;
    b[i] = (uint32_t)(splitmix64(&st) >> 32) | 1u;
    c[i] = (uint32_t)(splitmix64(&st) >> 32);
  }
}

#define MH_BLOCK 32 /* permutations per pass over the shingles (padding unit) */

/* sig[i] = min over shingles h of (A[i]*lo32(h) + B[i]*hi32(h) + C[i]) mod 2^32, for i < npad */
static void mh_kernel_scalar(const uint64_t *hs, int64_t nh, const uint32_t *A, const uint32_t *B, const uint32_t *C,
                             int npad, uint32_t *sig) {
  for (int p = 0; p < npad; p += MH_BLOCK) {
    uint32_t m[MH_BLOCK];
    for (int k = 0; k < MH_BLOCK; k++) m[k] = 0xFFFFFFFFu;
    for (int64_t s = 0; s < nh; s++) {
      uint32_t x = (uint32_t)hs[s], y = (uint32_t)(hs[s] >> 32);
      for (int k = 0; k < MH_BLOCK; k++) {
        uint32_t v = A[p + k] * x + B[p + k] * y + C[p + k];
        m[k] = v < m[k] ? v : m[k];
      }
    }
    memcpy(sig + p, m, sizeof m);
  }
}

#if KL_X86
#include <immintrin.h>
__attribute__((target("avx2"))) static void mh_kernel_avx2(const uint64_t *hs, int64_t nh, const uint32_t *A,
                                                           const uint32_t *B, const uint32_t *C, int npad,
                                                           uint32_t *sig) {
  for (int p = 0; p < npad; p += MH_BLOCK) {
    const __m256i a0 = _mm256_loadu_si256((const __m256i *)(A + p)), a1 = _mm256_loadu_si256((const __m256i *)(A + p + 8));
    const __m256i a2 = _mm256_loadu_si256((const __m256i *)(A + p + 16)), a3 = _mm256_loadu_si256((const __m256i *)(A + p + 24));
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(B + p)), b1 = _mm256_loadu_si256((const __m256i *)(B + p + 8));
    const __m256i b2 = _mm256_loadu_si256((const __m256i *)(B + p + 16)), b3 = _mm256_loadu_si256((const __m256i *)(B + p + 24));
    const __m256i c0 = _mm256_loadu_si256((const __m256i *)(C + p)), c1 = _mm256_loadu_si256((const __m256i *)(C + p + 8));
    const __m256i c2 = _mm256_loadu_si256((const __m256i *)(C + p + 16)), c3 = _mm256_loadu_si256((const __m256i *)(C + p + 24));
    __m256i m0 = _mm256_set1_epi32(-1), m1 = m0, m2 = m0, m3 = m0;
    for (int64_t s = 0; s < nh; s++) {
      const __m256i x = _mm256_set1_epi32((int)(uint32_t)hs[s]);
      const __m256i y = _mm256_set1_epi32((int)(uint32_t)(hs[s] >> 32));
      m0 = _mm256_min_epu32(m0, _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a0, x), _mm256_mullo_epi32(b0, y)), c0));
      m1 = _mm256_min_epu32(m1, _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a1, x), _mm256_mullo_epi32(b1, y)), c1));
      m2 = _mm256_min_epu32(m2, _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a2, x), _mm256_mullo_epi32(b2, y)), c2));
      m3 = _mm256_min_epu32(m3, _mm256_add_epi32(_mm256_add_epi32(_mm256_mullo_epi32(a3, x), _mm256_mullo_epi32(b3, y)), c3));
    }
    _mm256_storeu_si256((__m256i *)(sig + p), m0);
    _mm256_storeu_si256((__m256i *)(sig + p + 8), m1);
    _mm256_storeu_si256((__m256i *)(sig + p + 16), m2);
    _mm256_storeu_si256((__m256i *)(sig + p + 24), m3);
  }
}
#endif

static int avx2_state = -1;
int kl_has_avx2(void) {
#if KL_X86
  if (avx2_state < 0) {
    __builtin_cpu_init();
    avx2_state = __builtin_cpu_supports("avx2") && getenv("KLLAMA_NO_AVX2") == NULL;
  }
  return avx2_state;
#else
  return 0;
#endif
}

int kl_minhash_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int ngram, int num_perm,
                     uint64_t seed, uint32_t *out, int64_t *err) {
  if (ngram < 1 || num_perm < 1) return KL_EARG;
  int npad = (num_perm + MH_BLOCK - 1) / MH_BLOCK * MH_BLOCK;
  uint32_t *coef = calloc((size_t)npad * 4, sizeof(uint32_t));
  if (!coef) return KL_ENOMEM;
  uint32_t *A = coef, *B = coef + npad, *C = coef + 2 * npad, *sig = coef + 3 * npad;
  kl_minhash_coefficients(num_perm, seed, A, B, C);
  int avx2 = kl_has_avx2();
  kl_scratch sc = {0};
  int rc = 0;
  for (int64_t i = 0; i < n && rc == 0; i++) {
    int64_t a = kl_off(offsets, off64, i), b = kl_off(offsets, off64, i + 1);
    if (b < a) {
      rc = KL_EARG;
      break;
    }
    int64_t bad = 0;
    int64_t nw = word_hashes(data + a, b - a, &sc, &bad);
    if (nw < 0) {
      rc = (int)nw;
      err[0] = i;
      err[1] = bad;
      break;
    }
    if (grow((void **)&sc.hs, &sc.hcap, nw + 1, 8)) {
      rc = KL_ENOMEM;
      break;
    }
    int64_t nh = shingles_from_words(sc.wh, nw, ngram, sc.hs);
#if KL_X86
    if (avx2)
      mh_kernel_avx2(sc.hs, nh, A, B, C, npad, sig);
    else
#endif
      mh_kernel_scalar(sc.hs, nh, A, B, C, npad, sig);
    (void)avx2;
    memcpy(out + i * (int64_t)num_perm, sig, (size_t)num_perm * sizeof(uint32_t));
  }
  scratch_free(&sc);
  free(coef);
  return rc;
}

/* ---------------------------------------------------------------- digit splitting */
/* piece boundaries: every digit (Unicode Nd) is its own piece, maximal non-digit runs are one piece;
 * boundaries are counted in code points (Python str indices). */
static inline int is_ascii_digit(uint8_t b) { return (uint8_t)(b - '0') < 10u; }

/* 8 ASCII bytes with no digit? (x has no byte >= 0x80) */
static inline int swar_no_digit(uint64_t x) {
  const uint64_t ge30 = x + 0x5050505050505050ULL; /* high bit set where byte >= 0x30 */
  const uint64_t ge3a = x + 0x4646464646464646ULL; /* high bit set where byte >= 0x3A */
  return ((ge30 & ~ge3a) & 0x8080808080808080ULL) == 0;
}

#define DIGIT_SCAN(ON_DIGIT, ON_OTHER_START)                                              \
  int64_t i = 0, cpos = 0;                                                                \
  int in_run = 0;                                                                         \
  while (i < len) {                                                                       \
    if (in_run && i + 8 <= len) {                                                         \
      uint64_t x = kl_read64(s + i);                                                      \
      if ((x & 0x8080808080808080ULL) == 0 && swar_no_digit(x)) {                         \
        i += 8;                                                                           \
        cpos += 8;                                                                        \
        continue;                                                                         \
      }                                                                                   \
    }                                                                                     \
    uint8_t b = s[i];                                                                     \
    int isd, n = 1;                                                                       \
    if (b < 0x80) {                                                                       \
      isd = is_ascii_digit(b);                                                            \
    } else {                                                                              \
      int32_t cp = kl_utf8_decode(s + i, len - i, &n);                                    \
      if (cp < 0) {                                                                       \
        *bad = i;                                                                         \
        return KL_EINVAL_UTF8;                                                            \
      }                                                                                   \
      isd = (kl_ulookup((uint32_t)cp)->flags & KL_F_DIGIT) != 0;                          \
    }                                                                                     \
    if (isd) {                                                                            \
      ON_DIGIT;                                                                           \
      in_run = 0;                                                                         \
    } else if (!in_run) {                                                                 \
      ON_OTHER_START;                                                                     \
      in_run = 1;                                                                         \
    }                                                                                     \
    i += n;                                                                               \
    cpos++;                                                                               \
  }

static int64_t digit_count_one(const uint8_t *s, int64_t len, int64_t *bad) {
  int64_t pieces = 0;
  DIGIT_SCAN(pieces++, pieces++)
  (void)cpos;
  return pieces;
}

static int64_t digit_fill_one(const uint8_t *s, int64_t len, int64_t *ends, int64_t *bad) {
  int64_t k = 0;
  DIGIT_SCAN(
      {
        if (in_run) ends[k++] = cpos;
        ends[k++] = cpos + 1;
      },
      (void)0)
  if (in_run) ends[k++] = cpos;
  return k;
}

int kl_digit_split_count(const uint8_t *data, const void *offsets, int off64, int64_t n, int64_t *piece_offsets,
                         int64_t *err) {
  piece_offsets[0] = 0;
  for (int64_t t = 0; t < n; t++) {
    int64_t a = kl_off(offsets, off64, t), b = kl_off(offsets, off64, t + 1);
    if (b < a) return KL_EARG;
    int64_t bad = 0;
    int64_t c = digit_count_one(data + a, b - a, &bad);
    if (c < 0) {
      err[0] = t;
      err[1] = bad;
      return (int)c;
    }
    piece_offsets[t + 1] = piece_offsets[t] + c;
  }
  return 0;
}

int kl_digit_split_fill(const uint8_t *data, const void *offsets, int off64, int64_t n, const int64_t *piece_offsets,
                        int64_t *ends) {
  for (int64_t t = 0; t < n; t++) {
    int64_t a = kl_off(offsets, off64, t), b = kl_off(offsets, off64, t + 1);
    int64_t bad = 0;
    int64_t k = digit_fill_one(data + a, b - a, ends + piece_offsets[t], &bad);
    if (k != piece_offsets[t + 1] - piece_offsets[t]) return KL_EARG;
  }
  return 0;
}

/* ---------------------------------------------------------------- cc_net line normalisation + hash */
static inline int ascii_space(uint8_t b) { return (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20); }

/* cc_net normalize_for_dedup of ASCII: -1 = removed (control), digits -> '0', upper -> lower */
static int16_t ccnet_ascii[128];
static int ccnet_ascii_ready = 0;
static void ccnet_ascii_init(void) {
  for (int b = 0; b < 128; b++) {
    int16_t v = (int16_t)b;
    if (b < 0x20 || b == 0x7F)
      v = -1;
    else if (b >= '0' && b <= '9')
      v = '0';
    else if (b >= 'A' && b <= 'Z')
      v = (int16_t)(b + 32);
    ccnet_ascii[b] = v;
  }
  ccnet_ascii_ready = 1;
}

/* normalize_for_dedup(line) into o (capacity >= 2*len + 8); returns the output length */
static int64_t ccnet_normalize_line(const uint8_t *s, int64_t len, uint8_t *o) {
  int64_t ls = 0, le = len;
  int n;
  while (ls < le) {
    uint8_t b = s[ls];
    if (b < 0x80) {
      if (!ascii_space(b)) break;
      ls++;
    } else {
      int32_t cp = kl_utf8_decode(s + ls, le - ls, &n);
      if (cp < 0 || !(kl_ulookup((uint32_t)cp)->flags & KL_F_SPACE)) break;
      ls += n;
    }
  }
  while (le > ls) {
    uint8_t b = s[le - 1];
    if (b < 0x80) {
      if (!ascii_space(b)) break;
      le--;
    } else {
      int64_t q = kl_utf8_prev(s, ls, le);
      int32_t cp = kl_utf8_decode(s + q, le - q, &n);
      if (cp < 0 || !(kl_ulookup((uint32_t)cp)->flags & KL_F_SPACE)) break;
      le = q;
    }
  }
  int64_t op = 0, i = ls;
  while (i < le) {
    uint8_t b = s[i];
    if (b < 0x80) {
      int16_t v = ccnet_ascii[b];
      o[op] = (uint8_t)v;
      op += (v >= 0);
      i++;
      continue;
    }
    int32_t cp = kl_utf8_decode(s + i, le - i, &n);
    if (cp < 0) { /* cannot happen after validation; skip the byte */
      i++;
      continue;
    }
    const kl_urec *r = kl_ulookup((uint32_t)cp);
    if (r->flags & KL_F_REMOVE) {
    } else if (r->flags & KL_F_DIGIT) {
      o[op++] = '0';
    } else {
      op += emit_lower((uint32_t)cp, r, s, ls, le, i, 0, o + op);
    }
    i += n;
  }
  return op;
}

int64_t kl_ccnet_normalize(const uint8_t *line, int64_t len, uint8_t *out, int64_t cap, int64_t *err) {
  if (!ccnet_ascii_ready) ccnet_ascii_init();
  if (cap < 2 * len + 8) return KL_EARG;
  int64_t bad = validate_utf8(line, len);
  if (bad >= 0) {
    err[0] = 0;
    err[1] = bad;
    return KL_EINVAL_UTF8;
  }
  return ccnet_normalize_line(line, len, out);
}

int64_t kl_count_lines_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int64_t *line_offsets) {
  line_offsets[0] = 0;
  for (int64_t t = 0; t < n; t++) {
    int64_t a = kl_off(offsets, off64, t), b = kl_off(offsets, off64, t + 1);
    if (b < a) return KL_EARG;
    int64_t c = 1;
    const uint8_t *p = data + a, *e = data + b;
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
      c++;
      p++;
    }
    line_offsets[t + 1] = line_offsets[t] + c;
  }
  return line_offsets[n];
}

int kl_ccnet_line_hashes_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t *out,
                               int64_t *err) {
  if (!ccnet_ascii_ready) ccnet_ascii_init();
  int rc = kl_validate_utf8_batch(data, offsets, off64, n, err);
  if (rc) return rc;
  uint8_t *buf = NULL;
  int64_t cap = 0, k = 0;
  for (int64_t t = 0; t < n; t++) {
    int64_t a = kl_off(offsets, off64, t), b = kl_off(offsets, off64, t + 1);
    const uint8_t *p = data + a, *e = data + b;
    for (;;) {
      const uint8_t *nl = memchr(p, '\n', (size_t)(e - p));
      const uint8_t *le = nl ? nl : e;
      int64_t len = le - p;
      if (grow((void **)&buf, &cap, 2 * len + 8, 1)) {
        free(buf);
        return KL_ENOMEM;
      }
      int64_t m = ccnet_normalize_line(p, len, buf);
      out[k++] = kl_sha1_first8_le(buf, (size_t)m);
      if (!nl) break;
      p = nl + 1;
    }
  }
  free(buf);
  return 0;
}
