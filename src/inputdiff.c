#include "inputdiff.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tally {
  uint64_t n;
  char examples[600];
} tally;

/* Appends to the examples, cut at their size (a long name is shortened, not an error). */
static void append_example(tally *t, const char *sep, const char *what) {
  size_t k = strlen(t->examples), room = sizeof t->examples - 1 - k;
  size_t ns = strlen(sep) < room ? strlen(sep) : room;
  memcpy(t->examples + k, sep, ns);
  size_t nw = strlen(what) < room - ns ? strlen(what) : room - ns;
  memcpy(t->examples + k + ns, what, nw);
  t->examples[k + ns + nw] = '\0';
}

static void note(tally *t, const char *what) {
  if (t->n++ < 3) append_example(t, t->examples[0] ? ", " : "", what);
  else if (t->n == 4) append_example(t, ", ...", "");
}

static int by_key(const void *x, const void *y) {
  const oa_recorded_source *a = x, *b = y;
  int r = strcmp(a->name, b->name);
  return r ? r : strcmp(a->path, b->path);
}

static int key_cmp(const oa_corpus_entry *e, const oa_recorded_source *r) {
  int c = strcmp(e->name, r->name);
  return c ? c : strcmp(e->path, r->path);
}

void oa_source_changes(const oa_corpus_entry *e, const oa_rec_row *r, char *out, size_t len) {
  out[0] = '\0';
  size_t k = 0;
  if (e->size != r->source_size)
    k += (size_t)snprintf(out + k, len - k, "size %llu -> %llu bytes", (unsigned long long)r->source_size,
                          (unsigned long long)e->size);
  if (k < len && r->source_mtime_ns && e->mtime_ns != r->source_mtime_ns)
    k += (size_t)snprintf(out + k, len - k, "%smodification time", k ? ", " : "");
  if (k < len && r->source_inode && e->ino != r->source_inode)
    snprintf(out + k, len - k, "%sinode (replaced by another file)", k ? ", " : "");
}

uint64_t oa_input_diff(const oa_corpus *c, const oa_recorded_source *rec, size_t n, int all_recorded, char *msg,
                       size_t len) {
  msg[0] = '\0';
  oa_recorded_source *sorted = malloc((n ? n : 1) * sizeof *sorted);
  if (!sorted) {
    snprintf(msg, len, "out of memory comparing the inputs");
    return 1;
  }
  memcpy(sorted, rec, n * sizeof *rec);
  qsort(sorted, n, sizeof *sorted, by_key);
  tally added = {0}, gone = {0}, changed = {0};
  size_t i = 0, j = 0;
  while (i < c->count || j < n) {
    int cmp = i == c->count ? 1 : j == n ? -1 : key_cmp(&c->entries[i], &sorted[j]);
    if (cmp < 0) {
      if (all_recorded) note(&added, c->entries[i].name);
      i++;
    } else if (cmp > 0) {
      note(&gone, sorted[j].name);
      j++;
    } else {
      char what[256], item[600];
      oa_source_changes(&c->entries[i], sorted[j].row, what, sizeof what);
      if (what[0]) {
        snprintf(item, sizeof item, "%s: %s", c->entries[i].name, what);
        note(&changed, item);
      }
      i++, j++;
    }
  }
  free(sorted);
  size_t k = 0;
  const tally *parts[3] = {&added, &gone, &changed};
  const char *words[3][2] = {{"new recording", "new recordings"},
                             {"recording no longer in the inputs", "recordings no longer in the inputs"},
                             {"source changed since it was indexed", "sources changed since they were indexed"}};
  for (int p = 0; p < 3; p++) {
    if (!parts[p]->n || k >= len) continue;
    k += (size_t)snprintf(msg + k, len - k, "%s%llu %s (%s)", k ? "; " : "", (unsigned long long)parts[p]->n,
                          words[p][parts[p]->n != 1], parts[p]->examples);
  }
  return added.n + gone.n + changed.n;
}
