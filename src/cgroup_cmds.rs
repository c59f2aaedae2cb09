//! The commands that work on a container's cgroup: pause, resume, update,
//! events and ps, flag for flag as runc has them.

use crate::cgroups::Cgroup;
use crate::error::{Context, Error, Result};
use crate::state::{self, State, Status};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxPids, LinuxResources};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn cgroup_of(st: &State) -> Result<Box<dyn Cgroup>> {
    crate::cgroups::reopen(st)
        .ok_or_else(|| Error::Msg(format!("container {} has no cgroup", st.id)))
}

fn cg_err(e: crate::cgroup::CgroupError) -> Error {
    Error::Msg(e.to_string())
}

use crate::container::open;

/// `pause`: freeze every process of a running (or created) container.
pub fn pause(root: &Path, id: &str) -> Result<()> {
    let (_dir, st, status) = open(root, id)?;
    if !matches!(status, Status::Running | Status::Created) {
        return Err(Error::Invalid("container not running".into()));
    }
    cgroup_of(&st)?.freeze().map_err(cg_err)
}

/// `resume`: thaw a paused container.
pub fn resume(root: &Path, id: &str) -> Result<()> {
    let (_dir, st, status) = open(root, id)?;
    let cg = cgroup_of(&st)?;
    // A created container can be paused too; its status still reads "created".
    let paused =
        status == Status::Paused || (status == Status::Created && cg.is_frozen().unwrap_or(false));
    if !paused {
        return Err(Error::Invalid("container not paused".into()));
    }
    cg.thaw().map_err(cg_err)
}

// ---------------------------------------------------------------- update

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateArgs {
    /// path to the file containing the resources to update or '-' to read from the standard input
    /// (a JSON LinuxResources; all other options are then ignored)
    pub resources: Option<String>,
    /// Specifies per cgroup weight, range is from 10 to 1000
    pub blkio_weight: i64,
    /// CPU CFS period to be used for hardcapping (in usecs). 0 to use system default
    pub cpu_period: Option<String>,
    /// CPU CFS hardcap limit (in usecs). Allowed cpu time in a given period
    pub cpu_quota: Option<String>,
    /// CPU CFS hardcap burst limit (in usecs). Allowed accumulated cpu time additionally for burst a given period
    pub cpu_burst: Option<String>,
    /// CPU shares (relative weight vs. other containers)
    pub cpu_share: Option<String>,
    /// CPU realtime period to be used for hardcapping (in usecs). 0 to use system default
    pub cpu_rt_period: Option<String>,
    /// CPU realtime hardcap limit (in usecs). Allowed cpu time in a given period
    pub cpu_rt_runtime: Option<String>,
    /// CPU(s) to use
    pub cpuset_cpus: Option<String>,
    /// Memory node(s) to use
    pub cpuset_mems: Option<String>,
    /// set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE
    pub cpu_idle: Option<String>,
    /// (obsoleted; do not use)
    pub kernel_memory: Option<String>,
    /// (obsoleted; do not use)
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (in bytes)
    pub memory: Option<String>,
    /// Memory reservation or soft_limit (in bytes)
    pub memory_reservation: Option<String>,
    /// Total memory usage (memory + swap); set '-1' to enable unlimited swap
    pub memory_swap: Option<String>,
    /// Maximum number of pids allowed in the container
    pub pids_limit: i64,
    /// The string of Intel RDT/CAT L3 cache schema
    pub l3_cache_schema: Option<String>,
    /// The string of Intel RDT/MBA memory bandwidth schema
    pub mem_bw_schema: Option<String>,
    pub id: String,
}

/// A size as docker/go-units' RAMInBytes reads it: a decimal number, an
/// optional space, an optional k/m/g/t/p prefix (powers of 1024), an
/// optional "i" and an optional "b", all case-insensitive.
pub fn parse_ram(s: &str) -> std::result::Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(num_end);
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || (num.contains('.') && (frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit())))
    {
        return Err(bad());
    }
    let value: f64 = num.parse().map_err(|_| bad())?;
    let rest = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let mut chars = rest.as_str();
    let mut mul: f64 = 1.0;
    if let Some(c) = chars.chars().next() {
        let p = match c {
            'k' => 1,
            'm' => 2,
            'g' => 3,
            't' => 4,
            'p' => 5,
            _ => 0,
        };
        if p > 0 {
            mul = 1024f64.powi(p);
            chars = &chars[1..];
        }
    }
    let chars = chars.strip_prefix('i').unwrap_or(chars);
    let chars = chars.strip_prefix('b').unwrap_or(chars);
    if !chars.is_empty() {
        return Err(bad());
    }
    let bytes = value * mul;
    if !bytes.is_finite() || bytes >= i64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as i64)
}

