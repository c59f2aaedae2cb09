//! The tables: every option and command husk takes, with its help, and how
//! each command is made from what was read.

use super::parse::{Cmd, Matches, Opt};
use super::{Command, CreateArgs};
use crate::cgroup_cmds::UpdateArgs;
use crate::exec::ExecArgs;

/// Before the command; those marked global also after it.
pub static GLOBALS: &[Opt] = &[
    Opt::flag("debug", "enable debug logging").global(),
    Opt::val(
        "log",
        "set the log file to write husk logs to (default is stderr)",
    )
    .global(),
    Opt::val(
        "log-format",
        "set the log format ('text' (default), or 'json')",
    )
    .default("text")
    .global(),
    Opt::val("root", "root directory for storage of container state")
        .default("/run/husk")
        .global(),
    Opt::val(
        "criu",
        "path to the criu binary used for checkpoint and restore",
    )
    .default("criu")
    .global(),
    Opt::flag(
        "systemd-cgroup",
        "accepted for compatibility: cgroups are managed through cgroupfs",
    )
    .global(),
    Opt::maybe(
        "rootless",
        &["true", "false", "auto"],
        "true",
        "ignore cgroup permission errors ('true', 'false', or 'auto')",
    )
    .default("auto"),
    Opt::flag("version", "print the version").short('v'),
];

static SPEC: &[Opt] = &[
    Opt::val("bundle", "path to the root of the bundle directory").short('b'),
    Opt::flag(
        "rootless",
        "generate a configuration for a rootless container",
    ),
];

static CREATE: &[Opt] = &[
    Opt::val("bundle", "path to the root of the bundle directory")
        .short('b')
        .default("."),
    Opt::val(
        "console-socket",
        "path to an AF_UNIX socket which will receive the pty master",
    ),
    Opt::val("pid-file", "specify the file to write the process id to"),
    Opt::flag(
        "no-pivot",
        "do not use pivot root to jail process inside rootfs",
    ),
    Opt::flag(
        "no-new-keyring",
        "do not create a new session keyring for the container",
    ),
    Opt::u32(
        "preserve-fds",
        "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)",
    ),
];

static RUN: &[Opt] = &[
    Opt::flag("detach", "detach from the container's process").short('d'),
    Opt::flag("keep", "do not delete the container after it exits"),
];

static LIST: &[Opt] = &[
    Opt::val("format", "select one of: table or json")
        .short('f')
        .default("table"),
    Opt::flag("quiet", "display only container IDs").short('q'),
];

static KILL: &[Opt] = &[Opt::flag(
    "all",
    "send the specified signal to all processes inside the container",
)
.short('a')];

static DELETE: &[Opt] = &[Opt::flag(
    "force",
    "forcibly deletes the container if it is still running (uses SIGKILL)",
)
.short('f')];

static EXEC: &[Opt] = &[
    Opt::val(
        "console-socket",
        "path to an AF_UNIX socket which will receive the pty master",
    ),
    Opt::val("cwd", "current working directory in the container"),
    Opt::val("env", "set environment variables").short('e'),
    Opt::flag("tty", "allocate a pseudo-TTY").short('t'),
    Opt::val("user", "UID (format: <uid>[:<gid>])").short('u'),
    Opt::u32("additional-gids", "additional gids")
        .short('g')
        .default(""),
    Opt::val("process", "path to the process.json").short('p'),
    Opt::flag("detach", "detach from the container's process").short('d'),
    Opt::val("pid-file", "specify the file to write the process id to"),
    Opt::val(
        "process-label",
        "set the asm process label for the process commonly used with selinux",
    ),
    Opt::val("apparmor", "set the apparmor profile for the process"),
    Opt::flag(
        "no-new-privs",
        "set the no new privileges value for the process",
    ),
    Opt::val(
        "cap",
        "add a capability to the bounding set for the process",
    )
    .short('c'),
    Opt::u32(
        "preserve-fds",
        "pass N additional file descriptors to the container",
    ),
    Opt::val("cgroup", "run the process in an (existing) sub-cgroup(s)"),
    Opt::flag("ignore-paused", "allow exec in a paused container"),
];

