#include "opusarc/corpus.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "opusarc/avdemux.h"
#include "opusarc/avimport.h"
#include "opusarc/pcmimport.h"
#include "opusarc/util.h"

static int add_entry(oa_corpus *c, const char *name, const char *path, const struct stat *st, const char *error) {
  if (oa_grow((void **)&c->entries, &c->cap, c->count + 1, sizeof *c->entries)) return -1;
  oa_corpus_entry *e = &c->entries[c->count];
  memset(e, 0, sizeof *e);
  e->name = strdup(name);
  e->path = strdup(path);
  if (st) {
    e->size = error ? 0 : (uint64_t)st->st_size;
    e->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    e->dev = (uint64_t)st->st_dev;
    e->ino = (uint64_t)st->st_ino;
  }
  e->error = error ? strdup(error) : NULL;
  if (!e->name || !e->path || (error && !e->error)) {
    free(e->name), free(e->path), free(e->error);
    return -1;
  }
  c->count++;
  return 0;
}

static int has_audio_extension(const char *name) {
  /* .oga: Ogg audio as voice-note apps and some recorders name it; WebM,
   * Matroska, MP4 and CAF: what browsers and phones record Opus into;
   * other audio libavcodec decodes, to import. */
  static const char *const ogg[] = {".opus", ".ogg", ".oga"};
  return oa_has_extension(name, ogg, sizeof ogg / sizeof ogg[0]) || oa_is_pcm_path(name) ||
         oa_is_container_path(name) || oa_is_import_path(name);
}

static char *join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 2);
  if (!s) return NULL;
  memcpy(s, a, la);
  size_t k = la;
  if (k > 0 && s[k - 1] != '/') s[k++] = '/';
  memcpy(s + k, b, lb + 1);
  return s;
}

int oa_dirlist_add(oa_dirlist *l, const char *dir, const char *rel) {
  if (oa_grow((void **)&l->items, &l->cap, l->count + 1, sizeof *l->items)) return -1;
  oa_dir *d = &l->items[l->count];
  d->dir = strdup(dir), d->rel = strdup(rel);
  if (!d->dir || !d->rel) {
    free(d->dir), free(d->rel);
    return -1;
  }
  l->count++;
  return 0;
}

void oa_dirlist_free(oa_dirlist *l) {
  for (size_t i = 0; i < l->count; i++) free(l->items[i].dir), free(l->items[i].rel);
  free(l->items);
  memset(l, 0, sizeof *l);
}

size_t oa_dir_message_size(const oa_dir *d) { return strlen(d->dir) + strlen(d->rel) + 2; }

size_t oa_dir_write_message(const oa_dir *d, uint8_t *p) {
  size_t a = strlen(d->dir) + 1, b = strlen(d->rel) + 1;
  memcpy(p, d->dir, a);
  memcpy(p + a, d->rel, b);
  return a + b;
}

int oa_dirlist_serialize(const oa_dirlist *l, uint8_t **buf, uint64_t *len) {
  uint64_t total = 0;
  for (size_t i = 0; i < l->count; i++) total += oa_dir_message_size(&l->items[i]);
  *len = total;
  uint8_t *p = *buf = malloc(total ? total : 1);
  if (!p) return -1;
  for (size_t i = 0; i < l->count; i++) p += oa_dir_write_message(&l->items[i], p);
  return 0;
}

int oa_dirlist_append_message(oa_dirlist *l, const uint8_t *buf, uint64_t len) {
  const char *p = (const char *)buf, *end = p + len;
  while (p < end) {
    const char *a = p, *za = memchr(a, '\0', (size_t)(end - a));
    const char *b = za ? za + 1 : end, *zb = b < end ? memchr(b, '\0', (size_t)(end - b)) : NULL;
    if (!za || !zb) return -2; /* not two strings: corrupt */
    if (oa_dirlist_add(l, a, b) != 0) return -1;
    p = zb + 1;
  }
  return 0;
}

/* What a directory entry is without a stat where the file system says
 * (d_type): 1 a directory, 0 anything else (a link to a directory is not
 * followed: no loops, no double counting), -1 cannot tell. */
