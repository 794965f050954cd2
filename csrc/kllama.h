/* kllama C core: batch text hashing, shingling, MinHash, digit splitting, cc_net line hashing.
 *
 * A batch is one UTF-8 buffer `data` plus n+1 offsets (int32 when off64 == 0, int64 otherwise, exactly
 * like an Arrow (Large)StringArray): text i is data[offsets[i] .. offsets[i+1]).
 * Functions returning int: 0 = ok, KL_EINVAL_UTF8 = invalid UTF-8 (err[0] = text index, err[1] = byte
 * offset inside that text), KL_ENOMEM = out of memory, KL_EARG = bad argument.
 */
#ifndef KLLAMA_H
#define KLLAMA_H
#include <stddef.h>
#include <stdint.h>

#define KL_EINVAL_UTF8 (-1)
#define KL_ENOMEM (-2)
#define KL_EARG (-3)

/* hashing of raw bytes (no decoding) */
uint64_t kl_xxh64(const uint8_t *p, size_t len, uint64_t seed);
uint64_t kl_xxh3_64(const uint8_t *p, size_t len);
void kl_xxh3_128(const uint8_t *p, size_t len, uint64_t out[2]); /* out[0] = low64, out[1] = high64 */
void kl_sha1(const uint8_t *p, size_t len, uint8_t digest[20]);
int kl_hash64_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t seed,
                    uint64_t *out);
int kl_hash128_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, uint64_t *out);

/* text functions (decode UTF-8 strictly) */
int kl_validate_utf8_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int64_t *err);
int64_t kl_shingle_hashes(const uint8_t *text, int64_t len, int ngram, uint64_t *out, int64_t cap,
                          int64_t *err);
int kl_minhash_batch(const uint8_t *data, const void *offsets, int off64, int64_t n, int ngram,
                     int num_perm, uint64_t seed, uint32_t *out, int64_t *err);
void kl_minhash_coefficients(int num_perm, uint64_t seed, uint32_t *a, uint32_t *b, uint32_t *c);
int kl_digit_split_count(const uint8_t *data, const void *offsets, int off64, int64_t n, int ascii_only,
                         int64_t *piece_offsets, int64_t *err);
int kl_digit_split_fill(const uint8_t *data, const void *offsets, int off64, int64_t n, int ascii_only,
                        const int64_t *piece_offsets, int64_t *ends);
int64_t kl_count_lines_batch(const uint8_t *data, const void *offsets, int off64, int64_t n,
                             int64_t *line_offsets);
int kl_ccnet_line_hashes_batch(const uint8_t *data, const void *offsets, int off64, int64_t n,
                               uint64_t *out, int64_t *err);
int64_t kl_ccnet_normalize(const uint8_t *line, int64_t len, uint8_t *out, int64_t cap, int64_t *err);
const char *kl_unicode_version(void);
int kl_simd_level(void); /* MinHash kernel: 0 scalar, 1 AVX2, 2 AVX-512F */
#endif
