/* probe: runs inside a container and prints what it sees, one key=value per
 * line.  Built statically by the test harness (tests/probe/build.sh).
 *
 *   probe caps | nnp | seccomp | personality | sched | rlimits | ids | umask
 *         | ioprio | affinity | mempolicy | dumpable | fds | mounts
 *   probe syscall NAME [ARG...]   named syscall, prints ret=N errno=E
 *   probe sysno NR [ARG...]       syscall by number, prints ret=N errno=E
 *   probe exit CODE               exit with CODE (after printing nothing)
 * Several commands may be chained: probe ids -- umask -- nnp
 * ARGs are parsed with strtoull(base 0): 0x.., 0.., decimal, or -1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const struct { const char *name; long nr; } SYSCALLS[] = {
	{"getpid", SYS_getpid}, {"getppid", SYS_getppid}, {"gettid", SYS_gettid},
	{"getuid", SYS_getuid}, {"personality", SYS_personality},
	{"getpgid", SYS_getpgid}, {"getsid", SYS_getsid},
	{"getpriority", SYS_getpriority}, {"umask", SYS_umask},
	{"chroot", SYS_chroot}, {"mount", SYS_mount}, {"umount2", SYS_umount2},
	{"unshare", SYS_unshare}, {"setns", SYS_setns}, {"sethostname", SYS_sethostname},
	{"ptrace", SYS_ptrace}, {"reboot", SYS_reboot}, {"socket", SYS_socket},
	{"mkdir", SYS_mkdir}, {"keyctl", SYS_keyctl}, {"bpf", SYS_bpf},
	{"clone3", SYS_clone3},
};

static int file_lines(const char *path, const char *const *keys, const char *rename[])
{
	char line[4096];
	FILE *f = fopen(path, "r");
	if (!f) {
		printf("error=%s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof line, f)) {
		for (int i = 0; keys[i]; i++) {
			size_t n = strlen(keys[i]);
			if (strncmp(line, keys[i], n) == 0 && line[n] == ':') {
				char *v = line + n + 1;
				v += strspn(v, " \t");
				printf("%s=%s", rename[i], v); /* v keeps its '\n' */
			}
		}
	}
	fclose(f);
	return 0;
}

static int cmd_caps(void)
{
	static const char *const k[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", NULL};
	static const char *r[] = {"inh", "prm", "eff", "bnd", "amb"};
	return file_lines("/proc/self/status", k, r);
}

static int cmd_seccomp(void)
{
	static const char *const k[] = {"Seccomp", "Seccomp_filters", "NoNewPrivs", NULL};
	static const char *r[] = {"seccomp", "filters", "nnp_status"};
	return file_lines("/proc/self/status", k, r);
}

static int cmd_rlimits(void)
{
	static const struct { const char *n; int r; } L[] = {
		{"cpu", RLIMIT_CPU}, {"fsize", RLIMIT_FSIZE}, {"data", RLIMIT_DATA},
		{"stack", RLIMIT_STACK}, {"core", RLIMIT_CORE}, {"rss", RLIMIT_RSS},
		{"nproc", RLIMIT_NPROC}, {"nofile", RLIMIT_NOFILE},
		{"memlock", RLIMIT_MEMLOCK}, {"as", RLIMIT_AS}, {"locks", RLIMIT_LOCKS},
		{"sigpending", RLIMIT_SIGPENDING}, {"msgqueue", RLIMIT_MSGQUEUE},
		{"nice", RLIMIT_NICE}, {"rtprio", RLIMIT_RTPRIO}, {"rttime", RLIMIT_RTTIME},
	};
	for (size_t i = 0; i < sizeof L / sizeof L[0]; i++) {
		struct rlimit rl;
		if (getrlimit(L[i].r, &rl) != 0)
			return 1;
		/* RLIM_INFINITY prints as "unlimited", like ulimit */
		if (rl.rlim_cur == RLIM_INFINITY) printf("%s.soft=unlimited\n", L[i].n);
		else printf("%s.soft=%llu\n", L[i].n, (unsigned long long)rl.rlim_cur);
		if (rl.rlim_max == RLIM_INFINITY) printf("%s.hard=unlimited\n", L[i].n);
		else printf("%s.hard=%llu\n", L[i].n, (unsigned long long)rl.rlim_max);
	}
	return 0;
}

static int cmd_ids(void)
{
	uid_t r, e, s;
	gid_t gr, ge, gs, groups[NGROUPS_MAX];
	getresuid(&r, &e, &s);
	getresgid(&gr, &ge, &gs);
	printf("uid=%u\neuid=%u\nsuid=%u\ngid=%u\negid=%u\nsgid=%u\n", r, e, s, gr, ge, gs);
	int n = getgroups(NGROUPS_MAX, groups);
	printf("groups=");
	for (int i = 0; i < n; i++)
		printf(i ? ",%u" : "%u", groups[i]);
	printf("\n");
	return n < 0;
}

static int cmd_sched(void)
{
	struct sched_param sp;
	int pol = sched_getscheduler(0);
	static const char *names[] = {"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH",
				      "SCHED_ISO", "SCHED_IDLE", "SCHED_DEADLINE"};
	int base = pol & ~SCHED_RESET_ON_FORK;
	if (pol < 0 || sched_getparam(0, &sp) != 0)
		return 1;
	printf("policy=%s\n", base >= 0 && base <= 6 ? names[base] : "?");
	printf("reset_on_fork=%d\npriority=%d\n", !!(pol & SCHED_RESET_ON_FORK), sp.sched_priority);
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	printf("nice=%d\n", errno ? 99 : nice);
	return 0;
}

static int cmd_affinity(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return 1;
	printf("cpus=");
	for (int c = 0, first = 1; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &set)) {
			printf(first ? "%d" : ",%d", c);
			first = 0;
		}
	printf("\ncount=%d\n", CPU_COUNT(&set));
	return 0;
}

