/* A preload that steps a process's wall clock as an NTP step would, and nothing else.
 *
 * Built by test_chaos_clock.py into its workdir (gcc -shared -fPIC) and put in the engine's
 * LD_PRELOAD. The offset is read from the file named by WALLCLOCK_STEP_FILE ("+1h", "-1h",
 * "+0", "-90s", "+5m", "+1d"), re-read at most every WALLCLOCK_STEP_CACHE_S seconds (1 by
 * default) of real monotonic time, so the test steps the clock by rewriting the file.
 *
 * Invariants: only reads of the wall clock (CLOCK_REALTIME and its coarse and TAI forms,
 * gettimeofday, time, timespec_get) are shifted; CLOCK_MONOTONIC/BOOTTIME reads, relative
 * sleeps, monotonic deadlines, poll/epoll/select timeouts, condition variables and
 * semaphores all go to glibc/the kernel untouched, as a real step leaves them. An absolute
 * CLOCK_REALTIME clock_nanosleep is translated back to the true clock (the kernel honours a
 * step for those). Other absolute wall-clock waits (pthread_cond_timedwait on a
 * CLOCK_REALTIME condvar, sem_timedwait) are not translated: CPython 3.11 on glibc >= 2.30
 * uses none of them (its locks wait with sem_clockwait on CLOCK_MONOTONIC, its GIL on a
 * CLOCK_MONOTONIC condvar, time.sleep with clock_nanosleep on CLOCK_MONOTONIC). An
 * unreadable or malformed file keeps the last offset.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NS 1000000000LL

typedef int (*gettime_fn)(clockid_t, struct timespec *);
typedef int (*sleep_fn)(clockid_t, int, const struct timespec *, struct timespec *);

static gettime_fn real_gettime;
static sleep_fn real_sleep;
static const char *step_file;
static long long cache_ns = NS;
static long long offset_ns;     /* atomic */
static long long next_read_ns;  /* atomic, on the real monotonic clock */
static int reading;             /* atomic flag: one thread re-reads the file at a time */

static int true_time(clockid_t clock, struct timespec *ts) {
    if (real_gettime != NULL) return real_gettime(clock, ts);
    return (int)syscall(SYS_clock_gettime, clock, ts);
}

__attribute__((constructor)) static void wallclock_step_init(void) {
    real_gettime = (gettime_fn)dlsym(RTLD_NEXT, "clock_gettime");
    real_sleep = (sleep_fn)dlsym(RTLD_NEXT, "clock_nanosleep");
    step_file = getenv("WALLCLOCK_STEP_FILE");
    const char *cache = getenv("WALLCLOCK_STEP_CACHE_S");
    if (cache != NULL && atoll(cache) > 0) cache_ns = atoll(cache) * NS;
}

/* "+1h" -> 3600 s in ns; returns 0 on success, -1 if malformed. */
static int parse_offset(const char *text, long long *out) {
    const char *p = text;
    while (*p == ' ' || *p == '\t') p++;
    long long sign = 1;
    if (*p == '+' || *p == '-') sign = (*p++ == '-') ? -1 : 1;
    if (*p < '0' || *p > '9') return -1;
    long long value = 0;
    while (*p >= '0' && *p <= '9') value = value * 10 + (*p++ - '0');
    long long unit = 1;
    switch (*p) {
        case 'd': unit = 86400; p++; break;
        case 'h': unit = 3600; p++; break;
        case 'm': unit = 60; p++; break;
        case 's': p++; break;
        default: break;
    }
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p != '\0') return -1;
    *out = sign * value * unit * NS;
    return 0;
}

static void refresh_offset(void) {
    if (step_file == NULL) return;
    struct timespec now;
    if (true_time(CLOCK_MONOTONIC, &now) != 0) return;
    long long now_ns = now.tv_sec * NS + now.tv_nsec;
    if (now_ns < __atomic_load_n(&next_read_ns, __ATOMIC_ACQUIRE)) return;
    if (__atomic_exchange_n(&reading, 1, __ATOMIC_ACQ_REL)) return;
    char text[64];
    ssize_t got = -1;
    int fd = (int)syscall(SYS_openat, AT_FDCWD, step_file, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        got = read(fd, text, sizeof text - 1);
        close(fd);
    }
    long long parsed;
    if (got > 0) {
        text[got] = '\0';
        if (parse_offset(text, &parsed) == 0) __atomic_store_n(&offset_ns, parsed, __ATOMIC_RELEASE);
    }
    __atomic_store_n(&next_read_ns, now_ns + cache_ns, __ATOMIC_RELEASE);
    __atomic_store_n(&reading, 0, __ATOMIC_RELEASE);
}

static int is_wall(clockid_t clock) {
    return clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI;
}

static void shift(struct timespec *ts, long long by_ns) {
    long long ns = ts->tv_sec * NS + ts->tv_nsec + by_ns;
    ts->tv_sec = ns / NS;
    ts->tv_nsec = ns % NS;
    if (ts->tv_nsec < 0) {
        ts->tv_nsec += NS;
        ts->tv_sec -= 1;
    }
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    int rc = true_time(clock, ts);
    if (rc == 0 && is_wall(clock)) {
        refresh_offset();
        shift(ts, __atomic_load_n(&offset_ns, __ATOMIC_ACQUIRE));
    }
    return rc;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz) {
    (void)tz;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return (time_t)-1;
    if (out != NULL) *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base) {
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0) return 0;
    return base;
}

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *req, struct timespec *rem) {
    struct timespec deadline = *req;
    if ((flags & TIMER_ABSTIME) && is_wall(clock)) {
        refresh_offset();
        shift(&deadline, -__atomic_load_n(&offset_ns, __ATOMIC_ACQUIRE));
    }
    if (real_sleep != NULL) return real_sleep(clock, flags, &deadline, rem);
    /* Called before the constructor ran: the kernel directly (glibc returns the error). */
    int saved = errno;
    long rc = syscall(SYS_clock_nanosleep, clock, flags, &deadline, rem);
    int error = rc == 0 ? 0 : errno;
    errno = saved;
    return error;
}
