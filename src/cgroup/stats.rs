//! Statistics in the shape runc prints under "data" for `runc events --stats`
//! (runc's types/events.go field names; zero values omitted where runc omits them).
//! Missing files read as zero: not every kernel/controller provides every file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::convert::parse_cpuset_list;
use super::{parse_u64, read_opt, CgroupError, Result};

fn zero(v: &u64) -> bool {
    *v == 0
}

#[derive(Serialize, Default, Debug)]
pub struct Stats {
    pub cpu: Cpu,
    pub cpuset: CpuSet,
    pub memory: Memory,
    pub pids: Pids,
    pub blkio: Blkio,
    pub hugetlb: BTreeMap<String, Hugetlb>,
    pub intel_rdt: BTreeMap<String, u64>,
    pub network_interfaces: Option<Vec<u64>>,
}

#[derive(Serialize, Default, Debug)]
pub struct Cpu {
    pub usage: CpuUsage,
    pub throttling: Throttling,
}

#[derive(Serialize, Default, Debug)]
pub struct CpuUsage {
    #[serde(skip_serializing_if = "zero")]
    pub total: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(skip_serializing_if = "zero")]
    pub periods: u64,
    #[serde(skip_serializing_if = "zero")]
    pub throttled_periods: u64,
    #[serde(skip_serializing_if = "zero")]
    pub throttled_time: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct CpuSet {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    pub cpu_exclusive: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    pub mem_hardwall: u64,
    pub mem_exclusive: u64,
    pub memory_migrate: u64,
    pub memory_spread_page: u64,
    pub memory_spread_slab: u64,
    pub memory_pressure: u64,
    pub sched_load_balance: u64,
    pub sched_relax_domain_level: i64,
}

#[derive(Serialize, Default, Debug)]
pub struct MemoryEntry {
    pub limit: u64,
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct MemoryEventCount {
    #[serde(skip_serializing_if = "zero")]
    pub low: u64,
    #[serde(skip_serializing_if = "zero")]
    pub high: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    #[serde(skip_serializing_if = "zero")]
    pub oom: u64,
    #[serde(skip_serializing_if = "zero")]
    pub oom_kill: u64,
}

#[derive(Serialize, Default, Debug)]
pub struct Memory {
    #[serde(skip_serializing_if = "zero")]
    pub cache: u64,
    pub usage: MemoryEntry,
    pub swap: MemoryEntry,
    pub kernel: MemoryEntry,
    #[serde(rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
    pub event_count: MemoryEventCount,
}

#[derive(Serialize, Default, Debug)]
pub struct Pids {
    #[serde(skip_serializing_if = "zero")]
    pub current: u64,
    #[serde(skip_serializing_if = "zero")]
    pub limit: u64,
}

#[derive(Serialize, Default, Debug, PartialEq)]
pub struct BlkioEntry {
    #[serde(skip_serializing_if = "zero")]
    pub major: u64,
    #[serde(skip_serializing_if = "zero")]
    pub minor: u64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(skip_serializing_if = "zero")]
    pub value: u64,
}

type Entries = Vec<BlkioEntry>;

#[derive(Serialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty", rename = "ioQueueRecursive")]
    pub io_queued_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_service_time_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_wait_time_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_merged_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub io_time_recursive: Entries,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sectors_recursive: Entries,
}

#[derive(Serialize, Default, Debug)]
pub struct Hugetlb {
    #[serde(skip_serializing_if = "zero")]
    pub usage: u64,
    #[serde(skip_serializing_if = "zero")]
    pub max: u64,
    pub failcnt: u64,
}

fn to_json(s: Stats) -> Result<serde_json::Value> {
    serde_json::to_value(s).map_err(|e| CgroupError::Invalid(format!("encode stats: {e}")))
}

/// A single-number file; missing reads as 0 and "max" as u64::MAX.
fn num(path: &Path) -> Result<u64> {
    read_opt(path)?.map_or(Ok(0), |s| parse_u64(path, &s))
}

/// A "key value" per line file (memory.stat, cpu.stat, ...); missing reads as empty.
fn flat(path: &Path) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for line in read_opt(path)?.unwrap_or_default().lines() {
        if let Some((k, v)) = line.split_once(' ') {
            out.insert(k.to_string(), parse_u64(path, v)?);
        }
    }
    Ok(out)
}

fn num_list(path: &Path) -> Result<Vec<u64>> {
    let text = read_opt(path)?.unwrap_or_default();
    text.split_whitespace()
        .map(|v| parse_u64(path, v))
        .collect()
}

fn cpuset_list(path: &Path) -> Result<Vec<u16>> {
    let text = read_opt(path)?.unwrap_or_default();
    parse_cpuset_list(&text).ok_or_else(|| CgroupError::Parse {
        path: path.into(),
        value: text,
    })
}

