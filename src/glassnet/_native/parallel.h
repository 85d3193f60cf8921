/* Threads for glassnet's compiled kernels: one helper, used by every kernel
 * file that splits its work (direct.c, conv.c, elementwise.c, optim.c, lstm.c,
 * dense.c).
 *
 * gn_parallel(run, job, rows, threads) runs run(job, lo, hi, t) on `threads`
 * even parts of 0..rows: part 0 in the calling thread, the others on NumPy's
 * OpenBLAS's waiting threads, or on POSIX threads made for the call (tens of
 * microseconds each, so callers ask for more than one thread only when the
 * work pays for it; Python decides how many, glassnet.kernels._threads). A
 * thread that cannot be made runs its part in the caller, so the work is
 * always done. Parts are fixed by `rows`
 * and `threads` alone, so a kernel that sums per part and adds the parts in
 * order gives results that depend only on the thread count.
 */
#ifndef GLASSNET_PARALLEL_H
#define GLASSNET_PARALLEL_H

#include <pthread.h>

typedef struct {
    void (*run)(const void *job, gn_int lo, gn_int hi, int t);
    const void *job;
    gn_int lo, hi;
    int t;
} gn_part;

static void *gn_part_main(void *arg) {
    gn_part *p = (gn_part *)arg;
    p->run(p->job, p->lo, p->hi, p->t);
    return 0;
}

#define GN_MAX_THREADS 64

/* The even parts of 0..rows, one per thread. */
static void gn_split(gn_part *parts, void (*run)(const void *, gn_int, gn_int, int),
                     const void *job, gn_int rows, int threads) {
    for (int t = 0; t < threads; t++)
        parts[t] = (gn_part){run, job, rows * t / threads, rows * (t + 1) / threads, t};
}

/* The parts (2 <= threads <= rows): part 0 here, the others on threads made
 * for the call. A thread that cannot be made runs its part here too. */
static void gn_parallel_own(void (*run)(const void *, gn_int, gn_int, int), const void *job,
                            gn_int rows, int threads) {
    gn_part parts[GN_MAX_THREADS];
    pthread_t ids[GN_MAX_THREADS];
    int made[GN_MAX_THREADS];
    gn_split(parts, run, job, rows, threads);
    for (int t = 0; t < threads; t++)
        made[t] = t > 0 && pthread_create(&ids[t], 0, gn_part_main, &parts[t]) == 0;
    for (int t = 0; t < threads; t++)
        if (!made[t]) run(job, parts[t].lo, parts[t].hi, t);
    for (int t = 1; t < threads; t++)
        if (made[t]) pthread_join(ids[t], 0);
}

/* What every kernel calls. BLAS is held to one thread per call meanwhile (for
 * the whole process: parts may call BLAS, as the LSTM's and dense.c's do),
 * and the parts run on NumPy's OpenBLAS's own threads (gotoblas_pthread)
 * when it has as many as asked. After a product on several threads those
 * threads keep spinning, waiting for work, for some 50-100 ms (measured with
 * OpenBLAS 0.3.31): threads made here would share the cores with them (a
 * convolution after a Dense layer's product, W3, ran its second half on a
 * core a spinner held), while a part handed to one starts at once, without
 * the cost of making a thread. With fewer BLAS threads than asked, or
 * another BLAS that can be held to one thread or none at all,
 * gn_parallel_own's threads; with a BLAS that cannot be held to one thread,
 * one part (its own threads would compete with ours). */
static void gn_part_blas(void *arg) { gn_part_main(arg); }

/* One such call at a time per library (each kernel file is its own library,
 * with its own lock): another's putting BLAS's count back must not reach
 * parts still running (on BLAS's threads, a product of theirs on several
 * threads would wait for itself). Calls into two libraries from two Python
 * threads at once are not serialised by this. */
static pthread_mutex_t gn_blas_split_lock = PTHREAD_MUTEX_INITIALIZER;

static void gn_parallel(void (*run)(const void *, gn_int, gn_int, int), const void *job,
                        gn_int rows, int threads) {
    if (threads > GN_MAX_THREADS) threads = GN_MAX_THREADS;
    if (threads > rows) threads = (int)rows;
    if (threads <= 1) {
        run(job, 0, rows, 0);
        return;
    }
    pthread_mutex_lock(&gn_blas_split_lock);
    const int had = gn_blas_local_threads ? gn_blas_local_threads(1) : 0;
    if (had >= threads && gn_blas_pthread) {
        gn_part parts[GN_MAX_THREADS];
        gn_split(parts, run, job, rows, threads);
        gn_blas_pthread(threads, (void *)gn_part_blas, parts, (int)sizeof(gn_part));
    } else if (!gn_blas_sgemm || gn_blas_local_threads) {
        gn_parallel_own(run, job, rows, threads);
    } else { /* a BLAS that cannot be held to one thread: one part */
        run(job, 0, rows, 0);
    }
    if (had) gn_blas_local_threads(had);
    pthread_mutex_unlock(&gn_blas_split_lock);
}

#endif
