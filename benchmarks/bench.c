/*
 * bench.c - kernel/syscall micro-benchmark suite for ci_tools.
 *
 * Build (static, so it can be dropped into an initramfs as /init):
 *
 *     musl-gcc -static -O2 -Wall -Wextra -Werror -o bench bench.c
 *
 * Usage:
 *
 *     bench [--quick] [--rounds N] [NAME ...]
 *
 * The program runs either as an ordinary process on the host or as PID 1
 * inside a guest's initramfs.  As PID 1 it mounts the pseudo filesystems it
 * needs, takes its arguments from the kernel command line (everything after
 * "--"), and powers the machine off when it is done - on success and on every
 * error path - because init must never exit.
 *
 * Output protocol (stdout, one line per write(2)):
 *
 *     BENCH_START ci_tools
 *     BENCH_MODE quick|full
 *     BENCH_PLAN <rounds> <n_benchmarks> <name1,name2,...>
 *     BENCH_ROUND <k>
 *     BENCH <name> <iters> <total_ns> <per_iter_ns>
 *     BENCH_EXTRA pipe_throughput_MBps <value>
 *     BENCH_SKIP <name> (<what> failed at iter <N>: <reason>)
 *     BENCH_END
 *
 * Argument errors print "BENCH_ERROR <message>" instead (exit status 2).
 */
#define _GNU_SOURCE /* syscall(), MADV_NOHUGEPAGE */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>

#define EXIT_USAGE 2
#define MAX_ROUNDS 100000u
#define PIPE_CHUNK 4096
/*
 * mmap_fault maps memory in chunks of this many pages.  1 MiB keeps the
 * memory footprint small no matter how many pages are requested, and is
 * smaller than a 2 MiB huge page, so transparent huge pages can never turn
 * many 4 KiB faults into a single huge one.
 */
#define MMAP_CHUNK_PAGES 256
/*
 * Pages mapped, touched and unmapped at once before mmap_fault (untimed):
 * 16 MiB, several times what a CPU's free-page list holds on the small
 * guests ci_tools boots, so it leaves that list in a known state.
 */
#define MMAP_FLUSH_PAGES 4096

/* ------------------------------------------------------------------------ */
/* Output                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Format one line and write it to stdout with a single write(2), so lines
 * never interleave with kernel console messages or a forked child, and
 * nothing is lost in a stdio buffer when the machine powers off.
 */
__attribute__((format(printf, 1, 2)))
static void emit(const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len > sizeof(line) - 2)
        len = (int)sizeof(line) - 2; /* truncated: still end the line */
    line[len++] = '\n';

    const char *p = line;
    while (len > 0) {
        ssize_t n = write(STDOUT_FILENO, p, (size_t)len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report this */
        }
        p += n;
        len -= (int)n;
    }
}

/* Diagnostics that are not part of the protocol go to stderr. */
__attribute__((format(printf, 1, 2)))
static void warn(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof(line))
        len = (int)sizeof(line) - 1;
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)len);
    (void)ignored;
}

/* ------------------------------------------------------------------------ */
/* Benchmark plumbing                                                       */
/* ------------------------------------------------------------------------ */

/* Why a benchmark could not run; rendered into a BENCH_SKIP line. */
struct failure {
    const char *what;   /* the operation that failed, e.g. "fork" */
    uint64_t iter;      /* iteration at which it failed */
    int err;            /* errno value, or 0 if detail is set */
    const char *detail; /* used instead of strerror(err) when non-NULL */
};

/* Shared, read-only state prepared once before the benchmarks run. */
struct bench_ctx {
    long page_size;
    bool have_tmp_file;              /* tmp_file was created successfully */
    struct failure tmp_setup_error;  /* why it was not, otherwise */
    char tmp_dir[PATH_MAX];
    char tmp_file[PATH_MAX];
};

