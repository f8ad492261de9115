/* A misbehaving /init for the harness's fault-injection tests.
 *
 * The behaviour comes from `fault=<mode>` on the kernel command line (the
 * kernel hands unknown name=value parameters to init's environment), or from
 * the first argument:
 *   exit      return at once: the kernel panics ("Attempted to kill init!")
 *   hang      print one line, then sleep forever without output
 *   half      print half the BENCH protocol, then power off
 *   garbage   print bytes that are not the protocol, then power off
 *   reset     print half the protocol, then reset the machine (reboot(RB_AUTOBOOT))
 *   slow      print the full protocol slowly (one line a second), then power off
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

static void power_off(void) {
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

static void half(void) {
    puts("BENCH_START ci_tools");
    puts("BENCH_MODE quick");
    puts("BENCH_PLAN 1 3 getpid,read_null,write_null");
    puts("BENCH_ROUND 1");
    puts("BENCH getpid 1000 345000 345");
    fflush(stdout);
}

int main(int argc, char **argv) {
    const char *mode = getenv("fault");
    if (mode == NULL) mode = argc > 1 ? argv[1] : "exit";
    setvbuf(stdout, NULL, _IOLBF, 0);
    puts("");
    if (strcmp(mode, "exit") == 0) {
        puts("fault_init: exiting as PID 1");
        return 0;
    }
    if (strcmp(mode, "hang") == 0) {
        puts("fault_init: hanging without output");
        for (;;) pause();
    }
    if (strcmp(mode, "half") == 0) {
        half();
        power_off();
    }
    if (strcmp(mode, "reset") == 0) {
        half();
        sync();
        reboot(RB_AUTOBOOT);
        for (;;) pause();
    }
    if (strcmp(mode, "garbage") == 0) {
        puts("\x01\x02 this is not the bench protocol \xff\xfe");
        puts("BENCH getpid lots of time");
        power_off();
    }
    if (strcmp(mode, "slow") == 0) {
        const char *lines[] = {"BENCH_START ci_tools", "BENCH_PLAN 1 1 getpid", "BENCH_ROUND 1",
                               "BENCH getpid 1000 345000 345", "BENCH_END"};
        for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
            puts(lines[i]);
            sleep(1);
        }
        power_off();
    }
    printf("fault_init: unknown mode %s\n", mode);
    power_off();
}
