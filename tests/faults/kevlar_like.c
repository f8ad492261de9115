/* Another bench binary that speaks the protocol the way Kevlar's does:
 * `BENCH_START kevlar`, no BENCH_PLAN or BENCH_ROUND, a BENCH_SKIP and an
 * extra.  Used to show `--binary` works with a project's own bench program. */
#include <stdio.h>
#include <sys/reboot.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    puts("");
    puts("BENCH_START kevlar");
    puts("BENCH_MODE quick");
    const long iters = 20000;
    long long t0 = now_ns();
    for (long i = 0; i < iters; i++) getppid();
    long long total = now_ns() - t0;
    printf("BENCH getpid %ld %lld %lld\n", iters, total, total / iters);
    printf("BENCH_EXTRA pipe_throughput_MBps %.1f\n", 1234.5);
    puts("BENCH_SKIP fork_exit (not implemented in this kernel)");
    puts("BENCH_END");
    fflush(stdout);
    if (getpid() == 1) {
        sync();
        reboot(RB_POWER_OFF);
    }
    return 0;
}
