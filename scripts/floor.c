/* The floor for scripts/bench.sh: what starting the default bundle's /bin/true costs the
 * kernel, in bare system calls and nothing else. Per container:
 *   mkdir the cgroup (on v1 in every hierarchy given, cpuset's cpus/mems copied),
 *   clone3 with the default spec's namespaces (pid, net, ipc, uts, mount, cgroup) into it
 *   (v2: CLONE_INTO_CGROUP; v1: the child writes itself into each hierarchy's tasks file,
 *   which the parent opened, as corral does), in the child: / recursive slave, bind the
 *   rootfs, mount proc,
 *   pivot_root(".", "."), detach the old root, exec /bin/true; the parent waits and
 *   removes the cgroup(s).
 *
 * Usage: floor N ROOTFS v2|v1 CGROUP_DIR...   (CGROUP_DIRs: where to make the cgroups,
 * one per hierarchy; v2 takes exactly one). Prints the mean ms per container: wall clock
 * and CPU (its own and the containers').
 *
 * The bench times the runtimes with the same loop, so that no shell sits in the figures:
 *        floor spawn N CMD ARG...   runs CMD N times, one after the other (stdin and stdout
 * /dev/null), each "{}" in an ARG replaced by the run's index; fails on the first non-zero
 * exit; prints the mean ms per run, wall clock and CPU (user + system, of the runs and
 * every process they waited for: on a loaded machine the steadier of the two). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS (CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

static void die(const char *what) {
  perror(what);
  exit(1);
}

static void copy_file(const char *from, const char *to) {
  char buf[256];
  int fd = open(from, O_RDONLY);
  if (fd < 0) die(from);
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  if (n <= 0) die(from);
  fd = open(to, O_WRONLY);
  if (fd < 0 || write(fd, buf, n) != n) die(to);
  close(fd);
}

static int child(const char *rootfs, const int *tasks, int ntasks) {
  /* v1: into each hierarchy, itself: a thread writing "0" to tasks skips the kernel's
   * global threadgroup lock, which a pid written to cgroup.procs by the parent takes (its
   * write side waits for an RCU grace period). */
  for (int d = 0; d < ntasks; d++)
    if (write(tasks[d], "0", 1) != 1) die("join cgroup");
  if (mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL)) die("slave /");
  if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL)) die("bind rootfs");
  if (chdir(rootfs)) die("chdir rootfs");
  if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) die("proc");
  if (syscall(SYS_pivot_root, ".", ".")) die("pivot_root");
  if (umount2(".", MNT_DETACH)) die("umount old root");
  if (chdir("/")) die("chdir /");
  char *argv[] = {"/bin/true", NULL}, *envp[] = {NULL};
  execve(argv[0], argv, envp);
  die("execve");
  return 1;
}

static double cpu_ms(const struct rusage *r) {
  return (r->ru_utime.tv_sec + r->ru_stime.tv_sec) * 1e3 +
         (r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e3;
}

/* A wall clock and CPU time, started, then printed per run. */
struct timer {
  struct timespec t0;
  double cpu0;
};

static double cpu_now(void) {
  struct rusage self, kids;
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &kids);
  return cpu_ms(&self) + cpu_ms(&kids);
}

static void timer_start(struct timer *t) {
  t->cpu0 = cpu_now();
  clock_gettime(CLOCK_MONOTONIC, &t->t0);
}

static void timer_print(const struct timer *t, int n) {
  struct timespec t1;
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = ((t1.tv_sec - t->t0.tv_sec) * 1e9 + (t1.tv_nsec - t->t0.tv_nsec)) / 1e6;
  printf("%.3f %.3f\n", ms / n, (cpu_now() - t->cpu0) / n);
}

static int spawn(int n, char **cmd) {
  int argc = 0;
  while (cmd[argc]) argc++;
  char **argv = calloc(argc + 1, sizeof *argv);
  char bufs[argc][512];
  struct timer t;
  timer_start(&t);
  for (int i = 0; i < n; i++) {
    for (int a = 0; a < argc; a++) {
      char *at = strstr(cmd[a], "{}");
      if (!at) {
        argv[a] = cmd[a];
        continue;
      }
      snprintf(bufs[a], sizeof bufs[a], "%.*s%d%s", (int)(at - cmd[a]), cmd[a], i, at + 2);
      argv[a] = bufs[a];
    }
    pid_t pid = vfork();
    if (pid < 0) die("vfork");
    if (pid == 0) {
      int fd = open("/dev/null", O_RDWR);
      dup2(fd, 0);
      dup2(fd, 1);
      execv(argv[0], argv);
      _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
      fprintf(stderr, "floor spawn: run %d of %s failed (status %#x)\n", i, argv[0], st);
      return 1;
    }
  }
  timer_print(&t, n);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 4 && !strcmp(argv[1], "spawn")) return spawn(atoi(argv[2]), argv + 3);
  if (argc < 5) {
    fprintf(stderr, "usage: floor N ROOTFS v2|v1 CGROUP_DIR...\n");
    return 2;
  }
  int n = atoi(argv[1]), v2 = !strcmp(argv[3], "v2"), ndirs = argc - 4;
  const char *rootfs = argv[2];
  char cg[16][4096];
  if (ndirs > 16 || (v2 && ndirs != 1)) die("cgroup dirs");
  struct timer t;
  timer_start(&t);
  for (int i = 0; i < n; i++) {
    for (int d = 0; d < ndirs; d++) {
      snprintf(cg[d], sizeof cg[d], "%s/floor-%d-%d", argv[4 + d], getpid(), i);
      if (mkdir(cg[d], 0755)) die(cg[d]);
      if (!v2 && strstr(argv[4 + d], "cpuset")) {
        char from[4200], to[4200];
        const char *f[] = {"cpuset.cpus", "cpuset.mems"};
        for (int k = 0; k < 2; k++) {
          snprintf(from, sizeof from, "%s/%s", argv[4 + d], f[k]);
          snprintf(to, sizeof to, "%s/%s", cg[d], f[k]);
          copy_file(from, to);
        }
      }
    }
    int cgfd = -1, tasks[16], ntasks = 0;
    struct clone_args ca = {.flags = NS, .exit_signal = SIGCHLD};
    if (v2) {
      cgfd = open(cg[0], O_DIRECTORY | O_RDONLY | O_CLOEXEC);
      if (cgfd < 0) die("open cgroup");
      ca.flags |= CLONE_INTO_CGROUP;
      ca.cgroup = cgfd;
    } else {
      char path[8200];
      for (int d = 0; d < ndirs; d++) {
        snprintf(path, sizeof path, "%.4095s/tasks", cg[d]);
        if ((tasks[ntasks++] = open(path, O_WRONLY | O_CLOEXEC)) < 0) die(path);
      }
    }
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid < 0) die("clone3");
    if (pid == 0) return child(rootfs, tasks, ntasks);
    if (v2) close(cgfd);
    for (int d = 0; d < ntasks; d++) close(tasks[d]);
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) die("container failed");
    for (int d = 0; d < ndirs; d++)
      while (rmdir(cg[d]))
        if (errno != EBUSY) die(cg[d]);
  }
  timer_print(&t, n);
  return 0;
}
