#!/usr/bin/env python3
"""husk benchmark: compare OCI runtimes (husk, runc, crun) on one busybox bundle.

    python3 bench/bench.py [--runtimes husk=PATH,runc=runc,crun=crun]
                           [--iterations N] [--quick] [--markdown FILE]

Python 3.11 standard library only; must run as root. See bench/README.md.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
CGROUP_FS = "/sys/fs/cgroup"
UNIFIED = "/sys/fs/cgroup/unified"
KIB = 1024
MIB = 1024 * 1024

# The value of the profile's last rule (a personality(2) argument no program
# uses); "new profile" samples add 1, 2, 3 ... to it.
SECCOMP_VARIANT_BASE = 0x7FFF0000

# Allow list modelled on Docker's default seccomp profile (moby
# profiles/seccomp/default.json). Names that do not exist on the running
# architecture are kept on purpose, as in Docker's profile: runtimes must skip
# them, and that is part of the work a big profile costs.
SECCOMP_ALLOW = """
    accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod
    chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
    clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close
    close_range connect copy_file_range creat dup dup2 dup3 epoll_create epoll_create1
    epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd
    eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64
    fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat
    fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat
    fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue
    futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents
    getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32
    getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
    getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
    getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
    inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl
    io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set
    io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset
    landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr
    llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise
    map_shadow_stack membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod
    mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink
    mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at
    nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
    pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll
    ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6
    pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
    recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
    renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
    rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait
    rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
    sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
    sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
    semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
    setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32
    setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid
    setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt
    set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget
    shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket socketcall
    socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync
    sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete
    timer_getoverrun timer_gettime timer_gettime64 timer_settime timer_settime64
    timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64
    times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
    utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
    arch_prctl modify_ldt clone clone3 chroot