static UPDATE: &[Opt] = &[
    Opt::val(
        "resources",
        "path to the file containing the resources to update or '-' to read from the standard input (a JSON LinuxResources; all other options are then ignored)",
    )
    .short('r'),
    Opt::i64("blkio-weight", "Specifies per cgroup weight, range is from 10 to 1000"),
    Opt::val("cpu-period", "CPU CFS period to be used for hardcapping (in usecs). 0 to use system default"),
    Opt::val("cpu-quota", "CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period"),
    Opt::val("cpu-burst", "CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period"),
    Opt::val("cpu-share", "CPU shares (relative weight vs. other containers)"),
    Opt::val("cpu-rt-period", "CPU realtime period to be used for hardcapping (in usecs). 0 to use system default"),
    Opt::val("cpu-rt-runtime", "CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period"),
    Opt::val("cpuset-cpus", "CPU(s) to use"),
    Opt::val("cpuset-mems", "Memory node(s) to use"),
    Opt::val("cpu-idle", "set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE"),
    Opt::val("kernel-memory", "(obsoleted; do not use)").hide(),
    Opt::val("kernel-memory-tcp", "(obsoleted; do not use)").hide(),
    Opt::val("memory", "Memory limit (in bytes)"),
    Opt::val("memory-reservation", "Memory reservation or soft_limit (in bytes)"),
    Opt::val("memory-swap", "Total memory usage (memory + swap); set '-1' to enable unlimited swap"),
    Opt::i64("pids-limit", "Maximum number of pids allowed in the container"),
    Opt::val("l3-cache-schema", "The string of Intel RDT/CAT L3 cache schema"),
    Opt::val("mem-bw-schema", "The string of Intel RDT/MBA memory bandwidth schema"),
];

static EVENTS: &[Opt] = &[
    Opt::val("interval", "set the stats collection interval").default("5s"),
    Opt::flag("stats", "display the container's stats then exit"),
];

static PS: &[Opt] = &[Opt::val("format", "select one of: table or json")
    .short('f')
    .default("table")];

const ONE: (usize, usize) = (1, 1);
const NONE: (usize, usize) = (0, 0);
const ID: &str = "<container-id>";

pub static COMMANDS: &[Cmd] = &[
    Cmd {
        name: "spec",
        alias: "",
        about: "create a new specification file",
        usage: "",
        opts: &[SPEC],
        args: NONE,
        trailing: false,
        build: |m| Command::Spec {
            bundle: m.string("bundle"),
            rootless: m.flag("rootless"),
        },
    },
    Cmd {
        name: "create",
        alias: "",
        about: "create a container",
        usage: ID,
        opts: &[CREATE],
        args: ONE,
        trailing: false,
        build: |m| Command::Create(create_args(m)),
    },
    Cmd {
        name: "start",
        alias: "",
        about: "executes the user defined process in a created container",
        usage: ID,
        opts: &[],
        args: ONE,
        trailing: false,
        build: |m| Command::Start { id: m.arg() },
    },
    Cmd {
        name: "run",
        alias: "",
        about: "create and run a container",
        usage: ID,
        opts: &[CREATE, RUN],
        args: ONE,
        trailing: false,
        build: |m| Command::Run {
            create: create_args(m),
            detach: m.flag("detach"),
            keep: m.flag("keep"),
        },
    },
    Cmd {
        name: "state",
        alias: "",
        about: "output the state of a container",
        usage: ID,
        opts: &[],
        args: ONE,
        trailing: false,
        build: |m| Command::State { id: m.arg() },
    },
    Cmd {
        name: "list",
        alias: "ls",
        about: "lists containers started by husk with the given root",
        usage: "",
        opts: &[LIST],
        args: NONE,
        trailing: false,
        build: |m| Command::List {
            format: m.string("format"),
            quiet: m.flag("quiet"),
        },
    },
    Cmd {
        name: "kill",
        alias: "",
        about: "kill sends the specified signal (default: SIGTERM) to the container's init process",
        usage: "<container-id> [signal]",
        opts: &[KILL],
        args: (1, 2),
        trailing: false,
        build: |m| Command::Kill {
            all: m.flag("all"),
            id: m.arg(),
            signal: m.opt_arg(),
        },
    },
    Cmd {
        name: "delete",
        alias: "",
        about: "delete any resources held by the container",
        usage: ID,
        opts: &[DELETE],
        args: ONE,
        trailing: false,
        build: |m| Command::Delete {
            force: m.flag("force"),
            id: m.arg(),
        },
    },
    Cmd {
        name: "features",
        alias: "",
        about: "show the enabled features",
        usage: "",
        opts: &[],
        args: NONE,
        trailing: false,
        build: |_| Command::Features,
    },
    Cmd {
        name: "exec",
        alias: "",
        about: "execute new process inside the container",
        usage: "<container-id> <command> [args...]\n\n<command> [args...]: the command and its arguments",
        opts: &[EXEC],
        args: (1, usize::MAX),
        trailing: true,
        build: exec_args,
    },
    Cmd {
        name: "pause",
        alias: "",
        about: "pause suspends all processes inside the container",
        usage: ID,
        opts: &[],
        args: ONE,
        trailing: false,
        build: |m| Command::Pause { id: m.arg() },
    },
    Cmd {
        name: "resume",
        alias: "",
        about: "resumes all processes that have been previously paused",
        usage: ID,
        opts: &[],
        args: ONE,
        trailing: false,
        build: |m| Command::Resume { id: m.arg() },
    },
    Cmd {
        name: "update",
        alias: "",
        about: "update container resource constraints",
        usage: ID,
        opts: &[UPDATE],
        args: ONE,
        trailing: false,
        build: update_args,
    },
    Cmd {
        name: "events",
        alias: "",
        about: "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
        usage: ID,
        opts: &[EVENTS],
        args: ONE,
        trailing: false,
        build: |m| Command::Events {
            interval: m.string("interval"),
            stats: m.flag("stats"),
            id: m.arg(),
        },
    },
    Cmd {
        name: "ps",
        alias: "",
        about: "ps displays the processes running inside a container",
        usage: "<container-id> [ps-args...]\n\n[ps-args...]: arguments for ps (default: -ef)",
        opts: &[PS],
        args: (1, usize::MAX),
        trailing: true,
        build: |m| Command::Ps {
            format: m.string("format"),
            id: m.arg(),
            ps_args: m.rest(),
        },
    },
];

