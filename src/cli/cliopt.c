/* One option convention for every command: a table of cli_opt rows that
 * says, per option, where its value goes and what it must be. The parser
 * turns the table into getopt_long's, converts and range-checks each value
 * and words every error the same way. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "opusarc/util.h"

#define MAX_OPTS 64

/* "a|b|c" written as "a, b or c". */
static void choice_words(const char *choices, char *out, size_t len) {
  size_t n = 0, bars = 0;
  for (const char *p = choices; *p; p++) bars += *p == '|';
  out[0] = '\0';
  for (const char *p = choices; *p && n + 6 < len; p++) {
    if (*p != '|') {
      out[n++] = *p;
      continue;
    }
    const char *sep = --bars == 0 ? " or " : ", ";
    size_t k = strlen(sep);
    memcpy(out + n, sep, k);
    n += k;
  }
  out[n] = '\0';
}

/* Index of `arg` among the '|'-separated choices, or -1. */
static int choice_index(const char *choices, const char *arg) {
  size_t len = strlen(arg);
  int i = 0;
  for (const char *p = choices;; i++) {
    const char *bar = strchr(p, '|');
    size_t n = bar ? (size_t)(bar - p) : strlen(p);
    if (n == len && strncmp(p, arg, n) == 0) return i;
    if (!bar) return -1;
    p = bar + 1;
  }
}

/* Converts one value into its destination: 0, or -1 with `why` filled. */
static int take_value(const cli_opt *o, const char *arg, char *why, size_t len) {
  double v;
  int64_t n;
  switch (o->kind) {
    case CLI_FLAG: *(int *)o->dest = o->set ? o->set : 1; return 0;
    case CLI_TEXT: *(const char **)o->dest = arg; return 0;
    case CLI_NUMBER:
      if (oa_parse_double(arg, &v) != 0 || v < o->min || v > o->max) break;
      *(double *)o->dest = v;
      return 0;
    case CLI_INT:
    case CLI_INT64:
      if (oa_parse_int64(arg, &n) != 0 || (double)n < o->min || (double)n > o->max) break;
      if (o->kind == CLI_INT) *(int *)o->dest = (int)n;
      else *(int64_t *)o->dest = n;
      return 0;
    case CLI_CHOICE: {
      int i = choice_index(o->choices, arg);
      if (i < 0) {
        char words[256];
        choice_words(o->choices, words, sizeof words);
        snprintf(why, len, "--%s must be %s, not '%s'", o->name, words, arg);
        return -1;
      }
      *(int *)o->dest = o->values ? o->values[i] : i;
      return 0;
    }
    case CLI_CALL: {
      char reason[256] = "";
      if (o->call(o->dest, arg, reason, sizeof reason) == 0) return 0;
      if (reason[0]) snprintf(why, len, "--%s: %s", o->name, reason);
      else break;
      return -1;
    }
    case CLI_HELP: return 0;
  }
  snprintf(why, len, "--%s needs %s, not '%s'", o->name, o->need ? o->need : "a value", arg ? arg : "");
  return -1;
}

int cli_parse_options(const cli_ctx *cx, const char *cmd, int argc, char **argv, const cli_opt *table,
                      int in_order, int *first_arg) {
  struct option longs[MAX_OPTS + 1];
  char shorts[2 * MAX_OPTS + 2];
  size_t ns = 0, n = 0;
  if (in_order) shorts[ns++] = '+'; /* inputs end the options: `index -o A DIR --x` keeps --x a name */
  for (; table[n].name && n < MAX_OPTS; n++) {
    const cli_opt *o = &table[n];
    int has = o->kind == CLI_FLAG || o->kind == CLI_HELP ? no_argument
              : o->optional_value                        ? optional_argument
                                                         : required_argument;
    longs[n] = (struct option){o->name, has, 0, (int)(256 + n)};
    if (o->letter) {
      shorts[ns++] = o->letter;
      if (has == required_argument) shorts[ns++] = ':';
    }
  }
  longs[n] = (struct option){0, 0, 0, 0};
  shorts[ns] = '\0';
  optind = 0;
  opterr = 0;
  int c;
  while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
    const cli_opt *o = NULL;
    for (size_t i = 0; i < n && !o; i++)
      if (c == (int)(256 + i) || (table[i].letter && c == table[i].letter)) o = &table[i];
    if (!o) {
      cli_usage_error(cx, cmd, "unknown option, or one missing its value: '%s'", argv[optind - 1]);
      return -1;
    }
    if (o->kind == CLI_HELP) {
      if (cx->rank == 0) fputs((const char *)o->dest, stdout);
      return 1;
    }
    char why[512];
    if (take_value(o, optarg, why, sizeof why) != 0) {
      cli_usage_error(cx, cmd, "%s", why);
      return -1;
    }
    if (o->given) *o->given = 1;
  }
  *first_arg = optind;
  return 0;
}
