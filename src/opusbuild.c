#include "opusarc/opusbuild.h"
#include "opusarc/util.h"

#include <dlfcn.h>
#include <link.h>
#include <opus/opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decoder_internal.h"

/* Layouts verified by reading the libopus sources of that version and by a
 * restore test across processes. Offsets are within one OpusDecoder:
 * OpusDecoder.arch, then relative to the CELT decoder, then relative to the
 * SILK decoder (channel 0, and channel 1 one silk_decoder_state later). */
typedef struct known_layout {
  const char *version;
  int32_t mono, stereo;
  size_t opus_arch, celt_arch, silk_arch, silk_channel_stride;
} known_layout;

static const known_layout KNOWN_LAYOUTS[] = {
    {"libopus 1.3.1", 18228, 26996, 44, 40, 4192, 4288},
};

static const known_layout *find_layout(const oa_opus_build *b) {
  for (size_t i = 0; i < sizeof KNOWN_LAYOUTS / sizeof KNOWN_LAYOUTS[0]; i++) {
    const known_layout *k = &KNOWN_LAYOUTS[i];
    if (strcmp(b->version, k->version) == 0 && b->dec_size_mono == k->mono &&
        b->dec_size_stereo == k->stereo)
      return k;
  }
  return NULL;
}

static int32_t word32(const uint8_t *p, size_t off) {
  int32_t v;
  memcpy(&v, p + off, sizeof v);
  return v;
}

int oa_arch_field_offsets(const oa_opus_build *build, const uint8_t *opus_dec, size_t offsets[4]) {
  const known_layout *k = find_layout(build);
  if (!k) return 0;
  int32_t celt = word32(opus_dec, 0), silk = word32(opus_dec, 4);
  if (celt <= 0 || silk <= 0 || celt >= k->stereo || silk >= k->stereo) return 0;
  offsets[0] = k->opus_arch;
  offsets[1] = (size_t)celt + k->celt_arch;
  offsets[2] = (size_t)silk + k->silk_arch;
  offsets[3] = (size_t)silk + k->silk_arch + k->silk_channel_stride;
  return 4;
}

/* Confirms the known layout on this host: in a fresh decoder all four arch
 * fields hold the same value. */
static int32_t verified_arch(const oa_opus_build *b) {
  int err;
  OpusDecoder *d = opus_decoder_create(OA_SAMPLE_RATE, 1, &err);
  if (!d) return -1;
  size_t offs[4];
  int32_t arch = -1;
  if (oa_arch_field_offsets(b, (const uint8_t *)d, offs) == 4) {
    const uint8_t *p = (const uint8_t *)d;
    arch = word32(p, offs[0]);
    for (int i = 1; i < 4; i++)
      if (offs[i] + 4 > (size_t)b->dec_size_mono || word32(p, offs[i]) != arch) arch = -1;
  }
  opus_decoder_destroy(d);
  return arch;
}

typedef struct phdr_search {
  uintptr_t probe;
  uintptr_t lo, hi;
  uint64_t hash;
  int found;
} phdr_search;

static int on_object(struct dl_phdr_info *info, size_t size, void *arg) {
  (void)size;
  phdr_search *s = arg;
  uintptr_t lo = UINTPTR_MAX, hi = 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD) continue;
    uintptr_t a = info->dlpi_addr + ph->p_vaddr;
    if (a < lo) lo = a;
    if (a + ph->p_memsz > hi) hi = a + ph->p_memsz;
  }
  if (s->probe < lo || s->probe >= hi) return 0;
  s->lo = lo;
  s->hi = hi;
  /* Position-independent code is identical in every process, so hashing the
   * executable segments fingerprints the build itself. */
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
      h = oa_fnv1a(h, (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz);
  }
  s->hash = h;
  s->found = 1;
  return 1;
}

static void cpu_features(char *buf, size_t len) {
  buf[0] = '\0';
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  snprintf(buf, len, "x86 sse:%d sse2:%d sse4.1:%d avx:%d avx2:%d fma:%d", !!__builtin_cpu_supports("sse"),
           !!__builtin_cpu_supports("sse2"), !!__builtin_cpu_supports("sse4.1"), !!__builtin_cpu_supports("avx"),
           !!__builtin_cpu_supports("avx2"), !!__builtin_cpu_supports("fma"));
#else
  snprintf(buf, len, "unknown");
#endif
}

int oa_opus_build_probe(oa_opus_build *b, oa_err *err) {
  memset(b, 0, sizeof *b);
  snprintf(b->version, sizeof b->version, "%s", opus_get_version_string());
  b->dec_size_mono = opus_decoder_get_size(1);
  b->dec_size_stereo = opus_decoder_get_size(2);
  phdr_search s = {.probe = (uintptr_t)(void *)&opus_decoder_get_size};
  dl_iterate_phdr(on_object, &s);
  if (!s.found) return oa_err_set(err, OA_EBUILD, "cannot locate libopus in this process's memory map");
  b->load_lo = s.lo;
  b->load_hi = s.hi;
  b->code_hash = s.hash;
  b->arch = verified_arch(b);
  b->layout_known = b->arch >= 0;
  cpu_features(b->cpu_features, sizeof b->cpu_features);
  return OA_OK;
}

int oa_opus_build_compatible(const oa_opus_build *origin, const oa_opus_build *host, oa_err *err) {
  if (strcmp(origin->version, host->version) != 0 || origin->dec_size_mono != host->dec_size_mono ||
      origin->dec_size_stereo != host->dec_size_stereo || origin->code_hash != host->code_hash)
    return oa_err_set(err, OA_EBUILD,
                      "archive was indexed with %s (decoder %d/%d bytes, code fingerprint %016llx); this host "
                      "has %s (%d/%d bytes, %016llx): decoder snapshots only restore under the same build",
                      origin->version, origin->dec_size_mono, origin->dec_size_stereo,
                      (unsigned long long)origin->code_hash, host->version, host->dec_size_mono,
                      host->dec_size_stereo, (unsigned long long)host->code_hash);
  if (!host->layout_known && strcmp(origin->cpu_features, host->cpu_features) != 0)
    return oa_err_set(err, OA_EBUILD,
                      "archive was indexed on a CPU with [%s], this host has [%s], and the `arch` fields of "
                      "%s are not known to opusarc, so snapshots cannot be adapted",
                      origin->cpu_features, host->cpu_features, host->version);
  return OA_OK;
}
