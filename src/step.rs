//! Numbered steps of the container's init, so that the child can report a
//! failure as (step, index, errno) and the parent phrase it for the user.

use crate::plan::Plan;

macro_rules! steps {
    ($($name:ident = $n:expr,)*) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u32)]
        pub enum Step { $($name = $n,)* }
        impl Step {
            pub fn from_u32(v: u32) -> Option<Step> {
                match v { $($n => Some(Step::$name),)* _ => None }
            }
        }
    };
}

steps! {
    Channel = 1,
    Setns = 2,
    Unshare = 3,
    TimeOffsets = 4,
    Fork = 5,
    Setsid = 6,
    RootPropagation = 7,
    BindRoot = 8,
    OpenRoot = 9,
    MountDest = 10,
    Mount = 11,
    MountRemount = 12,
    MountPropagation = 13,
    MountSetattr = 14,
    Device = 15,
    DevLink = 16,
    CreateContainerHook = 17,
    Pivot = 18,
    Masked = 19,
    Readonly = 20,
    RootReadonly = 21,
    Sysctl = 22,
    Hostname = 23,
    Domainname = 24,
    Pty = 25,
    Rlimit = 26,
    NoNewPrivs = 27,
    Groups = 28,
    Setgid = 29,
    Setuid = 30,
    Caps = 31,
    Cwd = 32,
    CwdEscape = 33,
    ExeNotFound = 34,
    Gate = 35,
    StartContainerHook = 36,
    Cloexec = 37,
    Seccomp = 38,
    Exec = 39,
    Keyring = 40,
    RootPropagationAfter = 41,
    Personality = 42,
    Scheduler = 43,
    IoPriority = 44,
    Lsm = 45,
    SeccompListener = 46,
    MemoryPolicy = 47,
    CpuAffinity = 48,
    Dumpable = 49,
    MountInProc = 50,
    UserNsRoot = 51,
    CgroupJoin = 52,
}

fn s(c: &std::ffi::CStr) -> String {
    c.to_string_lossy().into_owned()
}

/// Say what failed, in the words of the config.
pub fn describe(plan: &Plan, step: Step, i: usize) -> String {
    let mount = || {
        plan.mounts
            .get(i)
            .map(|m| {
                format!(
                    "{} on {} (mounts[{}])",
                    if m.fstype.is_empty() {
                        s(&m.source)
                    } else {
                        s(&m.fstype)
                    },
                    m.dest.display,
                    m.index
                )
            })
            .unwrap_or_default()
    };
    let arg0 = plan.argv.strings.first().map(|a| s(a)).unwrap_or_default();
    match step {
        Step::Channel => "talk to the runtime".into(),
        Step::Setns => format!(
            "join namespace linux.namespaces[{}]",
            plan.joins.get(i).map(|j| j.2).unwrap_or(i)
        ),
        Step::Unshare => "create namespaces".into(),
        Step::TimeOffsets => "write linux.timeOffsets".into(),
        Step::Fork => "fork the container's init".into(),
        Step::Setsid => "setsid".into(),
        Step::RootPropagation => "set the propagation of / (linux.rootfsPropagation)".into(),
        Step::BindRoot => format!("bind mount the rootfs {}", s(&plan.rootfs)),
        Step::OpenRoot => format!("open the rootfs {}", s(&plan.rootfs)),
        Step::MountDest => format!("create the mount point of {}", mount()),
        Step::Mount => format!("mount {}", mount()),
        Step::MountInProc => format!(
            "mount {}: the destination resolves into /proc, where only a few files may be mounted over",
            mount()
        ),
        Step::MountRemount => format!("remount {}", mount()),
        Step::MountPropagation => format!("set propagation of {}", mount()),
        Step::MountSetattr => format!("set recursive attributes of {}", mount()),
        Step::Device => format!(
            "create device {}",
            plan.devices
                .get(i)
                .map(|d| d.path.display.clone())
                .unwrap_or_default()
        ),
        Step::DevLink => "create the /dev symlinks".into(),
        Step::CreateContainerHook => format!("run hooks.createContainer[{i}]"),
        Step::Pivot => "pivot_root into the rootfs".into(),
        Step::Masked => format!(
            "mask linux.maskedPaths[{i}] {}",
            plan.masked.get(i).map(|p| s(p)).unwrap_or_default()
        ),
        Step::Readonly => format!(
            "make linux.readonlyPaths[{i}] {} read-only",
            plan.readonly.get(i).map(|p| s(p)).unwrap_or_default()
        ),
        Step::RootReadonly => "remount the rootfs read-only (root.readonly)".into(),
        Step::Sysctl => format!(
            "write linux.sysctl {}",
            plan.sysctl.get(i).map(|p| s(&p.0)).unwrap_or_default()
        ),
        Step::Hostname => "set hostname".into(),
        Step::Domainname => "set domainname".into(),
        Step::Pty => "set up the terminal (process.terminal)".into(),
        Step::Rlimit => format!("set process.rlimits[{i}]"),
        Step::NoNewPrivs => "set process.noNewPrivileges".into(),
        Step::Groups => "set process.user.additionalGids".into(),
        Step::Setgid => format!("set gid {} (process.user.gid)", plan.gid),
        Step::Setuid => format!("set uid {} (process.user.uid)", plan.uid),
        Step::Caps => "set process.capabilities".into(),
        Step::Cwd => format!("chdir to process.cwd {}", s(&plan.cwd)),
        Step::CwdEscape => format!("process.cwd {} is outside the container", s(&plan.cwd)),
        Step::ExeNotFound => format!("exec: {arg0:?}: executable file not found in $PATH"),
        Step::Gate => "wait for start".into(),
        Step::StartContainerHook => format!("run hooks.startContainer[{i}]"),
        Step::Cloexec => "close file descriptors".into(),
        Step::Seccomp => "load the seccomp filter (linux.seccomp)".into(),
        Step::Exec => format!("exec {arg0:?}"),
        Step::Keyring => "create a session keyring".into(),
        Step::RootPropagationAfter => "set linux.rootfsPropagation on the new root".into(),
        Step::Personality => "set linux.personality".into(),
        Step::Scheduler => "set process.scheduler".into(),
        Step::IoPriority => "set process.ioPriority".into(),
        Step::Lsm => "set the LSM label (process.apparmorProfile / process.selinuxLabel)".into(),
        Step::SeccompListener => "send the seccomp listener fd (linux.seccomp.listenerPath)".into(),
        Step::MemoryPolicy => "set linux.memoryPolicy".into(),
        Step::CpuAffinity => "set process.execCPUAffinity".into(),
        Step::Dumpable => "make the container's init non-dumpable".into(),
        Step::CgroupJoin => format!(
            "join the container's cgroup (v1 hierarchy {} of linux.cgroupsPath)",
            i + 1
        ),
        Step::UserNsRoot => {
            "become root in the user namespace (linux.uidMappings, linux.gidMappings)".into()
        }
    }
}