/// The resource changes that `update` asks for, as runc gathers them.
fn requested(a: &UpdateArgs) -> Result<LinuxResources> {
    let mut r = LinuxResources::default();
    if let Some(path) = a.resources.as_deref().filter(|p| !p.is_empty()) {
        let data = if path == "-" {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut v).ctx("read stdin")?;
            v
        } else {
            std::fs::read(path).with_ctx(|| format!("open {path}"))?
        };
        r = crate::jsonpath::from_slice(&data)
            .map_err(|e| Error::Invalid(format!("decode resources from {path}: {e}")))?;
        if let Some(m) = r.memory() {
            if m.kernel().is_some() || m.kernel_tcp().is_some() {
                crate::log::warn("Kernel memory settings are ignored and will be removed");
            }
        }
        return Ok(r);
    }
    let invalid = |opt: &str, e: String| Error::Invalid(format!("invalid value for {opt}: {e}"));
    let uint = |opt: &str, v: &Option<String>| -> Result<Option<u64>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u64>().map_err(|e| invalid(opt, e.to_string())))
            .transpose()
    };
    let int = |opt: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<i64>().map_err(|e| invalid(opt, e.to_string())))
            .transpose()
    };
    let ram = |opt: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| {
                if s == "-1" {
                    Ok(-1)
                } else {
                    parse_ram(s).map_err(|e| invalid(opt, e))
                }
            })
            .transpose()
    };
    if a.blkio_weight != 0 {
        let mut b = LinuxBlockIo::default();
        b.set_weight(Some(a.blkio_weight as u16));
        r.set_block_io(Some(b));
    }
    let mut c = LinuxCpu::default();
    c.set_cpus(a.cpuset_cpus.clone().filter(|s| !s.is_empty()));
    c.set_mems(a.cpuset_mems.clone().filter(|s| !s.is_empty()));
    c.set_idle(int("cpu-idle", &a.cpu_idle)?);
    c.set_burst(uint("cpu-burst", &a.cpu_burst)?);
    c.set_period(uint("cpu-period", &a.cpu_period)?);
    c.set_realtime_period(uint("cpu-rt-period", &a.cpu_rt_period)?);
    c.set_shares(uint("cpu-share", &a.cpu_share)?);
    c.set_quota(int("cpu-quota", &a.cpu_quota)?);
    c.set_realtime_runtime(int("cpu-rt-runtime", &a.cpu_rt_runtime)?);
    r.set_cpu(Some(c));
    let mut m = LinuxMemory::default();
    m.set_limit(ram("memory", &a.memory)?);
    m.set_swap(ram("memory-swap", &a.memory_swap)?);
    m.set_reservation(ram("memory-reservation", &a.memory_reservation)?);
    r.set_memory(Some(m));
    for (opt, v) in [
        ("kernel-memory", &a.kernel_memory),
        ("kernel-memory-tcp", &a.kernel_memory_tcp),
    ] {
        if v.as_deref().is_some_and(|s| !s.is_empty()) {
            crate::log::warn(&format!("Setting --{opt} is ignored and will be removed"));
        }
    }
    if a.pids_limit != 0 {
        let mut p = LinuxPids::default();
        p.set_limit(a.pids_limit);
        r.set_pids(Some(p));
    }
    Ok(r)
}