fn create_args(m: &mut Matches) -> CreateArgs {
    CreateArgs {
        bundle: m.string("bundle"),
        console_socket: m.value("console-socket"),
        pid_file: m.value("pid-file"),
        no_pivot: m.flag("no-pivot"),
        no_new_keyring: m.flag("no-new-keyring"),
        preserve_fds: m.num("preserve-fds"),
        id: m.arg(),
    }
}

fn exec_args(m: &mut Matches) -> Command {
    Command::Exec(ExecArgs {
        console_socket: m.value("console-socket"),
        cwd: m.value("cwd"),
        env: m.values("env"),
        tty: m.flag("tty"),
        user: m.value("user"),
        additional_gids: m.nums("additional-gids"),
        process: m.value("process"),
        detach: m.flag("detach"),
        pid_file: m.value("pid-file"),
        process_label: m.value("process-label"),
        apparmor: m.value("apparmor"),
        no_new_privs: m.flag("no-new-privs"),
        cap: m.values("cap"),
        preserve_fds: m.num("preserve-fds"),
        cgroup: m.values("cgroup"),
        ignore_paused: m.flag("ignore-paused"),
        // Fields are made in the order written: the id, then the rest.
        id: m.arg(),
        command: m.rest(),
    })
}

fn update_args(m: &mut Matches) -> Command {
    Command::Update(UpdateArgs {
        resources: m.value("resources"),
        blkio_weight: m.num("blkio-weight"),
        cpu_period: m.value("cpu-period"),
        cpu_quota: m.value("cpu-quota"),
        cpu_burst: m.value("cpu-burst"),
        cpu_share: m.value("cpu-share"),
        cpu_rt_period: m.value("cpu-rt-period"),
        cpu_rt_runtime: m.value("cpu-rt-runtime"),
        cpuset_cpus: m.value("cpuset-cpus"),
        cpuset_mems: m.value("cpuset-mems"),
        cpu_idle: m.value("cpu-idle"),
        kernel_memory: m.value("kernel-memory"),
        kernel_memory_tcp: m.value("kernel-memory-tcp"),
        memory: m.value("memory"),
        memory_reservation: m.value("memory-reservation"),
        memory_swap: m.value("memory-swap"),
        pids_limit: m.num("pids-limit"),
        l3_cache_schema: m.value("l3-cache-schema"),
        mem_bw_schema: m.value("mem-bw-schema"),
        id: m.arg(),
    })
}
