#include "opusarc/watchdog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct oa_watchdog {
  pthread_t thread;
  pthread_mutex_t lock;
  pthread_cond_t changed;
  oa_logger log;
  int armed, stop;
  struct timespec deadline; /* CLOCK_MONOTONIC */
  char message[1024];
};

static int passed(const struct timespec *deadline) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return now.tv_sec > deadline->tv_sec || (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

static void *watch(void *arg) {
  oa_watchdog *wd = arg;
  pthread_mutex_lock(&wd->lock);
  while (!wd->stop) {
    if (!wd->armed) pthread_cond_wait(&wd->changed, &wd->lock);
    else if (!passed(&wd->deadline)) pthread_cond_timedwait(&wd->changed, &wd->lock, &wd->deadline);
    else {
      if (wd->message[0]) oa_log_write(&wd->log, OA_LOG_ERROR, "%s", wd->message);
      _exit(1); /* the main thread is stuck inside the library: nothing else can end it */
    }
  }
  pthread_mutex_unlock(&wd->lock);
  return NULL;
}

void oa_watchdog_start(const oa_logger *log, oa_watchdog **out) {
  *out = NULL;
  oa_watchdog *wd = calloc(1, sizeof *wd);
  if (!wd) return;
  wd->log = *log;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_mutex_init(&wd->lock, NULL);
  pthread_cond_init(&wd->changed, &attr);
  pthread_condattr_destroy(&attr);
  if (pthread_create(&wd->thread, NULL, watch, wd) != 0) {
    pthread_cond_destroy(&wd->changed);
    pthread_mutex_destroy(&wd->lock);
    free(wd);
    return;
  }
  *out = wd;
}

void oa_watchdog_arm(oa_watchdog *wd, double seconds, const char *message) {
  if (!wd || seconds <= 0) return;
  pthread_mutex_lock(&wd->lock);
  clock_gettime(CLOCK_MONOTONIC, &wd->deadline);
  double whole = (double)(time_t)seconds;
  wd->deadline.tv_sec += (time_t)seconds;
  wd->deadline.tv_nsec += (long)((seconds - whole) * 1e9);
  if (wd->deadline.tv_nsec >= 1000000000L) wd->deadline.tv_sec++, wd->deadline.tv_nsec -= 1000000000L;
  snprintf(wd->message, sizeof wd->message, "%s", message);
  wd->armed = 1;
  pthread_cond_signal(&wd->changed);
  pthread_mutex_unlock(&wd->lock);
}

void oa_watchdog_disarm(oa_watchdog *wd) {
  if (!wd) return;
  pthread_mutex_lock(&wd->lock);
  wd->armed = 0;
  pthread_cond_signal(&wd->changed);
  pthread_mutex_unlock(&wd->lock);
}

void oa_watchdog_stop(oa_watchdog *wd) {
  if (!wd) return;
  pthread_mutex_lock(&wd->lock);
  wd->stop = 1;
  pthread_cond_signal(&wd->changed);
  pthread_mutex_unlock(&wd->lock);
  pthread_join(wd->thread, NULL);
  pthread_cond_destroy(&wd->changed);
  pthread_mutex_destroy(&wd->lock);
  free(wd);
}