/// Merge the changes runc's `update` takes (memory limit, reservation, swap
/// and checkBeforeUpdate; every cpu field; blkio weight; pids limit; unified)
/// into the container's resources. Zero means "unchanged", as in runc's
/// cgroup writers.
pub fn merge(cur: &mut LinuxResources, r: &LinuxResources) {
    fn pick<T: Copy + PartialEq + Default>(old: Option<T>, new: Option<T>) -> Option<T> {
        match new {
            Some(v) if v != T::default() => Some(v),
            _ => old,
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        let mut b = cur.block_io().clone().unwrap_or_default();
        b.set_weight(pick(b.weight(), Some(w)));
        cur.set_block_io(Some(b));
    }
    if let Some(n) = r.cpu() {
        let mut c = cur.cpu().clone().unwrap_or_default();
        c.set_period(pick(c.period(), n.period()));
        c.set_quota(pick(c.quota(), n.quota()));
        c.set_burst(n.burst().or(c.burst()));
        c.set_shares(pick(c.shares(), n.shares()));
        c.set_realtime_period(pick(c.realtime_period(), n.realtime_period()));
        c.set_realtime_runtime(pick(c.realtime_runtime(), n.realtime_runtime()));
        if let Some(s) = n.cpus().clone().filter(|s| !s.is_empty()) {
            c.set_cpus(Some(s));
        }
        if let Some(s) = n.mems().clone().filter(|s| !s.is_empty()) {
            c.set_mems(Some(s));
        }
        c.set_idle(n.idle().or(c.idle()));
        cur.set_cpu(Some(c));
    }
    if let Some(n) = r.memory() {
        let mut m = (*cur.memory()).unwrap_or_default();
        m.set_limit(pick(m.limit(), n.limit()));
        // Unlimited memory without a swap value means unlimited swap too.
        let swap = match (n.limit(), n.swap()) {
            (Some(-1), None) => Some(-1),
            (_, s) => s,
        };
        m.set_swap(pick(m.swap(), swap));
        m.set_reservation(pick(m.reservation(), n.reservation()));
        m.set_check_before_update(n.check_before_update().or(m.check_before_update()));
        cur.set_memory(Some(m));
    }
    if let Some(p) = r.pids().filter(|p| p.limit() != 0) {
        cur.set_pids(Some(p));
    }
    if let Some(u) = r.unified() {
        let mut all = cur.unified().clone().unwrap_or_default();
        all.extend(u.iter().map(|(k, v)| (k.clone(), v.clone())));
        cur.set_unified(Some(all));
    }
}

/// What `update` writes: the merged memory, cpu, blkio, pids and unified
/// settings (never devices), so inter-dependent values are written together.
fn to_apply(res: &LinuxResources) -> LinuxResources {
    let mut out = LinuxResources::default();
    out.set_memory(*res.memory());
    out.set_cpu(res.cpu().clone());
    out.set_block_io(res.block_io().clone());
    out.set_pids(*res.pids());
    out.set_unified(res.unified().clone());
    out
}

fn check_rdt(a: &UpdateArgs) -> Result<()> {
    let rdt = Path::new("/sys/fs/resctrl/info");
    for (v, what, dir, name) in [
        (&a.l3_cache_schema, "CAT", "L3", "l3 cache schema"),
        (&a.mem_bw_schema, "MBA", "MB", "memory bandwidth schema"),
    ] {
        if v.as_deref().is_some_and(|s| !s.is_empty()) {
            if !rdt.join(dir).is_dir() {
                return Err(Error::Invalid(format!(
                    "Intel RDT/{what}: {name} is not enabled"
                )));
            }
            return Err(Error::Invalid(format!(
                "Intel RDT/{what}: updating the {name} is not supported by husk"
            )));
        }
    }
    Ok(())
}

pub fn update(root: &Path, a: &UpdateArgs) -> Result<()> {
    let (dir, mut st, status) = open(root, &a.id)?;
    if status == Status::Stopped {
        return Err(Error::Invalid("container not running".into()));
    }
    let r = requested(a)?;
    if a.resources.as_deref().is_none_or(|p| p.is_empty()) {
        check_rdt(a)?;
    }
    let cg = cgroup_of(&st)?;
    let mut config = st.config_value()?;
    let old: LinuxResources = match config.pointer("/linux/resources") {
        Some(v) if !v.is_null() => serde_json::from_value(v.clone())
            .map_err(|e| Error::Msg(format!("stored linux.resources: {e}")))?,
        _ => LinuxResources::default(),
    };
    let mut new = old.clone();
    merge(&mut new, &r);
    if let Err(e) = cg.apply(&to_apply(&new)) {
        // Like runc: try to put the old values back.
        if let Err(back) = cg.apply(&to_apply(&old)) {
            crate::log::warn(&format!(
                "setting back cgroup configs failed due to error: {back}, \
                 your state.json and actual configs might be inconsistent"
            ));
        }
        return Err(cg_err(e));
    }
    let value = serde_json::to_value(&new).expect("resources serialize");
    match config.pointer_mut("/linux") {
        Some(serde_json::Value::Object(l)) => {
            l.insert("resources".into(), value);
        }
        _ => config["linux"] = serde_json::json!({ "resources": value }),
    }
    st.config = crate::state::raw_json(&config);
    dir.save(&st)
}

// ---------------------------------------------------------------- events

/// A Go duration ("5s", "1m30s", "250ms", "1.5h", "0"), as `--interval`
/// takes it. Negative durations read as zero: the caller rejects both.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("time: invalid duration \"{s}\"");
    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| format!("time: missing unit in duration \"{s}\""))?;
        let (num, tail) = rest.split_at(n);
        if num.is_empty() || num == "." {
            return Err(bad());
        }
        let v: f64 = num.parse().map_err(|_| bad())?;
        let u = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(u);
        let mul = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(format!("time: unknown unit \"{unit}\" in duration \"{s}\"")),
        };
        nanos += v * mul;
        rest = tail;
    }
    if neg {
        return Ok(Duration::ZERO);
    }
    Ok(Duration::from_nanos(nanos as u64))
}

