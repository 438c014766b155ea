/* chanmix: the reference for extract --mono / --channels, written apart
 * from src/channels.c: float32 frames of IN_CH channels in, the mean of the
 * channels (summed in double) or the listed channels (1-based) out.
 *   chanmix IN.f32 IN_CH mono|LIST OUT.f32 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: chanmix IN.f32 IN_CH mono|LIST OUT.f32\n");
    return 2;
  }
  int ic = atoi(argv[2]), pick[64], np = 0;
  int mono = strcmp(argv[3], "mono") == 0;
  for (char *tok = mono ? NULL : strtok(argv[3], ","); tok && np < 64; tok = strtok(NULL, ",")) pick[np++] = atoi(tok) - 1;
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[4], "wb");
  if (!in || !out || ic < 1 || ic > 64) return 1;
  float frame[64];
  while (fread(frame, sizeof(float), (size_t)ic, in) == (size_t)ic) {
    if (mono) {
      double s = 0;
      for (int c = 0; c < ic; c++) s += frame[c];
      float m = (float)(s / ic);
      fwrite(&m, sizeof m, 1, out);
    } else {
      for (int k = 0; k < np; k++) fwrite(&frame[pick[k]], sizeof(float), 1, out);
    }
  }
  fclose(in);
  return fclose(out) != 0;
}