static int cmd_ioprio(void)
{
	long v = syscall(SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, 0);
	if (v < 0)
		return 1;
	printf("ioprio.class=%ld\nioprio.level=%ld\n", v >> 13, v & 0x1fff);
	return 0;
}

static int cmd_mempolicy(void)
{
	static const char *modes[] = {"MPOL_DEFAULT", "MPOL_PREFERRED", "MPOL_BIND", "MPOL_INTERLEAVE",
				      "MPOL_LOCAL", "MPOL_PREFERRED_MANY", "MPOL_WEIGHTED_INTERLEAVE"};
	unsigned long mask[16] = {0};
	int mode = -1;
	if (syscall(SYS_get_mempolicy, &mode, mask, sizeof mask * 8, 0, 0) != 0) {
		printf("error=get_mempolicy: %s\n", strerror(errno));
		return 1;
	}
	int base = mode & 0xff; /* flags (MPOL_F_*) are in the high bits */
	printf("mode=%s\nflags=0x%x\nnodes=", base >= 0 && base <= 6 ? modes[base] : "?", mode & ~0xff);
	for (int n = 0, first = 1; n < (int)(sizeof mask * 8); n++)
		if (mask[n / (8 * sizeof mask[0])] >> (n % (8 * sizeof mask[0])) & 1) {
			printf(first ? "%d" : ",%d", n);
			first = 0;
		}
	printf("\n");
	return 0;
}

static int cmd_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	char path[PATH_MAX], target[PATH_MAX];
	if (!d)
		return 1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = 0;
		printf("fd.%s=%s\n", e->d_name, target);
	}
	closedir(d);
	return 0;
}

static int cmd_cat(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0)
		fwrite(buf, 1, n, stdout);
	fclose(f);
	return 0;
}

static int do_syscall(long nr, int argc, char **argv)
{
	unsigned long a[6] = {0};
	for (int i = 0; i < argc && i < 6; i++)
		a[i] = strtoull(argv[i], NULL, 0);
	errno = 0;
	long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	printf("ret=%ld\nerrno=%d\n", ret, ret == -1 ? errno : 0);
	return 0;
}

static int run(int argc, char **argv)
{
	const char *c = argv[0];
	if (!strcmp(c, "caps")) return cmd_caps();
	if (!strcmp(c, "nnp")) { printf("nnp=%d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0)); return 0; }
	if (!strcmp(c, "seccomp")) return cmd_seccomp();
	if (!strcmp(c, "personality")) { printf("personality=0x%x\n", personality(0xffffffff)); return 0; }
	if (!strcmp(c, "sched")) return cmd_sched();
	if (!strcmp(c, "rlimits")) return cmd_rlimits();
	if (!strcmp(c, "ids")) return cmd_ids();
	if (!strcmp(c, "umask")) { mode_t m = umask(0); umask(m); printf("umask=%04o\n", m); return 0; }
	if (!strcmp(c, "ioprio")) return cmd_ioprio();
	if (!strcmp(c, "affinity")) return cmd_affinity();
	if (!strcmp(c, "mempolicy")) return cmd_mempolicy();
	if (!strcmp(c, "dumpable")) { printf("dumpable=%d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0)); return 0; }
	if (!strcmp(c, "fds")) return cmd_fds();
	if (!strcmp(c, "mounts")) return cmd_cat("/proc/self/mountinfo");
	if (!strcmp(c, "exit") && argc > 1) exit(atoi(argv[1]));
	if (!strcmp(c, "sysno") && argc > 1) return do_syscall(strtol(argv[1], NULL, 0), argc - 2, argv + 2);
	if (!strcmp(c, "syscall") && argc > 1) {
		for (size_t i = 0; i < sizeof SYSCALLS / sizeof SYSCALLS[0]; i++)
			if (!strcmp(argv[1], SYSCALLS[i].name))
				return do_syscall(SYSCALLS[i].nr, argc - 2, argv + 2);
		printf("error=unknown syscall %s\n", argv[1]);
		return 2;
	}
	printf("error=unknown command %s\n", c);
	return 2;
}

int main(int argc, char **argv)
{
	int rc = 0, start = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: probe CMD [ARGS] [-- CMD [ARGS]]...\n");
		return 2;
	}
	for (int i = 1; i <= argc; i++) {
		if (i == argc || !strcmp(argv[i], "--")) {
			if (i > start)
				rc |= run(i - start, argv + start);
			start = i + 1;
		}
	}
	return rc;
}