/// What tells us about OOM kills in the container's memory cgroup.
enum OomWatch {
    /// v1: an eventfd registered on memory.oom_control via cgroup.event_control.
    /// It also fires when the cgroup is removed.
    V1 {
        efd: nix::sys::eventfd::EventFd,
        _oom_control: std::fs::File,
        dir: PathBuf,
    },
    /// v2: inotify on memory.events, comparing the oom_kill count.
    V2 {
        ino: nix::sys::inotify::Inotify,
        events: PathBuf,
        last: u64,
    },
    None,
}

fn oom_kills(events: &Path) -> u64 {
    std::fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

impl OomWatch {
    fn new(cg: &dyn Cgroup) -> Result<OomWatch> {
        use std::os::fd::AsRawFd;
        for dir in cg.paths() {
            let ctl = dir.join("memory.oom_control");
            if ctl.exists() {
                let efd = nix::sys::eventfd::EventFd::from_flags(
                    nix::sys::eventfd::EfdFlags::EFD_CLOEXEC,
                )
                .ctx("eventfd")?;
                let f = std::fs::File::open(&ctl).with_ctx(|| format!("open {}", ctl.display()))?;
                let reg = dir.join("cgroup.event_control");
                let line = format!("{} {}", efd.as_fd().as_raw_fd(), f.as_raw_fd());
                std::fs::write(&reg, line).with_ctx(|| format!("write {}", reg.display()))?;
                return Ok(OomWatch::V1 {
                    efd,
                    _oom_control: f,
                    dir,
                });
            }
            let events = dir.join("memory.events");
            if events.exists() {
                use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
                let ino = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
                    .ctx("inotify_init")?;
                ino.add_watch(&events, AddWatchFlags::IN_MODIFY)
                    .with_ctx(|| format!("inotify_add_watch {}", events.display()))?;
                let last = oom_kills(&events);
                return Ok(OomWatch::V2 { ino, events, last });
            }
        }
        Ok(OomWatch::None)
    }

    fn fd(&self) -> Option<std::os::fd::BorrowedFd<'_>> {
        match self {
            OomWatch::V1 { efd, .. } => Some(efd.as_fd()),
            OomWatch::V2 { ino, .. } => Some(ino.as_fd()),
            OomWatch::None => None,
        }
    }

    /// After the fd became readable: how many OOM kills happened, and
    /// whether the cgroup is gone (no more events will come).
    fn read(&mut self) -> (u64, bool) {
        match self {
            OomWatch::V1 { efd, dir, .. } => {
                let n = efd.read().unwrap_or(0);
                if !dir.join("cgroup.event_control").exists() {
                    return (0, true);
                }
                (n, false)
            }
            OomWatch::V2 { ino, events, last } => {
                let _ = ino.read_events();
                if !events.exists() {
                    return (0, true);
                }
                let now = oom_kills(events);
                let n = now.saturating_sub(*last);
                *last = now;
                (n, false)
            }
            OomWatch::None => (0, true),
        }
    }
}

/// One line of `events` output, fields in runc's order.
#[derive(serde::Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<serde_json::Value>,
}

fn event_line(kind: &str, id: &str, data: Option<serde_json::Value>) -> String {
    serde_json::to_string(&Event { kind, id, data }).expect("event serializes")
}

