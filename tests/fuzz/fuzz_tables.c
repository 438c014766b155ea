/* libFuzzer target: the queries-table parser (opusarc/querytable.h) on
 * hostile text. FUZZ_ARCHIVE names a valid archive whose recordings rows
 * may name. The first input byte picks the format (csv, raven, birdnet),
 * --units seconds, --clamp and a padding; the rest is the table. Whatever
 * the text, parsing must end in queries (each inside its recording, with
 * one label per column) or counted bad rows or an error: never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opusarc/archive.h"
#include "opusarc/querytable.h"

static oa_archive *archive;

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  if (!archive) {
    oa_err err;
    const char *path = getenv("FUZZ_ARCHIVE");
    if (!path || oa_archive_open(path, &archive, &err) != OA_OK) {
      fprintf(stderr, "fuzz_tables: set FUZZ_ARCHIVE to a valid archive\n");
      abort();
    }
  }
  if (size < 1) return 0;
  oa_table_options opt = {.format = data[0] % 3, .flags = (data[0] >> 2) & 3, .pad_seconds = (data[0] >> 4) * 0.25};
  oa_query_list ql;
  oa_err err;
  if (oa_queries_from_table(archive, "fuzz", (const char *)data + 1, size - 1, &opt, NULL, &ql, &err) != OA_OK)
    return 0;
  for (size_t i = 0; i < ql.n; i++) {
    const oa_query *q = &ql.q[i];
    const oa_rec_row *r = oa_archive_recording(archive, q->rec);
    if (q->start < 0 || q->end > r->samples || q->start >= q->end || !q->id[0]) abort();
    for (size_t k = 0; k < ql.nlabels; k++)
      if (strlen(oa_query_label(&ql, i, k)) > size) abort();
  }
  oa_query_list_free(&ql);
  return 0;
}