static int is_directory(const struct dirent *de, const char *path) {
#ifdef _DIRENT_HAVE_D_TYPE
  if (de->d_type == DT_DIR) return 1;
  if (de->d_type != DT_UNKNOWN) return 0;
#endif
  struct stat lst;
  if (lstat(path, &lst) != 0) return -1;
  return S_ISDIR(lst.st_mode) ? 1 : 0;
}

/* An audio file of the corpus: stat'ed (links to files followed). */
static int add_file(oa_corpus *c, const char *name, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) {
    char why[300];
    snprintf(why, sizeof why, "cannot stat: %s", strerror(errno));
    return add_entry(c, name, path, NULL, why);
  }
  return add_entry(c, name, path, &st, S_ISREG(st.st_mode) ? NULL : "not a regular file");
}

struct oa_dir_reader {
  DIR *d;
  char *dir, *rel;
};

int oa_dir_open(oa_corpus *c, const char *dir, const char *rel, oa_dir_reader **out) {
  *out = NULL;
  DIR *d = opendir(dir);
  if (!d) {
    char why[300];
    snprintf(why, sizeof why, "cannot open directory: %s", strerror(errno));
    return add_entry(c, rel[0] ? rel : dir, dir, NULL, why);
  }
  oa_dir_reader *r = calloc(1, sizeof *r);
  if (r) r->d = d, r->dir = strdup(dir), r->rel = strdup(rel);
  if (!r || !r->dir || !r->rel) {
    closedir(d);
    if (r) free(r->dir), free(r->rel), free(r);
    return -1;
  }
  *out = r;
  return 0;
}

void oa_dir_close(oa_dir_reader *r) {
  if (!r) return;
  closedir(r->d);
  free(r->dir), free(r->rel), free(r);
}

/* One directory entry: a subdirectory joins `more`, an audio file joins
 * `files` (or c, stat'ed, when files is NULL). */
static int take_entry(oa_dir_reader *r, const struct dirent *de, oa_corpus *c, oa_dirlist *more, oa_dirlist *files) {
  if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) return 0;
  int rc = 0, kind = 0, audio = has_audio_extension(de->d_name);
  char *path = join(r->dir, de->d_name);
  char *sub = r->rel[0] ? join(r->rel, de->d_name) : strdup(de->d_name);
  if (!path || !sub) rc = -1;
  else kind = is_directory(de, path);
  if (rc == 0 && kind == 1) rc = oa_dirlist_add(more, path, sub);
  else if (rc == 0 && kind == 0 && audio) rc = files ? oa_dirlist_add(files, path, sub) : add_file(c, sub, path);
  free(path);
  free(sub);
  return rc;
}

int oa_dir_read_some(oa_dir_reader *r, size_t most, oa_dirlist *more, oa_dirlist *files, int *done) {
  struct dirent *de = NULL;
  size_t had = files->count;
  while (files->count - had < most && (de = readdir(r->d)) != NULL)
    if (take_entry(r, de, NULL, more, files) != 0) return -1;
  *done = de == NULL;
  return 0;
}

int oa_corpus_read_dir(oa_corpus *c, const char *dir, const char *rel, oa_dirlist *more, oa_dirlist *files) {
  oa_dir_reader *r;
  if (oa_dir_open(c, dir, rel, &r) != 0) return -1;
  int rc = 0;
  struct dirent *de;
  while (r && rc == 0 && (de = readdir(r->d)) != NULL) rc = take_entry(r, de, c, more, files);
  oa_dir_close(r);
  return rc;
}

int oa_corpus_add_files(oa_corpus *c, const oa_dirlist *files) {
  for (size_t k = 0; k < files->count; k++)
    if (add_file(c, files->items[k].rel, files->items[k].dir) != 0) return -1;
  return 0;
}

int oa_corpus_check_inputs(const char *const *inputs, int ninputs, oa_err *err) {
  for (int i = 0; i < ninputs; i++) {
    struct stat st;
    if (stat(inputs[i], &st) != 0) return oa_err_set(err, OA_EUSAGE, "%s: %s", inputs[i], strerror(errno));
  }
  return OA_OK;
}