/// `events`: one stats event (`--stats`), or stats every `interval` plus
/// OOM events until the container stops.
pub fn events(root: &Path, id: &str, stats: bool, interval: &str) -> Result<()> {
    let interval = parse_duration(interval).map_err(|e| {
        Error::Invalid(format!(
            "invalid value \"{interval}\" for flag -interval: {e}"
        ))
    })?;
    if interval.is_zero() {
        return Err(Error::Invalid(
            "duration interval must be greater than 0".into(),
        ));
    }
    let (st, status) = crate::container::load(root, id)?;
    if status == Status::Stopped {
        return Err(Error::Invalid(format!(
            "container with id {id} is not running"
        )));
    }
    let cg = cgroup_of(&st)?;
    let mut out = std::io::stdout().lock();
    let mut emit =
        |line: String| -> bool { writeln!(out, "{line}").and_then(|_| out.flush()).is_ok() };
    if stats {
        let data = cg.stats().map_err(cg_err)?;
        emit(event_line("stats", id, Some(data)));
        return Ok(());
    }
    let pidfd = match crate::sys::pidfd_open(st.pid) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ESRCH) => return Ok(()), // it stopped meanwhile
        Err(e) => return Err(e).ctx("pidfd_open"),
    };
    if state::start_time(st.pid) != Some(st.pid_start) {
        return Ok(()); // it stopped meanwhile
    }
    let mut oom = OomWatch::new(cg.as_ref())?;
    let mut next = Instant::now() + interval;
    loop {
        let wait = next.saturating_duration_since(Instant::now());
        // Round up, so that the tick is due when poll returns.
        let ms = u16::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u16::MAX);
        let mut fds = vec![PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        if let Some(fd) = oom.fd() {
            fds.push(PollFd::new(fd, PollFlags::POLLIN));
        }
        match poll(&mut fds, PollTimeout::from(ms)) {
            Err(nix::errno::Errno::EINTR) => continue,
            r => r.ctx("poll")?,
        };
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        let died = ready(&fds[0]);
        let oom_ready = fds.get(1).is_some_and(ready);
        drop(fds);
        if oom_ready {
            let (n, gone) = oom.read();
            for _ in 0..n {
                if !emit(event_line("oom", id, None)) {
                    return Ok(());
                }
            }
            if gone {
                return Ok(());
            }
        }
        if died {
            return Ok(());
        }
        if Instant::now() >= next {
            next += interval;
            match cg.stats() {
                Ok(data) => {
                    if !emit(event_line("stats", id, Some(data))) {
                        return Ok(());
                    }
                }
                Err(e) => crate::log::error(&e.to_string()),
            }
        }
    }
}

// ---------------------------------------------------------------- ps

/// The index of the PID column in a `ps` header.
fn pid_index(header: &str) -> Result<usize> {
    header
        .split_whitespace()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::Msg("couldn't find PID field in ps output".into()))
}

