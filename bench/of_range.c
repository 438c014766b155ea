/* of_range: the reference of bench_latency.sh, one range read by opusfile
 * in a whole process: open, op_pcm_seek, op_read_float, write raw float32.
 *   of_range FILE.opus START END OUT.f32 */
#include <opusfile.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  if (argc != 5) return 2;
  int e;
  long long left = atoll(argv[3]) - atoll(argv[2]);
  OggOpusFile *of = op_open_file(argv[1], &e);
  FILE *out = fopen(argv[4], "wb");
  if (!of || !out || op_pcm_seek(of, atoll(argv[2])) != 0) return 1;
  static float buf[5760 * 8];
  int ch = op_channel_count(of, -1);
  while (left > 0) {
    int got = op_read_float(of, buf, (int)(left * ch < 5760 * 8 ? left * ch : 5760 * 8), NULL);
    if (got <= 0) return 1;
    fwrite(buf, sizeof(float) * (size_t)ch, (size_t)got, out);
    left -= got;
  }
  op_free(of);
  return fclose(out) == 0 ? 0 : 1;
}