int oa_corpus_add_inputs(oa_corpus *c, const char *const *inputs, int ninputs, int part, int nparts,
                         oa_dirlist *dirs) {
  for (int i = part; i < ninputs; i += nparts) {
    struct stat st;
    int is_dir = stat(inputs[i], &st) == 0 && S_ISDIR(st.st_mode);
    if (is_dir ? oa_dirlist_add(dirs, inputs[i], "") : add_file(c, inputs[i], inputs[i])) return -1;
  }
  return 0;
}

int oa_corpus_read_list(oa_corpus *c, const char *list_file, int part, int nparts, oa_err *err) {
  FILE *f = fopen(list_file, "r");
  if (!f) return oa_err_set(err, OA_EIO, "%s: cannot open list: %s", list_file, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  int rc = OA_OK;
  long k = 0; /* paths listed so far */
  while (rc == OA_OK && (n = getline(&line, &cap, f)) >= 0) {
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (n == 0 || line[0] == '#') continue;
    if (k++ % nparts != part) continue;
    if (add_file(c, line, line) != 0) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  free(line);
  fclose(f);
  return rc;
}

static int by_name(const void *a, const void *b) {
  const oa_corpus_entry *x = a, *y = b;
  int r = strcmp(x->name, y->name);
  return r ? r : strcmp(x->path, y->path);
}

static int by_file(const void *a, const void *b, void *ctx) {
  const oa_corpus_entry *e = ctx;
  const oa_corpus_entry *x = &e[*(const size_t *)a], *y = &e[*(const size_t *)b];
  if (x->dev != y->dev) return x->dev < y->dev ? -1 : 1;
  if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
  return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* One file reached under two names (a.opus and ./a.opus, a hard link, a
 * symlink to a file of the corpus): indexed once, under the name that
 * sorts first; the others become failed entries that say so. */
int oa_corpus_mark_same_files(oa_corpus *c) {
  size_t *order = malloc((c->count ? c->count : 1) * sizeof *order);
  if (!order) return -1;
  for (size_t i = 0; i < c->count; i++) order[i] = i;
  qsort_r(order, c->count, sizeof *order, by_file, c->entries);
  size_t base = 0; /* first entry of the current run of one file */
  for (size_t k = 1; k < c->count; k++) {
    const oa_corpus_entry *first = &c->entries[order[base]];
    oa_corpus_entry *e = &c->entries[order[k]];
    if (e->ino == 0 || e->dev != first->dev || e->ino != first->ino) {
      base = k;
      continue;
    }
    if (e->error || first->error) continue;
    char why[512];
    snprintf(why, sizeof why, "the same file as %s (given twice; indexed once)", first->name);
    e->error = strdup(why);
    if (!e->error) {
      free(order);
      return -1;
    }
  }
  free(order);
  return 0;
}

/* The directory part of PATH resolved (symlinks, "..", "."), the file name
 * kept: a file reached through a directory link is named where it is
 * seen, but the same file always gets the same name. NULL on failure. */
static char *resolved_path(const char *path) {
  char *copy = strdup(path), *copy2 = strdup(path);
  char *real = copy ? realpath(dirname(copy), NULL) : NULL;
  const char *base = copy2 ? basename(copy2) : NULL;
  char *out = real && base ? join(real, base) : NULL;
  free(copy), free(copy2), free(real);
  return out;
}

/* --root and --prefix: names are paths below ROOT (whatever the arguments
 * were), then PREFIX in front. An entry outside ROOT fails with a reason. */
int oa_corpus_name(oa_corpus *c, const oa_corpus_naming *nm, oa_err *err) {
  if (!nm || (!nm->root && !nm->prefix)) return OA_OK;
  char *root = NULL;
  if (nm->root && !(root = realpath(nm->root, NULL)))
    return oa_err_set(err, OA_EUSAGE, "root directory %s: %s", nm->root, strerror(errno));
  size_t rlen = root ? strlen(root) : 0;
  int rc = OA_OK;
  for (size_t i = 0; rc == OA_OK && i < c->count; i++) {
    oa_corpus_entry *e = &c->entries[i];
    const char *rel = e->name;
    char *full = NULL;
    if (root) {
      full = resolved_path(e->path);
      int under = full && strncmp(full, root, rlen) == 0 && (full[rlen] == '/' || (rlen == 1 && root[0] == '/'));
      if (under) rel = full + rlen + (rlen == 1 ? 0 : 1);
      else if (!e->error) {
        char why[600];
        snprintf(why, sizeof why, "not below the root directory %s", nm->root);
        e->error = strdup(why);
      }
    }
    const char *prefix = nm->prefix ? nm->prefix : "";
    char *name = malloc(strlen(prefix) + strlen(rel) + 1);
    if (!name) rc = oa_err_set(err, OA_ENOMEM, "out of memory");
    else {
      strcpy(name, prefix);
      strcat(name, rel);
      free(e->name);
      e->name = name;
    }
    free(full);
  }
  free(root);
  return rc;
}

void oa_corpus_sort(oa_corpus *c) {
  if (c->count > 0) qsort(c->entries, c->count, sizeof *c->entries, by_name);
}

int oa_corpus_mark_duplicates(oa_corpus *c) {
  for (size_t i = 1; i < c->count; i++) {
    if (strcmp(c->entries[i].name, c->entries[i - 1].name) != 0 || c->entries[i].error) continue;
    char why[512];
    snprintf(why, sizeof why, "duplicate recording name (also %s)", c->entries[i - 1].path);
    if (!(c->entries[i].error = strdup(why))) return -1;
  }
  return 0;
}

int oa_corpus_finish(oa_corpus *c, oa_err *err) {
  oa_corpus_sort(c);
  for (size_t i = 0; i < c->count; i++) c->entries[i].row = i;
  if (oa_corpus_mark_duplicates(c) != 0 || oa_corpus_mark_same_files(c) != 0)
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  return OA_OK;
}

/* The whole scan in one process: the same steps as the ranks' shared walk
 * (src/corpuswalk.c), one part of one. */
int oa_corpus_scan(const char *const *inputs, int ninputs, const char *list_file, const oa_corpus_naming *naming,
                   oa_corpus *c, oa_err *err) {
  memset(c, 0, sizeof *c);
  int rc = oa_corpus_check_inputs(inputs, ninputs, err);
  if (rc != OA_OK) return rc;
  oa_dirlist todo = {0};
  if (oa_corpus_add_inputs(c, inputs, ninputs, 0, 1, &todo) != 0)
    rc = oa_err_set(err, OA_ENOMEM, "out of memory while scanning");
  while (rc == OA_OK && todo.count > 0) { /* depth first: the last directory found is read next */
    oa_dir d = todo.items[--todo.count];
    char *dir = d.dir, *rel = d.rel;
    if (oa_corpus_read_dir(c, dir, rel, &todo, NULL) != 0) rc = oa_err_set(err, OA_ENOMEM, "out of memory while scanning %s", dir);
    free(dir), free(rel);
  }
  oa_dirlist_free(&todo);
  if (rc == OA_OK && list_file) rc = oa_corpus_read_list(c, list_file, 0, 1, err);
  if (rc == OA_OK) rc = oa_corpus_name(c, naming, err);
  if (rc == OA_OK) rc = oa_corpus_finish(c, err);
  if (rc != OA_OK) oa_corpus_free(c);
  return rc;
}

void oa_corpus_free(oa_corpus *c) {
  for (size_t i = 0; i < c->count; i++) {
    free(c->entries[i].name);
    free(c->entries[i].path);
    free(c->entries[i].error);
  }
  free(c->entries);
  memset(c, 0, sizeof *c);
}

void oa_corpus_keep(oa_corpus *c, const uint8_t *keep) {
  size_t n = 0;
  for (size_t i = 0; i < c->count; i++) {
    if (keep[i]) {
      c->entries[n] = c->entries[i];
      c->entries[n].row = n;
      n++;
      continue;
    }
    free(c->entries[i].name);
    free(c->entries[i].path);
    free(c->entries[i].error);
  }
  c->count = n;
}

static size_t put_str(uint8_t *p, const char *s) {
  uint32_t n = s ? (uint32_t)strlen(s) : 0;
  memcpy(p, &n, 4);
  if (n) memcpy(p + 4, s, n);
  return 4 + (size_t)n;
}

enum { ENTRY_FIXED = 40, ENTRY_MIN = ENTRY_FIXED + 12 }; /* five numbers; three string lengths */

uint64_t oa_corpus_message_size(const oa_corpus *c, const size_t *pick, size_t n) {
  if (!pick) n = c->count;
  uint64_t total = 8;
  for (size_t k = 0; k < n; k++) {
    const oa_corpus_entry *e = &c->entries[pick ? pick[k] : k];
    total += ENTRY_MIN + strlen(e->name) + strlen(e->path) + (e->error ? strlen(e->error) : 0);
  }
  return total;
}

void oa_corpus_write_message(const oa_corpus *c, const size_t *pick, size_t n, uint8_t *p) {
  if (!pick) n = c->count;
  uint64_t count = n;
  memcpy(p, &count, 8);
  size_t pos = 8;
  for (size_t k = 0; k < n; k++) {
    const oa_corpus_entry *e = &c->entries[pick ? pick[k] : k];
    memcpy(p + pos, &e->size, 8);
    memcpy(p + pos + 8, &e->mtime_ns, 8);
    memcpy(p + pos + 16, &e->dev, 8);
    memcpy(p + pos + 24, &e->ino, 8);
    memcpy(p + pos + 32, &e->row, 8);
    pos += ENTRY_FIXED;
    pos += put_str(p + pos, e->name);
    pos += put_str(p + pos, e->path);
    pos += put_str(p + pos, e->error);
  }
}

int oa_corpus_serialize(const oa_corpus *c, const size_t *pick, size_t n, uint8_t **buf, uint64_t *len) {
  *len = oa_corpus_message_size(c, pick, n);
  *buf = malloc(*len);
  if (!*buf) return -1;
  oa_corpus_write_message(c, pick, n, *buf);
  return 0;
}

/* Reads a length-prefixed string; an empty one gives NULL when nullable.
 * Returns -1 if the buffer ends early or memory runs out. */
static int get_str(const uint8_t *buf, uint64_t len, uint64_t *pos, int nullable, char **out) {
  uint32_t n;
  *out = NULL;
  if (len - *pos < 4) return -1;
  memcpy(&n, buf + *pos, 4);
  *pos += 4;
  if (len - *pos < n) return -1;
  if (n == 0 && nullable) return 0;
  char *s = malloc((size_t)n + 1);
  if (!s) return -1;
  memcpy(s, buf + *pos, n);
  s[n] = '\0';
  *pos += n;
  *out = s;
  return 0;
}

int oa_corpus_deserialize(const uint8_t *buf, uint64_t len, oa_corpus *c, oa_err *err) {
  memset(c, 0, sizeof *c);
  uint64_t n, pos = 8;
  if (len < 8) return oa_err_set(err, OA_EMPI, "corpus message truncated");
  memcpy(&n, buf, 8);
  if (n > len / ENTRY_MIN) return oa_err_set(err, OA_EMPI, "corpus message corrupt");
  c->entries = calloc(n ? n : 1, sizeof *c->entries);
  if (!c->entries) return oa_err_set(err, OA_ENOMEM, "out of memory");
  c->cap = n;
  int bad = 0;
  for (uint64_t i = 0; i < n && !bad; i++) {
    oa_corpus_entry *e = &c->entries[i];
    c->count = i + 1;
    if (len - pos < ENTRY_FIXED) {
      bad = 1;
      break;
    }
    memcpy(&e->size, buf + pos, 8);
    memcpy(&e->mtime_ns, buf + pos + 8, 8);
    memcpy(&e->dev, buf + pos + 16, 8);
    memcpy(&e->ino, buf + pos + 24, 8);
    memcpy(&e->row, buf + pos + 32, 8);
    pos += ENTRY_FIXED;
    bad = get_str(buf, len, &pos, 0, &e->name) || get_str(buf, len, &pos, 0, &e->path) ||
          get_str(buf, len, &pos, 1, &e->error);
  }
  if (bad || pos != len) {
    oa_corpus_free(c);
    return oa_err_set(err, OA_EMPI, "corpus message corrupt");
  }
  return OA_OK;
}

int oa_corpus_append_message(oa_corpus *c, const uint8_t *buf, uint64_t len, oa_err *err) {
  oa_corpus part;
  int rc = oa_corpus_deserialize(buf, len, &part, err);
  if (rc != OA_OK) return rc;
  if (part.count == 0) return oa_corpus_free(&part), OA_OK;
  if (oa_grow((void **)&c->entries, &c->cap, c->count + part.count, sizeof *c->entries)) {
    oa_corpus_free(&part);
    return oa_err_set(err, OA_ENOMEM, "out of memory");
  }
  memcpy(c->entries + c->count, part.entries, part.count * sizeof *part.entries);
  c->count += part.count;
  free(part.entries); /* the strings now belong to c */
  return OA_OK;
}

typedef struct by_size_item {
  uint64_t size;
  size_t index;
} by_size_item;

static int larger_first(const void *a, const void *b) {
  const by_size_item *x = a, *y = b;
  if (x->size != y->size) return x->size > y->size ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* Min-heap of (bytes, rank) pairs kept in two arrays. */
static int heap_less(const uint64_t *load, const int *rank, size_t i, size_t j) {
  return load[i] < load[j] || (load[i] == load[j] && rank[i] < rank[j]);
}

static void heap_sift_down(uint64_t *load, int *rank, size_t n, size_t i) {
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && heap_less(load, rank, l, m)) m = l;
    if (r < n && heap_less(load, rank, r, m)) m = r;
    if (m == i) return;
    uint64_t tl = load[i];
    load[i] = load[m];
    load[m] = tl;
    int tr = rank[i];
    rank[i] = rank[m];
    rank[m] = tr;
    i = m;
  }
}

int oa_partition_by_size(const uint64_t *sizes, size_t n, int nranks, int *owner) {
  by_size_item *items = malloc((n ? n : 1) * sizeof *items);
  uint64_t *load = calloc((size_t)nranks, sizeof *load);
  int *rank = malloc((size_t)nranks * sizeof *rank);
  if (!items || !load || !rank) {
    free(items), free(load), free(rank);
    return -1;
  }
  for (int r = 0; r < nranks; r++) rank[r] = r; /* all zero loads: already a heap */
  for (size_t i = 0; i < n; i++) items[i] = (by_size_item){sizes[i], i};
  qsort(items, n, sizeof *items, larger_first);
  for (size_t i = 0; i < n; i++) {
    owner[items[i].index] = rank[0];
    /* Small files still cost an open and a header parse. */
    load[0] += items[i].size + 4096;
    heap_sift_down(load, rank, (size_t)nranks, 0);
  }
  free(items), free(load), free(rank);
  return 0;
}

uint64_t oa_corpus_hash_from(uint64_t h, const oa_corpus *c) {
  for (size_t i = 0; i < c->count; i++) {
    const oa_corpus_entry *e = &c->entries[i];
    uint8_t size[24];
    for (int k = 0; k < 8; k++) {
      size[k] = (uint8_t)(e->size >> (8 * k));
      size[8 + k] = (uint8_t)((uint64_t)e->mtime_ns >> (8 * k));
      size[16 + k] = (uint8_t)(e->ino >> (8 * k));
    }
    h = oa_fnv1a(h, (const uint8_t *)e->name, strlen(e->name) + 1);
    h = oa_fnv1a(h, (const uint8_t *)e->path, strlen(e->path) + 1);
    h = oa_fnv1a(h, size, sizeof size);
  }
  return h;
}

uint64_t oa_corpus_hash(const oa_corpus *c) { return oa_corpus_hash_from(OA_CORPUS_HASH_START, c); }

int oa_corpus_partition(const oa_corpus *c, int nranks, int *owner) {
  uint64_t *sizes = malloc((c->count ? c->count : 1) * sizeof *sizes);
  if (!sizes) return -1;
  for (size_t i = 0; i < c->count; i++) sizes[i] = c->entries[i].size;
  int rc = oa_partition_by_size(sizes, c->count, nranks, owner);
  free(sizes);
  return rc;
}
