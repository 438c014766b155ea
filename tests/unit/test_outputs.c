/* Output rules (outfile.c) and the input comparison --resume uses
 * (inputdiff.c): an output is never an input, a directory or a FIFO; an
 * existing file is replaced only with force; temporary files never follow
 * a planted name; what differs between inputs and an archive is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "inputdiff.h"
#include "outfile.h"

static char dir[] = "/tmp/opusarc-outputs-XXXXXX";

static void path_in(char *out, size_t len, const char *name) { snprintf(out, len, "%s/%s", dir, name); }

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static void read_text(const char *path, char *buf, size_t len) {
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, len - 1, f);
  buf[n] = '\0';
  fclose(f);
}

static void test_check_refuses(void **state) {
  (void)state;
  char in[512], out[512], fifo[512], missing[512];
  path_in(in, sizeof in, "input.opus");
  path_in(out, sizeof out, "out.f32");
  path_in(fifo, sizeof fifo, "fifo");
  path_in(missing, sizeof missing, "nodir/x.f32");
  write_text(in, "recording");
  write_text(out, "old");
  assert_int_equal(mkfifo(fifo, 0644), 0);
  oa_file_id id;
  assert_int_equal(oa_file_id_of(in, &id), 0);
  oa_err err;
  assert_int_equal(oa_out_check(in, 1, &id, 1, "-o", &err), OA_EUSAGE);
  assert_non_null(strstr(err.msg, "is an input"));
  assert_int_equal(oa_out_check(out, 0, &id, 1, "-o", &err), OA_EEXIST);
  assert_non_null(strstr(err.msg, "already exists"));
  assert_int_equal(oa_out_check(out, 1, &id, 1, "-o", &err), OA_OK);
  assert_int_equal(oa_out_check(fifo, 1, NULL, 0, "-o", &err), OA_EUSAGE);
  assert_non_null(strstr(err.msg, "is a FIFO"));
  assert_int_equal(oa_out_check(dir, 1, NULL, 0, "-o", &err), OA_EUSAGE);
  assert_non_null(strstr(err.msg, "is a directory"));
  assert_int_equal(oa_out_check(missing, 1, NULL, 0, "-o", &err), OA_EUSAGE);
  assert_non_null(strstr(err.msg, "No such file or directory"));
  /* A symlink to the input is the input. */
  char link_path[512];
  path_in(link_path, sizeof link_path, "alias");
  assert_int_equal(symlink(in, link_path), 0);
  assert_int_equal(oa_out_check(link_path, 1, &id, 1, "-o", &err), OA_EUSAGE);
}

static void test_temp_never_follows_and_publish_never_replaces(void **state) {
  (void)state;
  char victim[512], out[512], tmp[600];
  path_in(victim, sizeof victim, "victim");
  path_in(out, sizeof out, "clip.f32");
  write_text(victim, "victim");
  /* Plant symlinks under the first temporary names this process would use. */
  for (int k = 0; k < 3; k++) {
    char planted[600];
    snprintf(planted, sizeof planted, "%s.partial.%ld.%d", out, (long)getpid(), k);
    assert_int_equal(symlink(victim, planted), 0);
  }
  oa_err err;
  int fd = oa_out_create_temp(out, tmp, sizeof tmp, &err);
  assert_true(fd >= 0);
  assert_non_null(strstr(tmp, ".partial."));
  assert_int_equal(write(fd, "new", 3), 3);
  close(fd);
  char text[64];
  read_text(victim, text, sizeof text);
  assert_string_equal(text, "victim");
  /* Something appeared under the final name meanwhile: not replaced. */
  write_text(out, "appeared");
  assert_int_equal(oa_out_publish(tmp, out, 0, &err), OA_EEXIST);
  read_text(out, text, sizeof text);
  assert_string_equal(text, "appeared");
  assert_int_equal(oa_out_publish(tmp, out, 1, &err), OA_OK);
  read_text(out, text, sizeof text);
  assert_string_equal(text, "new");
  assert_int_equal(access(tmp, F_OK), -1);
}

static oa_corpus_entry entry(const char *name, uint64_t size, int64_t mtime, uint64_t ino) {
  return (oa_corpus_entry){.name = (char *)name, .path = (char *)name, .size = size, .mtime_ns = mtime, .ino = ino};
}

static void test_input_diff_names_what_differs(void **state) {
  (void)state;
  oa_corpus_entry e[4] = {entry("a.opus", 10, 100, 1), entry("b.opus", 20, 200, 2), entry("c.opus", 31, 300, 3),
                          entry("new.opus", 5, 500, 5)};
  oa_corpus c = {.entries = e, .count = 4, .cap = 4};
  oa_rec_row r[4] = {{.source_size = 10, .source_mtime_ns = 100, .source_inode = 1},
                     {.source_size = 20, .source_mtime_ns = 999, .source_inode = 2},
                     {.source_size = 30, .source_mtime_ns = 300, .source_inode = 3},
                     {.source_size = 1, .source_mtime_ns = 1, .source_inode = 9}};
  oa_recorded_source rec[4] = {{"gone.opus", "gone.opus", &r[3]}, {"c.opus", "c.opus", &r[2]},
                               {"a.opus", "a.opus", &r[0]}, {"b.opus", "b.opus", &r[1]}};
  char msg[1024];
  assert_int_equal(oa_input_diff(&c, rec, 4, 1, msg, sizeof msg), 4);
  assert_non_null(strstr(msg, "1 new recording (new.opus)"));
  assert_non_null(strstr(msg, "1 recording no longer in the inputs (gone.opus)"));
  assert_non_null(strstr(msg, "b.opus: modification time"));
  assert_non_null(strstr(msg, "c.opus: size 30 -> 31 bytes"));
  /* An interrupted run knows only its committed rows: absent ones are not new. */
  assert_int_equal(oa_input_diff(&c, rec + 1, 3, 0, msg, sizeof msg), 2);
  assert_null(strstr(msg, "new recording"));
  /* Format 3 rows record no mtime or inode: only the size counts. */
  oa_rec_row old = {.source_size = 10};
  oa_recorded_source one = {"a.opus", "a.opus", &old};
  oa_corpus just_a = {.entries = e, .count = 1, .cap = 1};
  assert_int_equal(oa_input_diff(&just_a, &one, 1, 1, msg, sizeof msg), 0);
  assert_string_equal(msg, "");
}

static int setup(void **state) {
  (void)state;
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_check_refuses),
      cmocka_unit_test(test_temp_never_follows_and_publish_never_replaces),
      cmocka_unit_test(test_input_diff_names_what_differs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
