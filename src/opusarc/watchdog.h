/* A deadline for a step that can block forever inside a library: after an
 * I/O error on one rank, HDF5's ranks can wait for each other in different
 * collective calls (seen with a failing pwritev inside H5Fflush). When an
 * armed deadline passes, the watchdog's thread logs the message and ends the
 * process with exit code 1; mpirun then stops the job, and under srun every
 * rank stuck in the same step fires its own watchdog. */
#ifndef OPUSARC_WATCHDOG_H
#define OPUSARC_WATCHDOG_H

#include "opusarc/log.h"

typedef struct oa_watchdog oa_watchdog;

/* Starts the thread; *out is NULL (and nothing is watched) if it cannot. */
void oa_watchdog_start(const oa_logger *log, oa_watchdog **out);
/* The process ends `seconds` from now unless disarmed first, logging
 * `message` unless it is empty (wd NULL: no-op). */
void oa_watchdog_arm(oa_watchdog *wd, double seconds, const char *message);
void oa_watchdog_disarm(oa_watchdog *wd);
void oa_watchdog_stop(oa_watchdog *wd);

#endif
