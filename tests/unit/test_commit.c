/* Commit records (commit.c): a saved record loads back field for field; a
 * damaged, truncated or foreign one is refused, never half-read. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "opusarc/commit.h"

static oa_commit sample(uint64_t entries) {
  oa_commit c;
  assert_int_equal(oa_commit_init(&c, entries), 0);
  c.corpus_hash = 0x0123456789abcdefull;
  snprintf(c.options, sizeof c.options, "checkpoint-every=2 checkpoints=auto");
  for (int i = 0; i < OA_COMMIT_DATASETS; i++) c.extent[i] = 1000u * (uint64_t)(i + 1) + 7;
  c.rounds = 42;
  c.rows_check = 0xdeadbeef;
  for (uint64_t i = 0; i < entries; i += 3) oa_commit_set_done(&c, i);
  return c;
}

static void test_round_trip(void **state) {
  (void)state;
  char path[] = "/tmp/opusarc-commit-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  oa_commit c = sample(21), d;
  oa_err err;
  assert_int_equal(oa_commit_save(path, &c, &err), OA_OK);
  assert_int_equal(oa_commit_load(path, &d, &err), OA_OK);
  assert_int_equal(d.entries, 21);
  assert_true(d.corpus_hash == c.corpus_hash);
  assert_string_equal(d.options, c.options);
  assert_memory_equal(d.extent, c.extent, sizeof c.extent);
  assert_int_equal(d.rounds, 42);
  assert_int_equal(d.rows_check, 0xdeadbeef);
  assert_int_equal(oa_commit_done_count(&d), 7); /* 0, 3, ..., 18 */
  for (uint64_t i = 0; i < 21; i++) assert_int_equal(oa_commit_is_done(&d, i), i % 3 == 0);
  oa_commit_free(&d);
  oa_commit_free(&c);
  unlink(path);
  assert_int_equal(oa_commit_load(path, &d, &err), OA_ENOTFOUND);
}

static void test_damage_refused(void **state) {
  (void)state;
  oa_commit c = sample(100), d;
  uint8_t *buf;
  uint64_t len;
  oa_err err;
  assert_int_equal(oa_commit_encode(&c, &buf, &len), 0);
  /* Every single flipped bit is caught (CRC-32 detects all 1-bit errors). */
  for (uint64_t i = 0; i < len * 8; i++) {
    buf[i / 8] ^= (uint8_t)(1u << (i % 8));
    assert_int_not_equal(oa_commit_decode(buf, len, &d, &err), OA_OK);
    buf[i / 8] ^= (uint8_t)(1u << (i % 8));
  }
  /* Every truncation is refused. */
  for (uint64_t n = 0; n < len; n++) assert_int_not_equal(oa_commit_decode(buf, n, &d, &err), OA_OK);
  assert_int_equal(oa_commit_decode(buf, len, &d, &err), OA_OK);
  oa_commit_free(&d);
  free(buf);
  oa_commit_free(&c);
}

static void test_row_check_depends_on_row_and_bytes(void **state) {
  (void)state;
  const uint8_t a[4] = {1, 2, 3, 4}, b[4] = {1, 2, 3, 5};
  assert_int_not_equal(oa_commit_row_check(0, a, 4), oa_commit_row_check(1, a, 4));
  assert_int_not_equal(oa_commit_row_check(0, a, 4), oa_commit_row_check(0, b, 4));
  assert_int_equal(oa_commit_row_check(9, a, 4), oa_commit_row_check(9, a, 4));
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip), cmocka_unit_test(test_damage_refused),
                                     cmocka_unit_test(test_row_check_depends_on_row_and_bytes)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