/* Run `iters` iterations; return 0, or -1 after filling in *fail. */
typedef int (*bench_fn)(const struct bench_ctx *ctx, uint64_t iters,
                        struct failure *fail);

struct bench_def {
    const char *name;
    uint64_t iters_full;
    uint64_t iters_quick;
    bench_fn fn;
    bool needs_tmp_file;     /* uses ctx->tmp_file */
    uint64_t bytes_per_iter; /* nonzero: also report throughput */
    const char *extra_name;  /* BENCH_EXTRA key for that throughput */
    /* Untimed, before the warm-up: puts the kernel in a known state; may be NULL. */
    int (*prepare)(const struct bench_ctx *ctx, struct failure *fail);
};

static int set_failure(struct failure *fail, const char *what, uint64_t iter,
                       int err)
{
    fail->what = what;
    fail->iter = iter;
    fail->err = err;
    fail->detail = NULL;
    return -1;
}

static int set_failure_detail(struct failure *fail, const char *what,
                              uint64_t iter, const char *detail)
{
    set_failure(fail, what, iter, 0);
    fail->detail = detail;
    return -1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Written to so that the compiler must keep results it would otherwise drop. */
static volatile long sink;

/* ------------------------------------------------------------------------ */
/* The benchmarks                                                           */
/* ------------------------------------------------------------------------ */

/* Cheapest possible syscall: measures pure kernel entry/exit cost. */
static int bench_getpid(const struct bench_ctx *ctx, uint64_t iters,
                        struct failure *fail)
{
    (void)ctx;
    (void)fail;
    for (uint64_t i = 0; i < iters; i++)
        sink = syscall(SYS_getpid); /* raw syscall: never cached by libc */
    return 0;
}

/* read() of 1 byte from /dev/null: always returns 0 (EOF). */
static int bench_read_null(const struct bench_ctx *ctx, uint64_t iters,
                           struct failure *fail)
{
    char buf[1];
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    (void)ctx;
    if (fd < 0)
        return set_failure(fail, "open /dev/null", 0, errno);
    for (uint64_t i = 0; i < iters; i++) {
        long n = syscall(SYS_read, fd, buf, sizeof(buf));
        if (n != 0) {
            int err = errno;
            close(fd);
            if (n < 0)
                return set_failure(fail, "read", i, err);
            return set_failure_detail(fail, "read", i, "unexpected data");
        }
    }
    close(fd);
    return 0;
}

/* write() of 1 byte to /dev/null: always succeeds, data is discarded. */
static int bench_write_null(const struct bench_ctx *ctx, uint64_t iters,
                            struct failure *fail)
{
    const char buf[1] = { 'x' };
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);

    (void)ctx;
    if (fd < 0)
        return set_failure(fail, "open /dev/null", 0, errno);
    for (uint64_t i = 0; i < iters; i++) {
        long n = syscall(SYS_write, fd, buf, sizeof(buf));
        if (n != 1) {
            int err = errno;
            close(fd);
            if (n < 0)
                return set_failure(fail, "write", i, err);
            return set_failure_detail(fail, "write", i, "short write");
        }
    }
    close(fd);
    return 0;
}

/*
 * One iteration = one 4 KiB chunk written into a pipe and read back out by
 * the same process.  Doing both ends in one process (rather than across a
 * fork) measures the copy + pipe bookkeeping cost without adding scheduler
 * and context-switch noise, which would dominate on a single-vCPU guest.
 * The chunk never exceeds the pipe capacity, so neither call can block.
 */
static int bench_pipe(const struct bench_ctx *ctx, uint64_t iters,
                      struct failure *fail)
{
    static char wbuf[PIPE_CHUNK], rbuf[PIPE_CHUNK];
    int fds[2];
    int rc = 0;