""".split()

PR_SET_CHILD_SUBREAPER = 36
NS_FLAGS = {  # OCI namespace type -> unshare(1) option
    "pid": "--pid", "network": "--net", "ipc": "--ipc", "uts": "--uts",
    "mount": "--mount", "cgroup": "--cgroup", "user": "--user", "time": "--time",
}
NSENTER_FLAGS = {
    "pid": "--pid", "network": "--net", "ipc": "--ipc", "uts": "--uts",
    "mount": "--mount", "cgroup": "--cgroup", "user": "--user", "time": "--time",
}


class BenchError(Exception):
    """A measurement failed; the message says how."""


class Interrupted(BaseException):
    """SIGINT/SIGTERM/SIGHUP arrived; unwinds to the cleanup."""


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def tail(text, n=400):
    text = (text or "").strip().replace("\n", " | ")
    return text if len(text) <= n else "..." + text[-n:]


# --------------------------------------------------------------------------
# process spawning: posix_spawn + pidfd poll (timeout) + wait4 (rusage)
# --------------------------------------------------------------------------

class Result:
    __slots__ = ("argv", "rc", "ns", "maxrss_kib", "out", "err")

    def __init__(self, argv, rc, ns, maxrss_kib, out, err):
        self.argv, self.rc, self.ns = argv, rc, ns
        self.maxrss_kib, self.out, self.err = maxrss_kib, out, err

    @property
    def ms(self):
        return self.ns / 1e6


class Spawner:
    """Runs one command at a time and times it.

    The wall time is perf_counter_ns() from just before posix_spawn() to just
    after wait4() returned. The command's stdout/stderr go to two files that
    are truncated before each call (no pipes, so a detached container that
    inherits them can never block us). ru_maxrss from our wait4() is kept in
    the Result but not reported: for a process spawned by this Python it is
    never below Python's own RSS (the kernel records the pre-exec memory's
    high-water mark at execve), so peak RSS is measured via Bench.rss_argv.
    """

    def __init__(self, tmpdir):
        flags = os.O_RDWR | os.O_CREAT | os.O_TRUNC
        self.out_fd = os.open(os.path.join(tmpdir, "spawn.out"), flags, 0o600)
        self.err_fd = os.open(os.path.join(tmpdir, "spawn.err"), flags, 0o600)
        self.null_fd = os.open(os.devnull, os.O_RDONLY)

    @staticmethod
    def _read(fd):
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            b = os.read(fd, 65536)
            if not b:
                break
            chunks.append(b)
        return b"".join(chunks).decode("utf-8", "replace")

    def run(self, argv, timeout=60.0):
        for fd in (self.out_fd, self.err_fd):
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
        actions = [
            (os.POSIX_SPAWN_DUP2, self.null_fd, 0),
            (os.POSIX_SPAWN_DUP2, self.out_fd, 1),
            (os.POSIX_SPAWN_DUP2, self.err_fd, 2),
        ]
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=actions)
        timed_out = False
        try:
            pfd = os.pidfd_open(pid)
            try:
                poller = select.poll()
                poller.register(pfd, select.POLLIN)
                if not poller.poll(int(timeout * 1000)):
                    timed_out = True
                    os.kill(pid, signal.SIGKILL)
            finally:
                os.close(pfd)
            _, status, ru = os.wait4(pid, 0)
        except BaseException:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except OSError:
                pass
            raise
        t1 = time.perf_counter_ns()
        rc = os.waitstatus_to_exitcode(status)
        err = self._read(self.err_fd)
        if timed_out:
            err += f"\n[bench: killed after {timeout:.0f}s timeout]"
            rc = rc if rc != 0 else -9
        return Result(argv, rc, t1 - t0, ru.ru_maxrss, self._read(self.out_fd), err)


def set_subreaper():
    """Orphaned container processes (a detached container's init after the
    runtime's `create` exits) are re-parented to us, as they would be to a
    containerd shim, so we can wait for them exactly and reap them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        log(f"warning: PR_SET_CHILD_SUBREAPER failed: errno {ctypes.get_errno()}")


def wait_exit(pid, timeout=30.0):
    """Wait until process `pid` has exited; reap it if it is our child.
    Returns its exit code, or None when it was not ours to reap."""
    try:
        pfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    try:
        poller = select.poll()
        poller.register(pfd, select.POLLIN)
        if not poller.poll(int(timeout * 1000)):
            raise BenchError(f"container process {pid} still running after {timeout:.0f}s")
    finally:
        os.close(pfd)
    try:
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    except ChildProcessError:
        return None


def reap_strays():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def our_children():
    me = os.getpid()
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == me:
            kids.append(int(d))
    return kids


# --------------------------------------------------------------------------
# cgroups
# --------------------------------------------------------------------------

def cgroup_mounts():
    """[(mountpoint, fstype, super options)] for every cgroup/cgroup2 mount."""
    res = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fstype, _src, sopts = (post.split() + ["", "", ""])[:3]
            if fstype in ("cgroup", "cgroup2"):
                mp = pre.split()[4].replace("\\040", " ")
                res.append((mp, fstype, sopts))
    return res


def fstype_of(path):
    best, best_fs = "", None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            mp = pre.split()[4]
            if (path == mp or path.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best):
                best, best_fs = mp, post.split()[0]
    return best_fs


def cgroup_layout():
    mounts = cgroup_mounts()
    if fstype_of(CGROUP_FS) == "cgroup2":
        return "unified"
    v1 = [m for m in mounts if m[1] == "cgroup"]
    v2 = [m for m in mounts if m[1] == "cgroup2" and m[0] == UNIFIED]
    if v1 and v2:
        return "hybrid"
    if v1:
        return "legacy"
    return "none"


def memory_v1_mount():
    for mp, fstype, sopts in cgroup_mounts():
        if fstype == "cgroup" and "memory" in sopts.split(","):
            return mp
    return None


def remove_cgroup_tree(name):
    """rmdir /<hierarchy>/<name> (and anything below it) in every mounted
    cgroup hierarchy. Processes still inside (only possible if a runtime
    failed to clean up) are killed first. Only ever touches <name>, a
    directory this benchmark created via the runtimes' cgroupsPath."""
    leftovers = []
    for mp, _fstype, _ in cgroup_mounts():
        if fstype_of(mp) not in ("cgroup", "cgroup2"):
            # covered by our tmpfs (--hide-unified): plain directories, and the
            # mount namespace holding them goes away with us anyway
            shutil.rmtree(os.path.join(mp, name), ignore_errors=True)
            continue
        top = os.path.join(mp, name)
        if not os.path.isdir(top):
            continue
        for dirpath, _dirs, _files in os.walk(top, topdown=False):
            for attempt in range(40):
                try:
                    os.rmdir(dirpath)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    try:
                        with open(os.path.join(dirpath, "cgroup.procs")) as f:
                            for p in f.read().split():
                                try:
                                    os.kill(int(p), signal.SIGKILL)
                                except OSError:
                                    pass
                    except OSError:
                        pass
                    reap_strays()
                    time.sleep(0.05)
            else:
                leftovers.append(dirpath)
    return leftovers


# --------------------------------------------------------------------------
# runtimes
# --------------------------------------------------------------------------

class Runtime:
    def __init__(self, name, spec):
        self.name = name
        self.spec = spec          # path/command given by the user, or None
        self.path = None
        self.root = None
        self.version = ""
        self.error = None         # why it cannot run here (whole runtime)
        self.live = set()         # container ids that may exist
        self.notes = []
        self.libs = []
        self.binary = ""

    @property
    def ok(self):
        return self.error is None

    def argv(self, *args):
        return [self.path, "--root", self.root, *args]


def parse_runtimes(text):
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, spec = item.partition("=")
        name = name.strip()
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise SystemExit(f"bad runtime name {name!r}")
        if any(r.name == name for r in out):
            raise SystemExit(f"runtime {name!r} given twice")
        out.append(Runtime(name, spec.strip() or None))
    if not out:
        raise SystemExit("no runtimes given")
    return out


def build_husk():
    script = os.path.join(REPO_ROOT, "scripts", "build-release.sh")
    log(f"building husk: {script} (static musl build, or glibc where musl is missing)")
    p = subprocess.run([script], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.stderr.strip():
        log(tail(p.stderr, 800))
    if p.returncode != 0:
        raise BenchError(f"{script} failed (exit {p.returncode}): {tail(p.stderr, 800)}")
    lines = p.stdout.strip().splitlines()
    path = lines[-1] if lines else ""
    if not os.path.exists(path):
        raise BenchError(f"{script} succeeded but printed no binary ({path!r})")
    return path


def binary_info(path, tmpdir):
    size = os.path.getsize(path)
    stripped = size
    note = ""
    tmp = os.path.join(tmpdir, "stripped.bin")
    strip = shutil.which("strip")
    if strip:
        p = subprocess.run([strip, "-o", tmp, path], capture_output=True, text=True)
        if p.returncode == 0:
            stripped = os.path.getsize(tmp)
            os.unlink(tmp)
            note = "stripped" if stripped == size else f"not stripped ({size / KIB:.0f} KiB on disk)"
        else:
            note = f"strip failed: {tail(p.stderr, 120)}"
    else:
        note = "strip not installed: on-disk size"
    libs = []
    p = subprocess.run(["ldd", path], capture_output=True, text=True)
    text = p.stdout + p.stderr
    if "not a dynamic" in text or "statically linked" in text:
        libs = ["(static)"]
    else:
        for line in p.stdout.splitlines():
            line = line.strip()
            if not line:
                continue
            libs.append(line.split()[0])
    return stripped, note, libs


# --------------------------------------------------------------------------
# statistics and table
# --------------------------------------------------------------------------

ROWS = [
    # key, label, unit, formatter
    ("lifecycle", "run + delete, /bin/true", "ms"),
    ("create", "create", "ms"),
    ("start", "start", "ms"),
    ("state", "state (created container)", "ms"),
    ("delete", "delete (stopped container)", "ms"),
    ("csd", "create+start+wait+delete", "ms"),
    ("exec", "exec /bin/true (running container)", "ms"),
    ("seccomp_first", "seccomp profile: create..delete, new profile", "ms"),
    ("seccomp_rep", "seccomp profile: create..delete, repeated", "ms"),
    ("rss_run", "max RSS of `run` process", "MiB"),
    ("rss_create", "max RSS of `create` process", "MiB"),
    ("rss_state", "max RSS of `state` process", "MiB"),
    ("cgpeak", "container cgroup peak memory", "MiB"),
    ("minmem", "smallest memory limit that runs /bin/true", "MiB"),
    ("binsize", "binary size, stripped", "KiB"),
    ("syscalls", "syscalls of one `run` + `delete` (strace -f -c)", "calls"),
]


def fmt_num(v, unit):
    if v is None:
        return "-"
    if unit in ("KiB", "calls"):
        return f"{v:,.0f}"
    if unit == "ms":
        return f"{v:.1f}" if v >= 100 else f"{v:.2f}"
    return f"{v:.2f}"


def cell(values, unit):
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    med = statistics.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        return fmt_num(med, unit)
    return f"{fmt_num(med, unit)} ({fmt_num(min(vals), unit)}-{fmt_num(max(vals), unit)})"


def pair_ratio(a, b):
    """a, b: {iteration: value}. Median of per-iteration ratios a[i]/b[i]
    (the runs of one iteration were done back to back, in alternation)."""
    ratios = [a[i] / b[i] for i in a if i in b and a[i] is not None and b[i]]
    if not ratios:
        return None
    return statistics.median(ratios)


def render(table, markdown=False):
    header, rows = table[0], table[1:]
    if markdown:
        out = ["| " + " | ".join(header) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                               for i, c in enumerate(r))
    out = [line(header), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in rows]
    return "\n".join(out)


# --------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------

class Bench:
    def __init__(self, args, runtimes, mode_desc):
        self.args = args
        for rt in runtimes:
            rt.run_keeps = False
        self.runtimes = runtimes
        self.mode_desc = mode_desc
        self.pid = os.getpid()
        self.cg_parent = f"husk-bench-{self.pid}"
        self.tmp = tempfile.mkdtemp(prefix=f"husk-bench-{self.pid}-")
        self.sp = Spawner(self.tmp)
        self.counter = 0
        # samples[who][metric] = {iteration: value}; who = runtime name or "floor"
        self.samples = {}
        self.errors = []          # (who, what, message)
        self.failed = set()       # (who, group) pairs to skip
        self.rootfs = None
        self.base_config = None
        self.seccomp = None
        self.memv1 = memory_v1_mount()
        self.minmem = {}          # name -> dict
        self.floor_notes = []

    # ---- recording ----
    def rec(self, who, metric, i, value):
        self.samples.setdefault(who, {}).setdefault(metric, {})[i] = value

    def error(self, who, what, msg):
        log(f"ERROR [{who}] {what}: {msg}")
        self.errors.append((who, what, str(msg)))
        self.failed.add((who, what))

    # ---- setup ----
    def build_rootfs(self):
        busybox = shutil.which("busybox") or "/bin/busybox"
        rootfs = os.path.join(self.tmp, "rootfs")
        for d in ("bin", "proc", "dev", "sys", "tmp", "etc", "root"):
            os.makedirs(os.path.join(rootfs, d))
        shutil.copy2(busybox, os.path.join(rootfs, "bin", "busybox"))
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True,
                                 check=True).stdout.split()
        for a in applets:
            # `busybox --list` names busybox itself: do not replace the binary
            if a != "busybox" and "/" not in a:
                os.symlink("busybox", os.path.join(rootfs, "bin", a))
        self.rootfs = rootfs
        self.busybox_src = busybox

    def make_base_config(self):
        specdir = os.path.join(self.tmp, "spec")
        os.mkdir(specdir)
        tools = [r.path for r in self.runtimes if r.name == "runc" and r.path]
        tools += [shutil.which("runc"), shutil.which("crun")]
        for tool in [t for t in tools if t]:
            p = subprocess.run([tool, "spec"], cwd=specdir, capture_output=True, text=True)
            if p.returncode == 0 and os.path.exists(os.path.join(specdir, "config.json")):
                self.spec_tool = f"{os.path.basename(tool)} spec"
                break
        else:
            raise SystemExit("cannot generate config.json: neither `runc spec` nor `crun spec` worked")
        with open(os.path.join(specdir, "config.json")) as f:
            cfg = json.load(f)
        cfg["process"]["args"] = ["/bin/true"]
        cfg["process"]["terminal"] = False
        cfg["root"] = {"path": self.rootfs, "readonly": True}
        cfg.setdefault("linux", {})
        self.base_config = cfg
        self.namespaces = [ns["type"] for ns in cfg["linux"].get("namespaces", [])]

    def make_seccomp(self):
        arch = platform.machine()
        arches = {
            "x86_64": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "aarch64": ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
        }.get(arch, [])
        rules = [{"names": [n], "action": "SCMP_ACT_ALLOW"} for n in SECCOMP_ALLOW]
        # Docker's argument-filtered rules for personality(2)
        for persona in (0, 8, 131072, 131080, 4294967295):
            rules.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                          "args": [{"index": 0, "value": persona, "op": "SCMP_CMP_EQ"}]})
        # One more, whose value makes each "new profile" sample a profile no
        # runtime has seen (variant 0, the repeated one, keeps the same value).
        rules.append({"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": SECCOMP_VARIANT_BASE, "op": "SCMP_CMP_EQ"}]})
        self.seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
                        "architectures": arches, "syscalls": rules}

    def seccomp_variant(self, k):
        """The profile with its last rule's value moved by k (k=0: the profile itself)."""
        prof = json.loads(json.dumps(self.seccomp))
        prof["syscalls"][-1]["args"][0]["value"] = SECCOMP_VARIANT_BASE + k
        return prof

    def new_id(self, rt_name):
        self.counter += 1
        return f"hb{self.pid}-{rt_name}-{self.counter}"

    def make_bundle(self, cid, args=None, memory=None, seccomp=False):
        cfg = json.loads(json.dumps(self.base_config))
        if args:
            cfg["process"]["args"] = args
        cfg["linux"]["cgroupsPath"] = f"/{self.cg_parent}/{cid}"
        if memory is not None:
            cfg["linux"].setdefault("resources", {})["memory"] = {"limit": memory, "swap": memory}
        if seccomp:
            cfg["linux"]["seccomp"] = self.seccomp if seccomp is True else seccomp
        bdir = os.path.join(self.tmp, "bundles", cid)
        os.makedirs(bdir)
        with open(os.path.join(bdir, "config.json"), "w") as f:
            json.dump(cfg, f)
        return bdir

    def drop_bundle(self, cid):
        shutil.rmtree(os.path.join(self.tmp, "bundles", cid), ignore_errors=True)

    # ---- runtime calls ----
    def call(self, rt, *args, timeout=60.0, check=True):
        r = self.sp.run(rt.argv(*args), timeout)
        if check and r.rc != 0:
            raise BenchError(f"`{rt.name} {' '.join(args)}` exited {r.rc}: {tail(r.err or r.out)}")
        return r

    def state_of(self, rt, cid):
        r = self.call(rt, "state", cid)
        try:
            st = json.loads(r.out)
            return st, int(st["pid"]), st["status"], r
        except (ValueError, KeyError, TypeError) as e:
            raise BenchError(f"`{rt.name} state` output not understood ({e}): {tail(r.out, 200)!r}")

    def exists(self, rt, cid):
        return self.call(rt, "state", cid, check=False).rc == 0

    def force_delete(self, rt, cid):
        r = self.call(rt, "delete", "--force", cid, timeout=30, check=False)
        if r.rc == 0 or not self.exists(rt, cid):
            rt.live.discard(cid)
        self.drop_bundle(cid)
        return r

    def cleanup_runtime(self, rt):
        if not rt.path or not rt.root:
            return
        ids = set(rt.live)
        if os.path.isdir(rt.root):
            ids |= {d for d in os.listdir(rt.root)
                    if os.path.isdir(os.path.join(rt.root, d)) and not d.startswith(".")}
        for cid in sorted(ids):
            try:
                self.force_delete(rt, cid)
            except Exception as e:   # keep cleaning
                log(f"cleanup: {rt.name} delete --force {cid}: {e}")

    # ---- preparation ----
    def prepare_runtimes(self):
        for rt in self.runtimes:
            try:
                if rt.name == "husk" and rt.spec is None:
                    rt.path = build_husk()
                else:
                    spec = rt.spec or rt.name
                    path = spec if "/" in spec else shutil.which(spec)
                    if not path or not os.path.exists(path):
                        raise BenchError(f"{spec}: not found")
                    rt.path = os.path.abspath(path)
                if not os.access(rt.path, os.X_OK):
                    raise BenchError(f"{rt.path}: not executable")
                p = subprocess.run([rt.path, "--version"], capture_output=True, text=True, timeout=30)
                rt.version = (p.stdout.strip().splitlines() or ["?"])[0] if p.returncode == 0 \
                    else f"? (--version exited {p.returncode})"
                size, note, libs = binary_info(rt.path, self.tmp)
                rt.binsize, rt.binnote, rt.libs = size / KIB, note, libs
                rt.root = os.path.join(self.tmp, "root-" + rt.name)
                os.mkdir(rt.root)
                self.rec(rt.name, "binsize", 0, size / KIB)
                # smoke test, untimed (also warms caches): the container must
                # really run, and print through the stdout it inherits
                cid = self.new_id(rt.name)
                marker = f"husk-bench-ok-{cid}"
                b = self.make_bundle(cid, args=["/bin/echo", marker])
                rt.live.add(cid)
                r = self.call(rt, "run", "--bundle", b, cid, check=False)
                if r.rc != 0 or marker not in r.out:
                    self.force_delete(rt, cid)
                    why = f"exited {r.rc}" if r.rc != 0 else f"exited 0 but the container did not print {marker!r}"
                    raise BenchError(f"`run` of `/bin/echo {marker}` {why}: "
                                     f"stdout {tail(r.out, 150)!r} stderr {tail(r.err, 250)!r}")
                rt.run_keeps = self.exists(rt, cid)
                if rt.run_keeps:
                    rt.notes.append("`run` left the stopped container behind: lifecycle includes `delete`")
                    self.call(rt, "delete", cid)
                else:
                    rt.notes.append("`run` removed the container itself on exit (no `delete` needed)")
                rt.live.discard(cid)
                self.drop_bundle(cid)
            except BenchError as e:
                rt.error = str(e)
                self.error(rt.name, "cannot run here", e)
                self.cleanup_runtime(rt)

    # ---- measurements (one sample each) ----
    def warm_run(self, rt):
        """untimed `run` of /bin/true, so that the next call follows the same runtime"""
        cid = self.new_id(rt.name)
        b = self.make_bundle(cid)
        rt.live.add(cid)
        self.call(rt, "run", "--bundle", b, cid)
        if rt.run_keeps and self.exists(rt, cid):
            self.call(rt, "delete", cid)
        rt.live.discard(cid)
        self.drop_bundle(cid)

    def warm_floor(self, _rt):
        self.sp.run(self.floor_argv())

    def warm_exec(self, rt):
        self.call(rt, "exec", rt.exec_cid, "/bin/true")

    def m_lifecycle(self, rt, i):
        cid = self.new_id(rt.name)
        b = self.make_bundle(cid)
        rt.live.add(cid)
        r = self.call(rt, "run", "--bundle", b, cid)
        total = r.ns
        if self.exists(rt, cid):            # untimed check
            total += self.call(rt, "delete", cid).ns
        rt.live.discard(cid)
        self.drop_bundle(cid)
        self.rec(rt.name, "lifecycle", i, total / 1e6)

    def strace_calls(self, argv, what):
        """Total syscalls of argv and its children, from `strace -f -c`."""
        out = os.path.join(self.tmp, "strace.out")
        r = self.sp.run([self.strace, "-f", "-c", "-o", out, *argv])
        if r.rc != 0:
            raise BenchError(f"{what} under strace exited {r.rc}: {tail(r.err or r.out)}")
        with open(out) as f:
            for line in f:
                parts = line.split()
                if parts and parts[-1] == "total":
                    return int(parts[3])
        raise BenchError(f"{what}: no total in strace -c output")

    def m_syscalls(self, rt, _i):
        """One untimed `run` (and `delete` if it kept the container) under strace."""
        cid = self.new_id(rt.name)
        b = self.make_bundle(cid)
        rt.live.add(cid)
        n = self.strace_calls(rt.argv("run", "--bundle", b, cid), f"{rt.name} run")
        if self.exists(rt, cid):
            n += self.strace_calls(rt.argv("delete", cid), f"{rt.name} delete")
        rt.live.discard(cid)
        self.drop_bundle(cid)
        self.rec(rt.name, "syscalls", 0, n)

    def m_syscalls_floor(self, _rt, _i):
        self.rec("floor", "syscalls", 0, self.strace_calls(self.floor_argv(), "the floor"))

    def floor_argv(self):
        flags = [NS_FLAGS[n] for n in self.namespaces if n in NS_FLAGS]
        return [shutil.which("unshare"), "--fork", *flags,
                shutil.which("chroot"), self.rootfs, "/bin/true"]

    def m_floor(self, _rt, i):
        r = self.sp.run(self.floor_argv())
        if r.rc != 0:
            raise BenchError(f"`{' '.join(self.floor_argv())}` exited {r.rc}: {tail(r.err)}")
        self.rec("floor", "lifecycle", i, r.ms)

    def create_to_delete(self, rt, bundle, cid):
        """create, state (untimed here), start, wait for exit, delete."""
        t = {}
        rt.live.add(cid)
        r = self.call(rt, "create", "--bundle", bundle, cid)
        t["create"] = r.ms
        _st, pid, status, r = self.state_of(rt, cid)
        t["state"] = r.ms
        if status != "created":
            raise BenchError(f"`state` after `create` says {status!r}, expected 'created'")
        t["start"] = self.call(rt, "start", cid).ms
        w0 = time.perf_counter_ns()
        code = wait_exit(pid)
        t["wait"] = (time.perf_counter_ns() - w0) / 1e6
        if code not in (None, 0):
            raise BenchError(f"container /bin/true exited {code}")
        t["cgpeak"] = self.read_cgroup_peak(cid)
        t["delete"] = self.call(rt, "delete", cid).ms
        rt.live.discard(cid)
        self.drop_bundle(cid)
        t["csd"] = t["create"] + t["start"] + t["wait"] + t["delete"]
        return t

    def read_cgroup_peak(self, cid):
        rel = os.path.join(self.cg_parent, cid)
        cands = []
        if self.memv1:
            cands.append(os.path.join(self.memv1, rel, "memory.max_usage_in_bytes"))
        cands += [os.path.join(UNIFIED, rel, "memory.peak"), os.path.join(CGROUP_FS, rel, "memory.peak")]
        for c in cands:
            try:
                with open(c) as f:
                    return int(f.read().strip()) / MIB
            except (OSError, ValueError):
                continue
        return None

    def m_split(self, rt, i):
        t = self.create_to_delete(rt, self.make_bundle(cid := self.new_id(rt.name)), cid)
        for k in ("create", "state", "start", "delete", "csd", "cgpeak"):
            if t[k] is not None:
                self.rec(rt.name, k, i, t[k])
        if t["cgpeak"] is None and i == 0:
            rt.notes.append(f"no memory peak file under the container cgroup /{self.cg_parent}/{cid}")

    def m_seccomp(self, rt, i):
        """A profile this runtime has not seen (a cache cannot help), then the
        one it has run before."""
        cid = self.new_id(rt.name)
        t = self.create_to_delete(rt, self.make_bundle(cid, seccomp=self.seccomp_variant(i + 1)), cid)
        self.rec(rt.name, "seccomp_first", i, t["csd"])
        cid = self.new_id(rt.name)
        t = self.create_to_delete(rt, self.make_bundle(cid, seccomp=True), cid)
        self.rec(rt.name, "seccomp_rep", i, t["csd"])

    def warm_seccomp(self, rt):
        """untimed create..delete with the repeated profile (so that its first
        use is not a sample), then the usual warm-up run"""
        if not getattr(rt, "seccomp_seen", False):
            cid = self.new_id(rt.name)
            self.create_to_delete(rt, self.make_bundle(cid, seccomp=True), cid)
            rt.seccomp_seen = True
        self.warm_run(rt)

    def exec_setup(self, rt):
        cid = self.new_id(rt.name)
        b = self.make_bundle(cid, args=["/bin/sleep", "1000"])
        rt.live.add(cid)
        self.call(rt, "create", "--bundle", b, cid)
        self.call(rt, "start", cid)
        _st, pid, status, _r = self.state_of(rt, cid)
        if status != "running":
            raise BenchError(f"sleep container is {status!r} after start")
        rt.exec_cid, rt.exec_pid = cid, pid

    def exec_teardown(self, rt):
        cid = getattr(rt, "exec_cid", None)
        if cid:
            self.force_delete(rt, cid)
            wait_exit(rt.exec_pid, timeout=10)
            rt.exec_cid = None

    def m_exec(self, rt, i):
        self.rec(rt.name, "exec", i, self.call(rt, "exec", rt.exec_cid, "/bin/true").ms)

    def m_exec_floor_warm(self, _rt):
        self.m_exec_floor(None, None)

    def m_exec_floor(self, _rt, i):
        target = self.exec_floor_pid
        flags = [NSENTER_FLAGS[n] for n in self.namespaces if n in NSENTER_FLAGS]
        argv = [shutil.which("nsenter"), "--target", str(target), *flags, "--root", "--wd", "/bin/true"]
        r = self.sp.run(argv)
        if r.rc != 0:
            raise BenchError(f"`{' '.join(argv)}` exited {r.rc}: {tail(r.err)}")
        if i is not None:
            self.rec("floor", "exec", i, r.ms)

    # ---- peak RSS of the runtime process, through /usr/bin/time ----
    def rss_argv(self, argv):
        """Wrap argv so that a small process does the fork+exec and reports
        ru_maxrss from its wait4(): see README, "Why not wait4 from Python"."""
        return [self.rss_tool, "-f", "%M", "-o", self.rss_file, *argv]

    def rss_run(self, argv, what, timeout=60.0):
        try:
            os.unlink(self.rss_file)
        except FileNotFoundError:
            pass
        r = self.sp.run(self.rss_argv(argv), timeout)
        if r.rc != 0:
            raise BenchError(f"`{what}` exited {r.rc}: {tail(r.err or r.out)}")
        try:
            with open(self.rss_file) as f:
                lines = [x for x in f.read().split() if x.isdigit()]
            return int(lines[-1]) / KIB
        except (OSError, IndexError, ValueError) as e:
            raise BenchError(f"could not read max RSS from {self.rss_tool}: {e}")

    def m_rss(self, rt, i):
        cid = self.new_id(rt.name)
        b = self.make_bundle(cid)
        rt.live.add(cid)
        self.rec(rt.name, "rss_run", i, self.rss_run(rt.argv("run", "--bundle", b, cid), f"{rt.name} run"))
        if self.exists(rt, cid):
            self.call(rt, "delete", cid)
        rt.live.discard(cid)
        self.drop_bundle(cid)
        cid = self.new_id(rt.name)
        b = self.make_bundle(cid)
        rt.live.add(cid)
        self.rec(rt.name, "rss_create", i,
                 self.rss_run(rt.argv("create", "--bundle", b, cid), f"{rt.name} create"))
        self.rec(rt.name, "rss_state", i, self.rss_run(rt.argv("state", cid), f"{rt.name} state"))
        pid = self.state_of(rt, cid)[1]
        self.call(rt, "start", cid)
        wait_exit(pid)
        self.call(rt, "delete", cid)
        rt.live.discard(cid)
        self.drop_bundle(cid)

    def m_rss_floor(self, _rt, i):
        self.rec("floor", "rss_run", i, self.rss_run(self.floor_argv(), "floor"))

    def minmem_search(self, rt, max_steps):
        lo, hi, res = 64 * KIB, 64 * MIB, 16 * KIB
        last_fail = ""

        def trial(limit):
            nonlocal last_fail
            cid = self.new_id(rt.name)
            b = self.make_bundle(cid, memory=limit)
            rt.live.add(cid)
            r = self.call(rt, "run", "--bundle", b, cid, timeout=30, check=False)
            if self.exists(rt, cid):
                self.force_delete(rt, cid)
            rt.live.discard(cid)
            self.drop_bundle(cid)
            reap_strays()
            if r.rc != 0:
                last_fail = f"{limit // KIB} KiB: exit {r.rc}: {tail(r.err or r.out, 200)}"
            log(f"  [{rt.name}] memory limit {limit // KIB:>6} KiB: {'ok' if r.rc == 0 else 'FAIL'}")
            return r.rc == 0

        if not trial(hi):
            return {"value": None, "text": f">{hi // MIB} MiB", "why": last_fail}
        if trial(lo):
            return {"value": lo / MIB, "text": f"<={lo // KIB} KiB", "why": ""}
        steps = 0
        while hi - lo > res and (max_steps is None or steps < max_steps):
            mid = (lo + hi) // 2 // res * res
            if mid <= lo:
                mid = lo + res
            if mid >= hi:
                break
            if trial(mid):
                hi = mid
            else:
                lo = mid
            steps += 1
        # Near the edge the outcome can be a coin toss (a Go runtime's heap, page
        # cache, kernel allocations): confirm `hi` with 3 passes in a row (1 in
        # --quick), else raise it by 16, 32, 64 ... KiB until it holds.
        edge, step, stable = hi, res, False
        for _ in range(8):
            if all(trial(hi) for _ in range(1 if max_steps else 3)):
                stable = True
                break
            hi = edge + step
            step *= 2
        return {"value": hi / MIB, "lo": lo, "hi": hi, "edge": edge, "stable": stable,
                "text": f"{hi // KIB} KiB" + ("" if edge - lo <= res else f" (>{lo // KIB} KiB)"),
                "why": last_fail}

    # ---- driver ----
    def alternate(self, group, n, participants):
        """participants: [(who, rt-or-None, fn, warm-fn-or-None)]. Iteration i
        runs each once before iteration i+1 starts (A B C, A B C, ...; the
        order rotates by one each iteration so no runtime is always first).

        What ran just before matters a lot here: a v1 cgroup attach (a write
        to cgroup.procs) is cheap only shortly after another one, otherwise it
        waits for an RCU grace period (~10 ms on this VM). crun `create` takes
        ~6 ms right after crun, ~13 ms right after runc, ~20 ms after 50 ms
        idle. So by default each sample is preceded, untimed, by one `warm`
        call of the same runtime (its own `run` of /bin/true): every runtime is
        measured as in a stream of its own containers. --settle MS instead
        sleeps MS before each sample and skips the warm-up: the cold case."""
        log(f"== {group}: {n} iterations, alternating {', '.join(p[0] for p in participants)}")
        for i in range(n):
            k = i % len(participants) if participants else 0
            for who, rt, fn, warm in participants[k:] + participants[:k]:
                if (who, group) in self.failed:
                    continue
                try:
                    if self.args.settle:
                        time.sleep(self.args.settle / 1000)
                    elif warm is not None:
                        warm(rt)
                    fn(rt, i)
                except (BenchError, OSError, ValueError, KeyError, TypeError) as e:
                    msg = str(e) if isinstance(e, BenchError) else f"{type(e).__name__}: {e}"
                    self.error(who, group, f"iteration {i}: {msg}")
                    if rt is not None:
                        self.cleanup_runtime(rt)
            reap_strays()

    def run_all(self):
        n = self.args.iterations
        self.build_rootfs()
        self.make_base_config()
        self.make_seccomp()
        self.prepare_runtimes()
        live = [rt for rt in self.runtimes if rt.ok]
        for rt in self.runtimes:
            log(f"runtime {rt.name}: {rt.path or '-'}  {rt.version}  "
                f"{'OK' if rt.ok else 'CANNOT RUN: ' + rt.error}")

        parts = [(rt.name, rt, self.m_lifecycle, self.warm_run) for rt in live]
        parts += [("floor", None, self.m_floor, self.warm_floor)]
        self.alternate("lifecycle", n, parts)
        self.alternate("create/start/state/delete", n,
                       [(rt.name, rt, self.m_split, self.warm_run) for rt in live])

        # exec: one long-running container per runtime
        exec_ok = []
        for rt in live:
            try:
                self.exec_setup(rt)
                exec_ok.append(rt)
            except (BenchError, OSError, ValueError) as e:
                self.error(rt.name, "exec", f"setting up the sleep container: {e}")
                self.exec_teardown(rt)
        parts = [(rt.name, rt, self.m_exec, self.warm_exec) for rt in exec_ok]
        if exec_ok and shutil.which("nsenter"):
            self.exec_floor_pid = exec_ok[-1].exec_pid
            parts.append(("floor", None, self.m_exec_floor, self.m_exec_floor_warm))
            self.floor_notes.append(f"exec floor: nsenter into {exec_ok[-1].name}'s sleep container "
                                    f"({', '.join(self.namespaces)} + root) then exec /bin/true")
        try:
            self.alternate("exec", n, parts)
        finally:
            for rt in exec_ok:
                self.exec_teardown(rt)

        self.alternate("seccomp", n, [(rt.name, rt, self.m_seccomp, self.warm_seccomp) for rt in live])

        self.rss_tool = "/usr/bin/time" if os.path.exists("/usr/bin/time") else shutil.which("time")
        self.rss_file = os.path.join(self.tmp, "rss.out")
        if self.rss_tool:
            k = min(n, 10)
            try:
                base = statistics.median(self.rss_run([self.busybox_src, "true"], "time busybox true")
                                         for _ in range(3))
                self.floor_notes.append(
                    f"max RSS rows: measured through `{self.rss_tool} -f %M` ({k} samples each); a static "
                    f"`busybox true` measures {base:.2f} MiB this way, the method's own floor")
            except BenchError as e:
                self.error("floor", "rss", f"GNU time does not work: {e}")
            self.alternate("rss", k, [(rt.name, rt, self.m_rss, None) for rt in live]
                           + [("floor", None, self.m_rss_floor, None)])
        else:
            self.floor_notes.append("max RSS rows: /usr/bin/time (GNU time) not installed, not measured")

        self.strace = shutil.which("strace")
        if self.strace:
            self.alternate("syscalls", 1, [(rt.name, rt, self.m_syscalls, self.warm_run) for rt in live]
                           + [("floor", None, self.m_syscalls_floor, None)])
        else:
            self.floor_notes.append("syscalls row: strace not installed, not measured")

        max_steps = 4 if self.args.quick else None
        for rt in live:
            log(f"== smallest memory limit for {rt.name} (bisection 64 KiB..64 MiB"
                f"{', at most 4 steps' if max_steps else ', 16 KiB resolution'})")
            try:
                self.minmem[rt.name] = res = self.minmem_search(rt, max_steps)
                if res["value"] is not None:
                    self.rec(rt.name, "minmem", 0, res["value"])
            except BenchError as e:
                self.error(rt.name, "memory limit bisection", e)
                self.cleanup_runtime(rt)

    # ---- report ----
    def ratio_pairs(self):
        """husk against every other runtime when husk is listed (else the first
        runtime listed); if that one cannot run, also the first working runtime
        against the other working ones."""
        names = [r.name for r in self.runtimes]
        ok = [r.name for r in self.runtimes if r.ok]
        base = "husk" if "husk" in names else names[0]
        pairs = [(base, o) for o in names if o != base]
        if base not in ok and len(ok) > 1:
            pairs += [(ok[0], o) for o in ok[1:]]
        return pairs

    def rt_cell(self, rt, key, unit):
        vals = list(self.samples.get(rt.name, {}).get(key, {}).values())
        if not rt.ok:
            return cell(vals, unit) if key == "binsize" and vals else "n/a"
        if (rt.name, GROUP_OF.get(key)) in self.failed and not vals:
            return "FAILED"
        if key == "minmem":
            m = self.minmem.get(rt.name)
            if not m:
                return "-"
            if "hi" not in m:
                return m["text"]
            s = f"{m['hi'] / MIB:.2f}"
            if m["edge"] - m["lo"] > 16 * KIB:
                s += f" (>{m['lo'] / MIB:.2f})"      # bisection stopped early (--quick)
            if m["hi"] != m["edge"]:
                s += f" (edge {m['edge'] / MIB:.2f})"
            if not m["stable"]:
                s += " unstable"
            return s
        return cell(vals, unit)

    def table(self):
        pairs = self.ratio_pairs()
        header = ["measurement"] + [r.name + ("" if r.ok else " (cannot run)") for r in self.runtimes]
        header += [f"{a}/{b}" for a, b in pairs] + ["floor"]
        rows = [header]
        for key, label, unit in ROWS:
            row = [f"{label} ({unit})"]
            row += [self.rt_cell(rt, key, unit) for rt in self.runtimes]
            for a, b in pairs:
                r = pair_ratio(self.samples.get(a, {}).get(key, {}), self.samples.get(b, {}).get(key, {}))
                row.append("-" if r is None else f"{r:.2f}x")
            row.append(cell(list(self.samples.get("floor", {}).get(key, {}).values()), unit))
            rows.append(row)
        return rows