/// Keep the header of `ps` output and the lines whose PID is in `pids`.
pub fn filter_ps(output: &str, pids: &[i32]) -> Result<String> {
    let mut lines = output.split('\n');
    let header = lines.next().unwrap_or("");
    let idx = pid_index(header)?;
    let mut out = format!("{header}\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let field = line.split_whitespace().nth(idx).unwrap_or("");
        let p: i32 = field
            .parse()
            .map_err(|e| Error::Msg(format!("unable to parse pid: {field:?}: {e}")))?;
        if pids.contains(&p) {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

pub fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> Result<()> {
    let (st, _) = crate::container::load(root, id)?;
    let pids = match crate::cgroups::reopen(&st) {
        Some(cg) => cg.pids().map_err(cg_err)?,
        None => Vec::new(),
    };
    match format {
        "json" => {
            println!("{}", serde_json::to_string(&pids).expect("serializes"));
            return Ok(());
        }
        "table" => {}
        _ => return Err(Error::Invalid("invalid format option".into())),
    }
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() {
        &default[..]
    } else {
        ps_args
    };
    let o = std::process::Command::new("ps")
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .ctx("run ps")?;
    if !o.status.success() {
        return Err(Error::Msg(format!(
            "ps {}: {}: {}{}",
            args.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )));
    }
    print!("{}", filter_ps(&String::from_utf8_lossy(&o.stdout), &pids)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_units_like_go_units() {
        assert_eq!(parse_ram("512").unwrap(), 512);
        assert_eq!(parse_ram("100M").unwrap(), 100 << 20);
        assert_eq!(parse_ram("100m").unwrap(), 100 << 20);
        assert_eq!(parse_ram("1g").unwrap(), 1 << 30);
        assert_eq!(parse_ram("1GB").unwrap(), 1 << 30);
        assert_eq!(parse_ram("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_ram("64 kb").unwrap(), 64 << 10);
        assert_eq!(parse_ram("1.5k").unwrap(), 1536);
        assert_eq!(parse_ram("2t").unwrap(), 2 << 40);
        assert_eq!(parse_ram("1p").unwrap(), 1 << 50);
        assert_eq!(parse_ram("10b").unwrap(), 10);
        for bad in [
            "", "M", "1X", "-1", "1.", ".5", "1..2", "1 2", "1MM", "1  M", "1e3",
        ] {
            assert!(parse_ram(bad).is_err(), "{bad:?} must be rejected");
        }
        assert_eq!(parse_ram("1X").unwrap_err(), "invalid size: '1X'");
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("5x").is_err());
        assert_eq!(parse_duration("-1s").unwrap(), Duration::ZERO);
    }

    fn json_res(v: serde_json::Value) -> LinuxResources {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn merge_keeps_what_is_not_asked() {
        let mut cur = json_res(serde_json::json!({
            "memory": {"limit": 1000, "swap": 2000, "swappiness": 10},
            "cpu": {"shares": 512, "cpus": "0"},
            "pids": {"limit": 5},
            "devices": [{"allow": false, "access": "rwm"}]
        }));
        let r = json_res(serde_json::json!({
            "memory": {"limit": 4000, "swap": 0},
            "cpu": {"quota": 5000, "shares": 0}
        }));
        merge(&mut cur, &r);
        let m = (*cur.memory()).unwrap();
        assert_eq!(m.limit(), Some(4000));
        assert_eq!(m.swap(), Some(2000));
        assert_eq!(m.swappiness(), Some(10));
        let c = cur.cpu().clone().unwrap();
        assert_eq!(c.shares(), Some(512));
        assert_eq!(c.quota(), Some(5000));
        assert_eq!(c.cpus().as_deref(), Some("0"));
        assert_eq!(cur.pids().unwrap().limit(), 5);
        let a = to_apply(&cur);
        assert!(a.devices().is_none());
        assert_eq!(a.pids().unwrap().limit(), 5);
    }

    #[test]
    fn merge_unlimited_memory_means_unlimited_swap() {
        let mut cur = json_res(serde_json::json!({"memory": {"limit": 1000, "swap": 2000}}));
        merge(
            &mut cur,
            &json_res(serde_json::json!({"memory": {"limit": -1}, "pids": {"limit": -1}})),
        );
        let m = (*cur.memory()).unwrap();
        assert_eq!((m.limit(), m.swap()), (Some(-1), Some(-1)));
        assert_eq!(cur.pids().unwrap().limit(), -1);
    }

    #[test]
    fn flags_become_resources() {
        let a = UpdateArgs {
            memory: Some("64M".into()),
            memory_swap: Some("-1".into()),
            cpu_share: Some("256".into()),
            cpu_quota: Some("-1".into()),
            pids_limit: 7,
            blkio_weight: 300,
            id: "x".into(),
            ..Default::default()
        };
        let r = requested(&a).unwrap();
        let m = r.memory().unwrap();
        assert_eq!(m.limit(), Some(64 << 20));
        assert_eq!(m.swap(), Some(-1));
        assert_eq!(r.cpu().clone().unwrap().shares(), Some(256));
        assert_eq!(r.cpu().clone().unwrap().quota(), Some(-1));
        assert_eq!(r.pids().unwrap().limit(), 7);
        assert_eq!(r.block_io().clone().unwrap().weight(), Some(300));
        let bad = UpdateArgs {
            cpu_share: Some("x".into()),
            ..Default::default()
        };
        let e = requested(&bad).unwrap_err().to_string();
        assert!(e.starts_with("invalid value for cpu-share"), "{e}");
        let bad = UpdateArgs {
            memory: Some("1X".into()),
            ..Default::default()
        };
        assert_eq!(
            requested(&bad).unwrap_err().to_string(),
            "invalid value for memory: invalid size: '1X'"
        );
    }

    #[test]
    fn ps_filter_keeps_header_and_container_lines() {
        let out = "UID PID PPID C STIME TTY TIME CMD\n\
                   root 1 0 0 10:00 ? 00:00:01 init\n\
                   root 42 1 0 10:00 ? 00:00:00 sleep 100\n\
                   root 43 42 0 10:00 ? 00:00:00 sh\n";
        assert_eq!(
            filter_ps(out, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 100\n"
        );
        assert!(filter_ps("USER COMMAND\n", &[1]).is_err());
        assert!(filter_ps("PID\nabc\n", &[1]).is_err());
    }
}
