#define OA_AVLIB_IMPL
#include "avlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* Loaded once per process and never changed after: the one process-wide
 * state in the library, as FFmpeg's own is. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static oa_avlib table;
static char load_error[512];

#define OA_STR2(x) #x
#define OA_STR(x) OA_STR2(x)

static void load(void) {
  /* The major versions the headers were compiled against. */
  static const char *const names[] = {"libavutil.so." OA_STR(LIBAVUTIL_VERSION_MAJOR),
                                      "libavcodec.so." OA_STR(LIBAVCODEC_VERSION_MAJOR),
                                      "libavformat.so." OA_STR(LIBAVFORMAT_VERSION_MAJOR)};
  void *lib[3];
  for (int i = 0; i < 3; i++) {
    lib[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!lib[i]) {
      snprintf(load_error, sizeof load_error, "FFmpeg's %s cannot be loaded (%s); non-Ogg inputs need it", names[i],
               dlerror());
      return;
    }
  }
  /* Each function from whichever library defines it (dlsym also searches a
   * library's dependencies, so the lookup order does not matter). */
#define OA_AV_LOOKUP(f)                                                                        \
  for (int i = 2; i >= 0 && !table.f; i--) *(void **)&table.f = dlsym(lib[i], #f);            \
  if (!table.f) {                                                                              \
    snprintf(load_error, sizeof load_error, "FFmpeg's libraries lack %s (another version?)", #f); \
    return;                                                                                    \
  }
  OA_AV_FUNCTIONS(OA_AV_LOOKUP)
#undef OA_AV_LOOKUP
}

int oa_avlib_load(oa_err *err) {
  pthread_once(&once, load);
  return load_error[0] ? oa_err_set(err, OA_EFORMAT, "%s", load_error) : OA_OK;
}

const oa_avlib *oa_avlib_get(void) { return &table; }