GROUP_OF = {
    "lifecycle": ("lifecycle",), "rss_run": ("rss",),
    "create": ("create/start/state/delete",), "start": ("create/start/state/delete",),
    "state": ("create/start/state/delete",), "delete": ("create/start/state/delete",),
    "csd": ("create/start/state/delete",), "cgpeak": ("create/start/state/delete",),
    "rss_create": ("rss",), "rss_state": ("rss",),
    "exec": ("exec",), "seccomp_first": ("seccomp",), "seccomp_rep": ("seccomp",),
    "minmem": ("memory limit bisection",), "syscalls": ("syscalls",),
}

# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------

def machine_info():
    info = {"kernel": platform.release(), "cpu": "?", "cores": os.cpu_count(), "memory": "?"}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            info["memory"] = f"{kib / MIB:.1f} GiB"
    except OSError:
        pass
    return info


def report(bench, argv_text, started):
    rows = bench.table()
    m = machine_info()
    n = bench.args.iterations
    lines_head = [
        f"date: {started:%Y-%m-%d %H:%M UTC}; command: `{argv_text}`",
        f"machine: kernel {m['kernel']}, {m['cpu']}, {m['cores']} cores, {m['memory']} RAM",
        f"cgroups: {bench.mode_desc}",
        f"iterations: {n} per measurement{' (--quick)' if bench.args.quick else ''}; "
        + (f"cold: {bench.args.settle:g} ms idle before each sample; " if bench.args.settle else
           "warm: each sample right after an untimed `run` of the same runtime; ") +
        f"cells are median (min-max) in the unit named in the row; ratios are medians of "
        f"per-iteration ratios of runs done back to back in alternation",
    ]
    rt_lines = []
    for rt in bench.runtimes:
        if rt.path:
            rt_lines.append(f"{rt.name}: {rt.path} -- {rt.version}; binary {rt.binnote}; "
                            f"libraries: {' '.join(rt.libs) or '-'}")
        else:
            rt_lines.append(f"{rt.name}: not available")
    notes = [f"{rt.name}: {x}" for rt in bench.runtimes for x in rt.notes]
    floor_cmd = ["ROOTFS" if a == bench.rootfs else os.path.basename(a) if i < 2 or a.startswith("/usr")
                 else a for i, a in enumerate(bench.floor_argv())]
    notes.append("floor (lifecycle): `" + " ".join(floor_cmd) +
                 "` (same namespaces as the bundle, no mounts, no cgroup, no runtime)")
    notes += bench.floor_notes
    notes.append(f"seccomp profile: defaultAction SCMP_ACT_ERRNO, {len(bench.seccomp['syscalls'])} rules "
                 f"({len(SECCOMP_ALLOW)} one-syscall allow rules modelled on Docker's default + 5 personality arg rules "
                 f"+ 1 more whose value differs in every \"new profile\" sample)")
    for name, mm in bench.minmem.items():
        if mm.get("why"):
            notes.append(f"{name}: smallest memory limit: a failing run, at {mm['why']}")
    errs = [f"{who}: {what}: {msg}" for who, what, msg in bench.errors]

    text = ["", "husk benchmark", *lines_head, "", render(rows), "", "runtimes:",
            *["  " + x for x in rt_lines], "notes:", *["  " + x for x in notes]]
    if errs:
        text += ["ERRORS:", *["  " + x for x in errs]]
    print("\n".join(text), flush=True)

    if bench.args.markdown:
        md = ["# husk benchmark results", "",
              *[f"- {x}" for x in lines_head], "",
              render(rows, markdown=True), "",
              "## Runtimes", "", *[f"- {x}" for x in rt_lines], "",
              "## Notes", "", *[f"- {x}" for x in notes], ""]
        if errs:
            md += ["## Errors", "", *[f"- {x}" for x in errs], ""]
        md += ["Measured with `bench/bench.py`; see `bench/README.md` for what each row means.", ""]
        with open(bench.args.markdown, "w") as f:
            f.write("\n".join(md))
        log(f"markdown written to {bench.args.markdown}")
    if bench.args.json:
        with open(bench.args.json, "w") as f:
            json.dump({"machine": m, "mode": bench.mode_desc, "iterations": n,
                       "runtimes": {rt.name: {"path": rt.path, "version": rt.version, "error": rt.error,
                                              "libs": rt.libs} for rt in bench.runtimes},
                       "samples": bench.samples, "minmem": bench.minmem,
                       "errors": bench.errors}, f, indent=1)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Benchmark OCI runtimes (husk, runc, crun) on a busybox bundle.")
    ap.add_argument("--runtimes", default="husk,runc,crun",
                    help="comma list of NAME[=PATH]; `husk` without a path is built with "
                         "scripts/build-release.sh (static musl build) (default: %(default)s)")
    ap.add_argument("--iterations", "-n", type=int, default=None,
                    help="samples per measurement (default 100, 5 with --quick)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode: 5 iterations, at most 4 bisection steps")
    hide = ap.add_mutually_exclusive_group()
    hide.add_argument("--hide-unified", dest="hide", action="store_const", const="yes",
                      help="run everything in a private mount namespace where "
                           f"{UNIFIED} is covered by an empty tmpfs (default on a hybrid host)")
    hide.add_argument("--no-hide-unified", dest="hide", action="store_const", const="no",
                      help="use the host's cgroup layout as it is")
    ap.add_argument("--settle", metavar="MS", type=float, default=0,
                    help="cold mode: sleep MS ms before every sample instead of the default "
                         "untimed warm-up `run` of the same runtime")
    ap.add_argument("--markdown", metavar="FILE", help="also write the table as Markdown to FILE")
    ap.add_argument("--json", metavar="FILE", help="also write raw samples as JSON to FILE")
    ap.add_argument("--_in-ns", dest="in_ns", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.iterations is None:
        args.iterations = 5 if args.quick else 100
    if args.iterations < 1:
        ap.error("--iterations must be >= 1")
    args.hide = args.hide or "auto"
    return args


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if os.geteuid() != 0:
        raise SystemExit("bench.py must run as root (containers with cgroups)")
    for tool in ("unshare", "chroot", "ldd"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} not found")

    layout = cgroup_layout()
    if args.in_ns:
        # second stage: we are inside `unshare --mount --propagation private`
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755",
                            "husk-bench-hide", UNIFIED], capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"cannot cover {UNIFIED} with tmpfs: {p.stderr.strip()}")
        mode_desc = (f"hybrid host; {UNIFIED} hidden: the benchmark re-executed itself once in "
                     f"a private mount namespace with an empty tmpfs there, so every runtime "
                     f"sees cgroup v1 only (--hide-unified)")
    else:
        want_hide = args.hide == "yes" or (args.hide == "auto" and layout == "hybrid")
        if want_hide:
            if not os.path.isdir(UNIFIED):
                raise SystemExit(f"--hide-unified: {UNIFIED} does not exist")
            unshare = shutil.which("unshare")
            new = [unshare, "--mount", "--propagation", "private", sys.executable,
                   os.path.abspath(__file__), *argv, "--_in-ns"]
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(unshare, new)     # same pid; the namespace dies with us
        mode_desc = f"{layout} host, used as it is (--no-hide-unified)" if layout == "hybrid" \
            else f"{layout} host, used as it is"

    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    set_subreaper()
    started = datetime.datetime.now(datetime.timezone.utc)
    argv_text = "python3 bench/bench.py " + " ".join(a for a in argv if a != "--_in-ns")
    bench = Bench(args, parse_runtimes(args.runtimes), mode_desc)
    log(f"husk bench: {mode_desc}; temp dir {bench.tmp}; cgroup parent /{bench.cg_parent}")
    rc = 1
    try:
        bench.run_all()
        report(bench, argv_text.strip(), started)
        rc = 1 if bench.errors else 0
    except Interrupted as e:
        log(f"interrupted ({e}); cleaning up")
        rc = 130
    finally:
        for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_IGN)
        cleanup(bench)
    if rc == 1:
        log("FAILED: at least one runtime or measurement failed (see ERRORS)")
    return rc


def cleanup(bench):
    for rt in bench.runtimes:
        bench.cleanup_runtime(rt)
    for pid in our_children():      # orphaned container processes re-parented to us
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    time.sleep(0.05)
    reap_strays()
    left = remove_cgroup_tree(bench.cg_parent)
    if left:
        log(f"cleanup: could not remove cgroups: {', '.join(left)}")
    for fd in (bench.sp.out_fd, bench.sp.err_fd, bench.sp.null_fd):
        try:
            os.close(fd)
        except OSError:
            pass
    shutil.rmtree(bench.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