/// v1 blkio "maj:min Op value" / "maj:min value" lines ("Total" lines skipped).
pub fn parse_blkio(path: &Path) -> Result<Entries> {
    let mut out = Vec::new();
    for line in read_opt(path)?.unwrap_or_default().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || CgroupError::Parse {
            path: path.into(),
            value: line.into(),
        };
        let Some((maj, min)) = f.first().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (op, value) = match f.len() {
            2 => ("", f[1]),
            3 => (f[1], f[2]),
            _ => return Err(bad()),
        };
        out.push(BlkioEntry {
            major: maj.parse().map_err(|_| bad())?,
            minor: min.parse().map_err(|_| bad())?,
            op: op.to_string(),
            value: value.parse().map_err(|_| bad())?,
        });
    }
    Ok(out)
}

/// The container's v1 statistics; `dir` maps a controller to its directory.
pub fn v1_stats(dir: impl Fn(&str) -> Option<PathBuf>) -> Result<serde_json::Value> {
    let mut s = Stats::default();
    if let Some(d) = dir("cpuacct") {
        let u = &mut s.cpu.usage;
        u.total = num(&d.join("cpuacct.usage"))?;
        u.percpu = num_list(&d.join("cpuacct.usage_percpu"))?;
        u.percpu_kernel = num_list(&d.join("cpuacct.usage_percpu_sys"))?;
        u.percpu_user = num_list(&d.join("cpuacct.usage_percpu_user"))?;
        // cpuacct.stat is in USER_HZ (always 100 in the kernel ABI) ticks.
        let st = flat(&d.join("cpuacct.stat"))?;
        u.user = st.get("user").copied().unwrap_or(0) * 10_000_000;
        u.kernel = st.get("system").copied().unwrap_or(0) * 10_000_000;
    }
    if let Some(d) = dir("cpu") {
        let st = flat(&d.join("cpu.stat"))?;
        let t = &mut s.cpu.throttling;
        t.periods = st.get("nr_periods").copied().unwrap_or(0);
        t.throttled_periods = st.get("nr_throttled").copied().unwrap_or(0);
        t.throttled_time = st.get("throttled_time").copied().unwrap_or(0);
    }
    if let Some(d) = dir("cpuset") {
        let c = &mut s.cpuset;
        c.cpus = cpuset_list(&d.join("cpuset.cpus"))?;
        c.mems = cpuset_list(&d.join("cpuset.mems"))?;
        c.cpu_exclusive = num(&d.join("cpuset.cpu_exclusive"))?;
        c.mem_hardwall = num(&d.join("cpuset.mem_hardwall"))?;
        c.mem_exclusive = num(&d.join("cpuset.mem_exclusive"))?;
        c.memory_migrate = num(&d.join("cpuset.memory_migrate"))?;
        c.memory_spread_page = num(&d.join("cpuset.memory_spread_page"))?;
        c.memory_spread_slab = num(&d.join("cpuset.memory_spread_slab"))?;
        c.memory_pressure = num(&d.join("cpuset.memory_pressure"))?;
        c.sched_load_balance = num(&d.join("cpuset.sched_load_balance"))?;
        if let Some(v) = read_opt(&d.join("cpuset.sched_relax_domain_level"))? {
            c.sched_relax_domain_level = v.trim().parse().unwrap_or(-1);
        }
    }
    if let Some(d) = dir("memory") {
        let m = &mut s.memory;
        let entry = |prefix: &str| -> Result<MemoryEntry> {
            Ok(MemoryEntry {
                limit: num(&d.join(format!("{prefix}limit_in_bytes")))?,
                usage: num(&d.join(format!("{prefix}usage_in_bytes")))?,
                max: num(&d.join(format!("{prefix}max_usage_in_bytes")))?,
                failcnt: num(&d.join(format!("{prefix}failcnt")))?,
            })
        };
        m.usage = entry("memory.")?;
        m.swap = entry("memory.memsw.")?;
        m.kernel = entry("memory.kmem.")?;
        m.kernel_tcp = entry("memory.kmem.tcp.")?;
        m.raw = flat(&d.join("memory.stat"))?;
        m.cache = m.raw.get("cache").copied().unwrap_or(0);
        let oom = flat(&d.join("memory.oom_control"))?;
        m.event_count.oom_kill = oom.get("oom_kill").copied().unwrap_or(0);
    }
    if let Some(d) = dir("pids") {
        s.pids.current = num(&d.join("pids.current"))?;
        s.pids.limit = num(&d.join("pids.max"))?;
    }
    if let Some(d) = dir("blkio") {
        // Prefer CFQ's files, then BFQ's, then the throttle layer's (like runc).
        let pick = |name: &str| -> Result<Entries> {
            for prefix in ["blkio.", "blkio.bfq.", "blkio.throttle."] {
                let e = parse_blkio(&d.join(format!("{prefix}{name}")))?;
                if !e.is_empty() {
                    return Ok(e);
                }
            }
            Ok(Vec::new())
        };
        let b = &mut s.blkio;
        b.io_service_bytes_recursive = pick("io_service_bytes_recursive")?;
        b.io_serviced_recursive = pick("io_serviced_recursive")?;
        b.io_queued_recursive = parse_blkio(&d.join("blkio.io_queued_recursive"))?;
        b.io_service_time_recursive = parse_blkio(&d.join("blkio.io_service_time_recursive"))?;
        b.io_wait_time_recursive = parse_blkio(&d.join("blkio.io_wait_time_recursive"))?;
        b.io_merged_recursive = parse_blkio(&d.join("blkio.io_merged_recursive"))?;
        b.io_time_recursive = parse_blkio(&d.join("blkio.time_recursive"))?;
        b.sectors_recursive = parse_blkio(&d.join("blkio.sectors_recursive"))?;
    }
    if let Some(d) = dir("hugetlb") {
        for size in hugetlb_sizes(&d, ".limit_in_bytes") {
            let f = |suffix: &str| num(&d.join(format!("hugetlb.{size}.{suffix}")));
            let h = Hugetlb {
                usage: f("usage_in_bytes")?,
                max: f("max_usage_in_bytes")?,
                failcnt: f("failcnt")?,
            };
            s.hugetlb.insert(size, h);
        }
    }
    if s.pids.limit == u64::MAX {
        s.pids.limit = 0; // runc reports an unlimited pids.max as 0
    }
    to_json(s)
}

