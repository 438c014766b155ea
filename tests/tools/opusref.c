/* opusref: the independent 48 kHz path of the rate tests: samples
 * [START, END) of an Ogg Opus file decoded straight from its start by
 * opusfile's op_read_float (no seeking), written as raw float32:
 *   opusref FILE.opus START END OUT.f32 [HOLES.txt]
 * Prints the channel count. Exit 0 on success. With HOLES.txt, a hole in
 * the data (OP_HOLE) is read past as opusfile allows, and the output
 * position of each is written there, one per line. */
#include <opusfile.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: opusref FILE.opus START END OUT.f32 [HOLES.txt]\n");
    return 2;
  }
  long long start = atoll(argv[2]), end = atoll(argv[3]), pos = 0;
  int e = 0;
  OggOpusFile *of = op_open_file(argv[1], &e);
  FILE *out = fopen(argv[4], "wb");
  FILE *holes = argc == 6 ? fopen(argv[5], "w") : NULL;
  if (!of || !out || start < 0 || end <= start || (argc == 6 && !holes)) {
    fprintf(stderr, "opusref: cannot open %s (%d) or %s, or bad range\n", argv[1], e, argv[4]);
    return 1;
  }
  int channels = op_channel_count(of, -1);
  static float pcm[5760 * 8];
  while (pos < end) {
    int n = op_read_float(of, pcm, (int)(sizeof pcm / sizeof *pcm), NULL);
    if (n == OP_HOLE && holes) {
      fprintf(holes, "%lld\n", pos);
      continue;
    }
    if (n <= 0) break;
    long long lo = pos > start ? pos : start, hi = pos + n < end ? pos + n : end;
    if (lo < hi && fwrite(pcm + (lo - pos) * channels, sizeof(float) * (size_t)channels, (size_t)(hi - lo), out) !=
                       (size_t)(hi - lo))
      return 1;
    pos += n;
  }
  op_free(of);
  if (holes && fclose(holes) != 0) return 1;
  if (fclose(out) != 0 || pos < end) {
    fprintf(stderr, "opusref: %s ends at %lld, before %lld\n", argv[1], pos, end);
    return 1;
  }
  printf("%d\n", channels);
  return 0;
}
