/* SIGTERM and SIGINT as a request to stop at the next safe point.
 *
 * Slurm sends SIGTERM at a job's time limit (KillWait seconds, 30 by
 * default, before SIGKILL) and on scancel; mpirun forwards it to the ranks.
 * Dying at once would leave temporary files and no word in the log; so the
 * handler only records the signal, and long loops (index rounds, sweep
 * units) look at oa_stop_requested() between items, finish what is safe and
 * say what was kept. The flag is the one piece of process-wide mutable
 * state in the library: a signal handler can reach nothing else. */
#ifndef OPUSARC_STOP_H
#define OPUSARC_STOP_H

/* Installs the handlers (idempotent). A second signal of the same kind
 * ends the process at once, as without opusarc. */
void oa_stop_install(void);
/* 0, or the number of the signal received. */
int oa_stop_requested(void);
/* "SIGTERM", "SIGINT" or "signal N". */
const char *oa_stop_name(int sig);

#endif