/// Page sizes with a `hugetlb.<size><suffix>` file in `dir` (skipping ".rsvd" variants).
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let size = name.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    out.sort();
    out
}

/// v2 io.stat "maj:min rbytes=.. wbytes=.. rios=.. wios=.." to runc's blkio entries.
pub fn parse_io_stat(path: &Path) -> Result<(Entries, Entries)> {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in read_opt(path)?.unwrap_or_default().lines() {
        let mut f = line.split_whitespace();
        let bad = || CgroupError::Parse {
            path: path.into(),
            value: line.into(),
        };
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (major, minor) = (
            maj.parse().map_err(|_| bad())?,
            min.parse().map_err(|_| bad())?,
        );
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            let value = v.parse().map_err(|_| bad())?;
            list.push(BlkioEntry {
                major,
                minor,
                op: op.into(),
                value,
            });
        }
    }
    Ok((bytes, ios))
}

/// The container's v2 statistics from its unified-hierarchy directory.
pub fn v2_stats(d: &Path) -> Result<serde_json::Value> {
    let mut s = Stats::default();
    let cpu = flat(&d.join("cpu.stat"))?;
    let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = get(&cpu, "usage_usec") * 1000;
    s.cpu.usage.user = get(&cpu, "user_usec") * 1000;
    s.cpu.usage.kernel = get(&cpu, "system_usec") * 1000;
    s.cpu.throttling.periods = get(&cpu, "nr_periods");
    s.cpu.throttling.throttled_periods = get(&cpu, "nr_throttled");
    s.cpu.throttling.throttled_time = get(&cpu, "throttled_usec") * 1000;

    s.cpuset.cpus = cpuset_list(&d.join("cpuset.cpus.effective"))?;
    s.cpuset.mems = cpuset_list(&d.join("cpuset.mems.effective"))?;

    let m = &mut s.memory;
    m.raw = flat(&d.join("memory.stat"))?;
    m.cache = get(&m.raw, "file");
    let events = flat(&d.join("memory.events"))?;
    m.usage = MemoryEntry {
        limit: num(&d.join("memory.max"))?,
        usage: num(&d.join("memory.current"))?,
        max: num(&d.join("memory.peak"))?,
        failcnt: get(&events, "max"),
    };
    // runc reports v2 swap as memory+swap, matching v1's memsw semantics.
    let swap_max = num(&d.join("memory.swap.max"))?;
    m.swap = MemoryEntry {
        limit: if d.join("memory.swap.max").exists() {
            swap_max.saturating_add(m.usage.limit)
        } else {
            0
        },
        usage: num(&d.join("memory.swap.current"))? + m.usage.usage,
        max: 0,
        failcnt: 0,
    };
    m.event_count = MemoryEventCount {
        low: get(&events, "low"),
        high: get(&events, "high"),
        max: get(&events, "max"),
        oom: get(&events, "oom"),
        oom_kill: get(&events, "oom_kill"),
    };

    s.pids.current = num(&d.join("pids.current"))?;
    s.pids.limit = match num(&d.join("pids.max"))? {
        u64::MAX => 0,
        v => v,
    };
    let (bytes, ios) = parse_io_stat(&d.join("io.stat"))?;
    s.blkio.io_service_bytes_recursive = bytes;
    s.blkio.io_serviced_recursive = ios;

    for size in hugetlb_sizes(d, ".current") {
        let usage = num(&d.join(format!("hugetlb.{size}.current")))?;
        let ev = flat(&d.join(format!("hugetlb.{size}.events")))?;
        s.hugetlb.insert(
            size,
            Hugetlb {
                usage,
                max: 0,
                failcnt: get(&ev, "max"),
            },
        );
    }
    to_json(s)
}