    (void)ctx;
    if (pipe(fds) != 0)
        return set_failure(fail, "pipe", 0, errno);
    memset(wbuf, 0xa5, sizeof(wbuf));
    for (uint64_t i = 0; i < iters; i++) {
        long n = syscall(SYS_write, fds[1], wbuf, sizeof(wbuf));
        if (n != (long)sizeof(wbuf)) {
            rc = n < 0 ? set_failure(fail, "write", i, errno)
                       : set_failure_detail(fail, "write", i, "short write");
            break;
        }
        n = syscall(SYS_read, fds[0], rbuf, sizeof(rbuf));
        if (n != (long)sizeof(rbuf)) {
            rc = n < 0 ? set_failure(fail, "read", i, errno)
                       : set_failure_detail(fail, "read", i, "short read");
            break;
        }
    }
    sink = rbuf[PIPE_CHUNK - 1];
    close(fds[0]);
    close(fds[1]);
    return rc;
}

/* Process creation and teardown: fork, child _exit(0), parent waitpid. */
static int bench_fork_exit(const struct bench_ctx *ctx, uint64_t iters,
                           struct failure *fail)
{
    (void)ctx;
    for (uint64_t i = 0; i < iters; i++) {
        pid_t pid = fork();
        if (pid < 0)
            return set_failure(fail, "fork", i, errno);
        if (pid == 0)
            _exit(0);

        int status;
        pid_t r;
        do {
            r = waitpid(pid, &status, 0);
        } while (r < 0 && errno == EINTR);
        if (r < 0)
            return set_failure(fail, "waitpid", i, errno);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            return set_failure_detail(fail, "child exit", i,
                                      "unexpected exit status");
    }
    return 0;
}

/* Path lookup + file object setup/teardown on a tmpfs file. */
static int bench_open_close(const struct bench_ctx *ctx, uint64_t iters,
                            struct failure *fail)
{
    for (uint64_t i = 0; i < iters; i++) {
        int fd = open(ctx->tmp_file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return set_failure(fail, "open", i, errno);
        if (close(fd) != 0)
            return set_failure(fail, "close", i, errno);
    }
    return 0;
}

/*
 * Anonymous page faults.  One iteration = one page: map a chunk, write one
 * byte into every page (each write takes a fault that allocates and zeroes a
 * fresh page), unmap.  Reporting per page rather than per mmap call makes the
 * number independent of the chunk size and directly comparable to "cost of
 * a page fault"; the mmap/munmap overhead is amortised over the chunk.
 *
 * What the number depends on besides the fault path: where the pages come
 * from.  A chunk's pages are freed to the CPU's list of free pages (the
 * per-cpu pageset) and taken from it again by the next chunk; how full that
 * list is when the benchmark starts is whatever the benchmarks before it
 * (fork_exit, open_close) left behind, and it decides, chunk after chunk,
 * whether pages cycle through the list alone or also through the buddy
 * allocator (splitting on allocation, merging on free).  Under QEMU -icount
 * that made boots whose memory layout differs (ci_tools' padding argument)
 * settle in one of several modes for the whole run: 4176-4621 virtual ns,
 * 10.6 % apart, the allocation +5 % and the freeing +24 % in the slow mode.
 * mmap_fault_prepare therefore first maps and touches MMAP_FLUSH_PAGES
 * (more than the list ever holds, so it is emptied and refilled from the
 * buddy allocator) and unmaps them (so it is filled to its limit and the
 * rest freed): the list is then in the same state whatever ran before, and
 * every boot measures the same cycle: 10 boots of the whole suite that
 * spread 4179-4621 without it came out within 0.3 % with it.  The
 * preparation is untimed.
 */
static int mmap_fault_chunks(const struct bench_ctx *ctx, uint64_t iters,
                             size_t chunk_pages, struct failure *fail)
{
    const size_t pg = (size_t)ctx->page_size;
    uint64_t done = 0;

    while (done < iters) {
        uint64_t left = iters - done;
        size_t npages = left < chunk_pages ? (size_t)left : chunk_pages;
        size_t len = npages * pg;
        void *map = mmap(NULL, len, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (map == MAP_FAILED)
            return set_failure(fail, "mmap", done, errno);
        /* Belt and braces against THP; failure (no THP support) is fine. */
        (void)madvise(map, len, MADV_NOHUGEPAGE);

        volatile char *p = map;
        for (size_t i = 0; i < npages; i++)
            p[i * pg] = (char)i;

        if (munmap(map, len) != 0)
            return set_failure(fail, "munmap", done, errno);
        done += npages;
    }
    return 0;
}

static int bench_mmap_fault(const struct bench_ctx *ctx, uint64_t iters,
                            struct failure *fail)
{
    return mmap_fault_chunks(ctx, iters, MMAP_CHUNK_PAGES, fail);
}

static int mmap_fault_prepare(const struct bench_ctx *ctx,
                              struct failure *fail)
{
    return mmap_fault_chunks(ctx, MMAP_FLUSH_PAGES, MMAP_FLUSH_PAGES, fail);
}

/* Path lookup + attribute copy-out on a tmpfs file. */
static int bench_stat(const struct bench_ctx *ctx, uint64_t iters,
                      struct failure *fail)
{
    struct stat st;

    for (uint64_t i = 0; i < iters; i++) {
        if (stat(ctx->tmp_file, &st) != 0)
            return set_failure(fail, "stat", i, errno);
        sink = (long)st.st_ino;
    }
    return 0;
}

/*
 * The suite, in canonical order.  Quick counts are sized for full-system
 * emulation (QEMU TCG), where a syscall costs roughly 100x more than on
 * hardware; they keep every benchmark at >= ~50 ms of guest time so timer
 * resolution is irrelevant, while the whole quick suite stays at a few
 * seconds.  Full counts are meant for hardware / KVM.
 */
static const struct bench_def BENCHES[] = {
    { "getpid",     10000000, 1000000, bench_getpid,     false, 0, NULL, NULL },
    { "read_null",   5000000,  500000, bench_read_null,  false, 0, NULL, NULL },
    { "write_null",  5000000,  500000, bench_write_null, false, 0, NULL, NULL },
    { "pipe",         800000,   80000, bench_pipe,       false, PIPE_CHUNK,
      "pipe_throughput_MBps", NULL },
    { "fork_exit",     10000,    1000, bench_fork_exit,  false, 0, NULL, NULL },
    { "open_close",   500000,   50000, bench_open_close, true,  0, NULL, NULL },
    { "mmap_fault",   600000,   60000, bench_mmap_fault, false, 0, NULL,
      mmap_fault_prepare },
    { "stat",        1000000,  100000, bench_stat,       true,  0, NULL, NULL },
};

#define N_BENCHES (sizeof(BENCHES) / sizeof(BENCHES[0]))

/* ------------------------------------------------------------------------ */
/* Suite runner                                                             */
/* ------------------------------------------------------------------------ */

static void emit_skip(const char *name, const char *prefix,
                      const struct failure *f)
{
    emit("BENCH_SKIP %s (%s%s failed at iter %llu: %s)", name, prefix,
         f->what, (unsigned long long)f->iter,
         f->detail ? f->detail : strerror(f->err));
}

static void run_one(const struct bench_def *b, const struct bench_ctx *ctx,
                    bool quick)
{
    const uint64_t iters = quick ? b->iters_quick : b->iters_full;
    struct failure fail = { 0 };

    if (b->needs_tmp_file && !ctx->have_tmp_file) {
        emit_skip(b->name, "", &ctx->tmp_setup_error);
        return;
    }

    if (b->prepare != NULL && b->prepare(ctx, &fail) != 0) {
        emit_skip(b->name, "preparation ", &fail);
        return;
    }

    /* Warm-up: fault in code, data and page tables, settle caches/cpufreq. */
    uint64_t warm = iters / 10 ? iters / 10 : 1;
    if (b->fn(ctx, warm, &fail) != 0) {
        emit_skip(b->name, "warm-up ", &fail);
        return;
    }

    uint64_t t0 = now_ns();
    int rc = b->fn(ctx, iters, &fail);
    uint64_t t1 = now_ns();
    if (rc != 0) {
        emit_skip(b->name, "", &fail);
        return;
    }

    uint64_t total = t1 - t0;
    emit("BENCH %s %llu %llu %llu", b->name, (unsigned long long)iters,
         (unsigned long long)total, (unsigned long long)(total / iters));
    if (b->bytes_per_iter && total > 0) {
        /* bytes per ns * 1000 = MB/s, with MB = 10^6 bytes */
        double mbps = (double)b->bytes_per_iter * (double)iters * 1000.0
                      / (double)total;
        emit("BENCH_EXTRA %s %.1f", b->extra_name, mbps);
    }
}

/*
 * Create an empty file in a fresh directory on a tmpfs for open_close and
 * stat.  As PID 1 that is /tmp (mounted as tmpfs by pid1_setup); on the host
 * /dev/shm is a tmpfs on practically every distribution, /tmp is a fallback.
 */
static void tmp_file_setup(struct bench_ctx *ctx, bool pid1)
{
    static const char *const host_bases[] = { "/dev/shm", "/tmp" };
    static const char *const pid1_bases[] = { "/tmp" };
    const char *const *bases = pid1 ? pid1_bases : host_bases;
    size_t n_bases = pid1 ? 1 : 2;
    int err = ENOENT;

    for (size_t i = 0; i < n_bases; i++) {
        snprintf(ctx->tmp_dir, sizeof(ctx->tmp_dir),
                 "%s/ci_tools_bench.XXXXXX", bases[i]);
        if (mkdtemp(ctx->tmp_dir) != NULL)
            break;
        err = errno;
        ctx->tmp_dir[0] = '\0';
    }
    if (ctx->tmp_dir[0] == '\0') {
        set_failure(&ctx->tmp_setup_error, "setup mkdtemp", 0, err);
        return;
    }

    snprintf(ctx->tmp_file, sizeof(ctx->tmp_file), "%s/file", ctx->tmp_dir);
    int fd = open(ctx->tmp_file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                  0600);
    if (fd < 0) {
        set_failure(&ctx->tmp_setup_error, "setup open", 0, errno);
        rmdir(ctx->tmp_dir);
        ctx->tmp_dir[0] = '\0';
        return;
    }
    close(fd);
    ctx->have_tmp_file = true;
}

static void tmp_file_cleanup(struct bench_ctx *ctx)
{
    if (ctx->have_tmp_file)
        unlink(ctx->tmp_file);
    if (ctx->tmp_dir[0] != '\0')
        rmdir(ctx->tmp_dir);
    ctx->have_tmp_file = false;
    ctx->tmp_dir[0] = '\0';
}

/* ------------------------------------------------------------------------ */
/* Command line                                                             */
/* ------------------------------------------------------------------------ */

struct options {
    bool quick;
    bool help;
    unsigned rounds;
    bool selected[N_BENCHES]; /* all false: run everything */
};

static void print_usage(void)
{
    emit("usage: bench [--quick] [--rounds N] [NAME ...]");
    emit("  --quick     small iteration counts (for emulated guests)");
    emit("  --rounds N  run the selected benchmarks N times (default 1)");
    emit("  --help      show this help");
    emit("  NAME        run only these benchmarks (canonical order kept):");
    for (size_t i = 0; i < N_BENCHES; i++)
        emit("                %s", BENCHES[i].name);
    emit("As PID 1, arguments come from the kernel command line after \"--\".");
}

static bool parse_rounds(const char *s, unsigned *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return false;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > MAX_ROUNDS)
        return false;
    *out = (unsigned)v;
    return true;
}

/* Return 0 on success, or EXIT_USAGE after printing a BENCH_ERROR line. */
static int parse_args(int argc, char **argv, struct options *opt)
{
    bool only_names = false;

    memset(opt, 0, sizeof(*opt));
    opt->rounds = 1;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (!only_names && arg[0] == '-') {
            if (strcmp(arg, "--") == 0) {
                only_names = true;
            } else if (strcmp(arg, "--quick") == 0) {
                opt->quick = true;
            } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
                opt->help = true;
            } else if (strcmp(arg, "--rounds") == 0) {
                const char *val = i + 1 < argc ? argv[++i] : NULL;
                if (!parse_rounds(val, &opt->rounds)) {
                    emit("BENCH_ERROR invalid --rounds value '%s' "
                         "(expected an integer 1..%u)",
                         val ? val : "", MAX_ROUNDS);
                    return EXIT_USAGE;
                }
            } else if (strncmp(arg, "--rounds=", 9) == 0) {
                if (!parse_rounds(arg + 9, &opt->rounds)) {
                    emit("BENCH_ERROR invalid --rounds value '%s' "
                         "(expected an integer 1..%u)", arg + 9, MAX_ROUNDS);
                    return EXIT_USAGE;
                }
            } else {
                emit("BENCH_ERROR unknown option %s", arg);
                return EXIT_USAGE;
            }
            continue;
        }

        size_t b;
        for (b = 0; b < N_BENCHES; b++)
            if (strcmp(arg, BENCHES[b].name) == 0)
                break;
        if (b == N_BENCHES) {
            emit("BENCH_ERROR unknown benchmark %s", arg);
            return EXIT_USAGE;
        }
        opt->selected[b] = true;
    }

    /* No names given: select the whole suite. */
    bool any = false;
    for (size_t b = 0; b < N_BENCHES; b++)
        any = any || opt->selected[b];
    if (!any)
        for (size_t b = 0; b < N_BENCHES; b++)
            opt->selected[b] = true;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* PID 1 support                                                            */
/* ------------------------------------------------------------------------ */

/* mkdir -p; errors are reported by whatever later uses the directory. */
static void mkdir_p(const char *path, mode_t mode)
{
    char buf[PATH_MAX];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(buf, mode);
        *p = '/';
    }
    mkdir(buf, mode);
}

static void mount_fs(const char *src, const char *target, const char *type,
                     unsigned long flags, const char *data)
{
    mkdir_p(target, 0755);
    if (mount(src, target, type, flags, data) != 0 && errno != EBUSY)
        warn("bench: warning: mounting %s on %s failed: %s\n", type, target,
             strerror(errno));
}

static void make_char_dev(const char *path, mode_t mode, unsigned maj,
                          unsigned min)
{
    if (mknod(path, S_IFCHR | mode, makedev(maj, min)) != 0 &&
        errno != EEXIST)
        warn("bench: warning: mknod %s failed: %s\n", path, strerror(errno));
}

/* Point any closed fd among 0-2 at /dev/console. */
static void ensure_std_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
            continue;
        int c = open("/dev/console", O_RDWR | O_NOCTTY);
        if (c < 0)
            return;
        if (c != fd) {
            dup2(c, fd);
            close(c);
        }
    }
}

static void pid1_setup(void)
{
    /* The kernel normally opens /dev/console for init; make sure. */
    ensure_std_fds();

    mount_fs("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
    mount_fs("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);

    mkdir_p("/dev", 0755);
    if (mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755") != 0 &&
        errno != EBUSY) {
        warn("bench: warning: mounting devtmpfs on /dev failed: %s; "
             "creating device nodes\n", strerror(errno));
        make_char_dev("/dev/null", 0666, 1, 3);
        make_char_dev("/dev/console", 0600, 5, 1);
    }
    ensure_std_fds();

    mount_fs("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");

    /*
     * On a serial console the firmware leaves the cursor mid-line (SeaBIOS
     * ends with "Booting from ROM..." plus a terminal reset sequence and no
     * newline); start on a fresh line so our first protocol line (BENCH_START
     * or BENCH_ERROR) begins at column 0.
     */
    emit("%s", "");
}

/*
 * Leave the program.  As PID 1 that means powering the machine off: init
 * must never exit, or the kernel panics.
 */
__attribute__((noreturn))
static void finish(bool pid1, int status)
{
    if (!pid1)
        exit(status);

    sync();
    reboot(RB_POWER_OFF);
    /*
     * Still here: power-off is not possible.  Exiting makes the kernel
     * panic; with panic=N on the command line (and QEMU's -no-reboot) the
     * VM then terminates instead of hanging until an outer timeout.
     */
    warn("bench: reboot(RB_POWER_OFF) failed: %s\n", strerror(errno));
    _exit(status ? status : 1);
}

/* ------------------------------------------------------------------------ */

/*
 * A fixed address space.  With randomisation on, where the kernel places the
 * stack, the heap and the mappings changes from boot to boot, seeded by the
 * time the guest started rather than by anything the run controls; fork_exit
 * copies page tables whose number depends on that placement.  Under -icount,
 * 11 of 120 boots of the Linux guest fell into a mode 5-6 % slower, and one
 * and the same boot run twice landed in either mode.  Without randomisation
 * fork_exit spreads 0.2 % across 16 boots (mmap_fault 0.0 %).  So the bench,
 * first thing, runs itself again with ADDR_NO_RANDOMIZE (once: the new image
 * finds it set).  Where that is refused, it measures as it is.
 */
static void fixed_address_space(char **argv, bool pid1)
{
    int current = personality(0xffffffff);
    if (current < 0 || (current & ADDR_NO_RANDOMIZE))
        return;
    if (personality((unsigned long)current | ADDR_NO_RANDOMIZE) < 0)
        return;
    /* As PID 1 /proc is not mounted yet; argv[0] is the initramfs' /init. */
    execv(pid1 ? argv[0] : "/proc/self/exe", argv);
    personality((unsigned long)current);
}

int main(int argc, char **argv)
{
    const bool pid1 = getpid() == 1;
    struct options opt;

    fixed_address_space(argv, pid1);
    if (pid1)
        pid1_setup();

    int rc = parse_args(argc, argv, &opt);
    if (rc != 0)
        finish(pid1, rc);
    if (opt.help) {
        print_usage();
        finish(pid1, 0);
    }

    struct bench_ctx ctx = { 0 };
    ctx.page_size = sysconf(_SC_PAGESIZE);
    if (ctx.page_size <= 0)
        ctx.page_size = 4096;

    size_t n_selected = 0;
    bool need_tmp = false;
    char plan[256] = "";
    for (size_t b = 0; b < N_BENCHES; b++) {
        if (!opt.selected[b])
            continue;
        size_t used = strlen(plan);
        snprintf(plan + used, sizeof(plan) - used, "%s%s",
                 n_selected ? "," : "", BENCHES[b].name);
        n_selected++;
        need_tmp = need_tmp || BENCHES[b].needs_tmp_file;
    }
    if (need_tmp)
        tmp_file_setup(&ctx, pid1);

    emit("BENCH_START ci_tools");
    emit("BENCH_MODE %s", opt.quick ? "quick" : "full");
    emit("BENCH_PLAN %u %zu %s", opt.rounds, n_selected, plan);
    for (unsigned r = 1; r <= opt.rounds; r++) {
        emit("BENCH_ROUND %u", r);
        for (size_t b = 0; b < N_BENCHES; b++)
            if (opt.selected[b])
                run_one(&BENCHES[b], &ctx, opt.quick);
    }
    tmp_file_cleanup(&ctx);
    emit("BENCH_END");

    finish(pid1, 0);
}
