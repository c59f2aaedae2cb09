//! cgroup v1: one directory per mounted hierarchy. In the hybrid layout the
//! container is additionally placed in a [`V2Cgroup`] of the (controller-less)
//! unified hierarchy; resources are only ever written through v1 files here.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxNetwork, LinuxResources};

use super::convert::{check_page_size, dev_line, device_rule, pids_max, rdma_line};
use super::v2::V2Cgroup;
use super::{
    mkdir_tracked, parse_u64, procs_recursive, read_file, read_opt, remove_created, signal_pids,
    stats, warn, write_file, Cgroup, CgroupError, Result,
};

/// One mounted v1 hierarchy and the container's directory in it.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    /// Controllers of this hierarchy, e.g. ["cpu", "cpuacct"] or ["name=systemd"].
    pub controllers: Vec<String>,
    pub mount: PathBuf,
    pub dir: PathBuf,
}

#[derive(Debug)]
pub struct V1Cgroup {
    hierarchies: Vec<Hierarchy>,
    /// Hybrid layout: placement-only dir in the unified hierarchy.
    unified: Option<V2Cgroup>,
    created: Vec<PathBuf>,
}

fn is_einval(e: &CgroupError) -> bool {
    matches!(e, CgroupError::Write { source, .. } if source.raw_os_error() == Some(libc::EINVAL))
}

impl V1Cgroup {
    pub fn new(hierarchies: Vec<Hierarchy>, unified: Option<V2Cgroup>) -> V1Cgroup {
        V1Cgroup {
            hierarchies,
            unified,
            created: Vec::new(),
        }
    }

    /// The container dir in the hierarchy carrying `controller`, if mounted.
    pub fn dir(&self, controller: &str) -> Option<&Path> {
        self.hierarchies
            .iter()
            .find(|h| h.controllers.iter().any(|c| c == controller))
            .map(|h| h.dir.as_path())
    }

    fn file(&self, controller: &str, file: &str) -> Result<PathBuf> {
        self.dir(controller).map(|d| d.join(file)).ok_or_else(|| {
            CgroupError::Unsupported(format!(
                "{file}: cgroup v1 controller {controller:?} is not mounted"
            ))
        })
    }

    fn write(&self, controller: &str, file: &str, value: impl ToString) -> Result<()> {
        write_file(&self.file(controller, file)?, &value.to_string())
    }

    /// Write two files whose valid values depend on each other (period/quota style):
    /// `first` then `second`, or the other way round if the kernel rejects `first`.
    fn write_pair(
        &self,
        ctrl: &str,
        first: (&str, Option<String>),
        second: (&str, Option<String>),
    ) -> Result<()> {
        let (Some(v1), Some(v2)) = (&first.1, &second.1) else {
            if let Some(v) = first.1 {
                self.write(ctrl, first.0, v)?;
            }
            if let Some(v) = second.1 {
                self.write(ctrl, second.0, v)?;
            }
            return Ok(());
        };
        match self.write(ctrl, first.0, v1) {
            Err(e) if is_einval(&e) => {
                self.write(ctrl, second.0, v2)?;
                self.write(ctrl, first.0, v1)
            }
            res => res.and_then(|_| self.write(ctrl, second.0, v2)),
        }
    }

    fn set_memory(&self, m: &LinuxMemory) -> Result<()> {
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            warn("linux.resources.memory.kernel/kernelTCP are deprecated and ignored");
        }
        let limit = m.limit().filter(|v| *v != 0);
        let mut swap = m.swap().filter(|v| *v != 0);
        if limit == Some(-1) && swap.is_none() {
            swap = Some(-1); // like runc: unlimited memory implies unlimited memory+swap
        }
        if let (Some(l), Some(s)) = (limit, swap) {
            if l > 0 && s > 0 && s < l {
                return Err(CgroupError::Invalid(format!(
                    "memory.swap {s} (memory+swap) must be >= memory.limit {l}"
                )));
            }
        }
        if let (Some(true), Some(l)) = (m.check_before_update(), limit.filter(|l| *l > 0)) {
            let path = self.file("memory", "memory.usage_in_bytes")?;
            let usage = parse_u64(&path, &read_file(&path)?)?;
            if (l as u64) < usage {
                return Err(CgroupError::Invalid(format!(
                    "rejecting memory limit {l} below current usage {usage}"
                )));
            }
        }
        if limit.is_some() || swap.is_some() {
            let memsw = self.file("memory", "memory.memsw.limit_in_bytes")?;
            let swap = match swap {
                Some(s) if !memsw.exists() && s != -1 => {
                    return Err(CgroupError::Unsupported(format!(
                        "memory.swap {s}: {} does not exist (swap accounting disabled)",
                        memsw.display()
                    )))
                }
                Some(_) if !memsw.exists() => None,
                s => s.map(|s| s.to_string()),
            };
            let limit = limit.map(|l| l.to_string());
            // The kernel wants limit <= memsw at every step: raise memsw first when growing.
            let swap_first = match (&limit, &swap) {
                (Some(_), Some(s)) => {
                    let path = self.file("memory", "memory.limit_in_bytes")?;
                    let cur = parse_u64(&path, &read_file(&path)?)?;
                    s == "-1" || s.parse::<u64>().is_ok_and(|s| cur < s)
                }
                _ => false,
            };
            let (l, s) = (
                ("memory.limit_in_bytes", limit),
                ("memory.memsw.limit_in_bytes", swap),
            );
            let (a, b) = if swap_first { (s, l) } else { (l, s) };
            for (file, v) in [a, b] {
                if let Some(v) = v {
                    self.write("memory", file, v)?;
                }
            }
        }
        if let Some(r) = m.reservation().filter(|v| *v != 0) {
            self.write("memory", "memory.soft_limit_in_bytes", r)?;
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::Invalid(format!(
                    "memory.swappiness {s} is above 100"
                )));
            }
            self.write("memory", "memory.swappiness", s)?;
        }
        if m.disable_oom_killer() == Some(true) {
            self.write("memory", "memory.oom_control", 1)?;
        }
        match m.use_hierarchy() {
            Some(true) => self.write("memory", "memory.use_hierarchy", 1)?,
            Some(false) => {
                warn("memory.useHierarchy=false is ignored (always on in current kernels)")
            }
            None => {}
        }
        Ok(())
    }

    fn set_cpu(&self, c: &LinuxCpu) -> Result<()> {
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            self.write("cpu", "cpu.shares", s)?;
            let path = self.file("cpu", "cpu.shares")?;
            let got = parse_u64(&path, &read_file(&path)?)?;
            if got != s {
                return Err(CgroupError::Invalid(format!(
                    "cpu.shares {s} is out of range: the kernel set {got}"
                )));
            }
        }
        let period = c.period().filter(|p| *p != 0).map(|p| p.to_string());
        let quota = c.quota().filter(|q| *q != 0).map(|q| q.to_string());
        self.write_pair(
            "cpu",
            ("cpu.cfs_period_us", period),
            ("cpu.cfs_quota_us", quota),
        )?;
        if let Some(b) = c.burst() {
            self.write("cpu", "cpu.cfs_burst_us", b)?;
        }
        let rt_period = c
            .realtime_period()
            .filter(|p| *p != 0)
            .map(|p| p.to_string());
        let rt_runtime = c
            .realtime_runtime()
            .filter(|r| *r != 0)
            .map(|r| r.to_string());
        self.write_pair(
            "cpu",
            ("cpu.rt_period_us", rt_period),
            ("cpu.rt_runtime_us", rt_runtime),
        )?;
        if let Some(i) = c.idle() {
            self.write("cpu", "cpu.idle", i)?;
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            self.write("cpuset", "cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            self.write("cpuset", "cpuset.mems", mems)?;
        }
        Ok(())
    }

    /// blkio.weight(_device), or the bfq variant when only that exists.
    fn weight_file(&self, plain: &str, bfq: &str) -> Result<PathBuf> {
        let p = self.file("blkio", plain)?;
        let b = self.file("blkio", bfq)?;
        Ok(if !p.exists() && b.exists() { b } else { p })
    }

    fn set_blkio(&self, b: &LinuxBlockIo) -> Result<()> {
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            write_file(
                &self.weight_file("blkio.weight", "blkio.bfq.weight")?,
                &w.to_string(),
            )?;
        }
        if let Some(w) = b.leaf_weight().filter(|w| *w != 0) {
            self.write("blkio", "blkio.leaf_weight", w)?;
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                let f = self.weight_file("blkio.weight_device", "blkio.bfq.weight_device")?;
                write_file(&f, &dev_line(d.major(), d.minor(), w))?;
            }
            if let Some(w) = d.leaf_weight() {
                self.write(
                    "blkio",
                    "blkio.leaf_weight_device",
                    dev_line(d.major(), d.minor(), w),
                )?;
            }
        }
        let throttles = [
            (
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ];
        for (file, list) in throttles {
            for d in list.iter().flatten() {
                self.write("blkio", file, dev_line(d.major(), d.minor(), d.rate()))?;
            }
        }
        Ok(())
    }

    fn set_network(&self, n: &LinuxNetwork) -> Result<()> {
        if let Some(id) = n.class_id() {
            self.write("net_cls", "net_cls.classid", id)?;
        }
        for p in n.priorities().iter().flatten() {
            self.write(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            )?;
        }
        Ok(())
    }

    fn set_unified(&self, map: &HashMap<String, String>) -> Result<()> {
        match &self.unified {
            Some(u) => u.set_unified(map),
            None => match map.keys().min() {
                Some(k) => Err(CgroupError::Unsupported(format!(
                    "linux.resources.unified key {k:?} needs cgroup v2, but only cgroup v1 is mounted"
                ))),
                None => Ok(()),
            },
        }
    }

    /// Write `state` to freezer.state and re-read until the kernel reports it.
    /// v1 gives no change notification, so this is a short bounded re-read loop.
    fn set_freezer(&self, state: &'static str) -> Result<()> {
        let path = self.file("freezer", "freezer.state")?;
        write_file(&path, state)?;
        for i in 0..2000u32 {
            if read_file(&path)?.trim() == state {
                return Ok(());
            }
            if i % 100 == 99 {
                write_file(&path, state)?; // re-kick a freeze stuck in FREEZING
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if state == "FROZEN" {
            let _ = write_file(&path, "THAWED");
        }
        Err(CgroupError::Timeout { path, state })
    }

    /// A cpuset cgroup just made starts with empty cpus/mems (or, with
    /// cgroup.clone_children, with its parent's): give it the parent's, like runc.
    pub(crate) fn init_cpuset(dir: &Path) -> Result<()> {
        let Some(parent) = dir.parent() else {
            return Ok(());
        };
        for f in ["cpuset.cpus", "cpuset.mems"] {
            if let Some(v) = read_opt(&parent.join(f))? {
                write_file(&dir.join(f), v.trim())?;
            }
        }
        Ok(())
    }
}

impl Cgroup for V1Cgroup {
    fn create(&mut self) -> Result<()> {
        for h in &self.hierarchies {
            let cpuset = h.controllers.iter().any(|c| c == "cpuset");
            mkdir_tracked(&h.mount, &h.dir, &mut self.created, |d| {
                if cpuset {
                    V1Cgroup::init_cpuset(d)?;
                }
                Ok(())
            })?;
        }
        match &mut self.unified {
            Some(u) => u.create(),
            None => Ok(()),
        }
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        // One rule per write, in order; each file opened once.
        let mut open: [Option<(PathBuf, fs::File)>; 2] = [None, None];
        for d in res.devices().iter().flatten() {
            let (i, file) = if d.allow() {
                (0, "devices.allow")
            } else {
                (1, "devices.deny")
            };
            let rule = device_rule(d)?;
            if open[i].is_none() {
                let path = self.file("devices", file)?;
                let f = fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .map_err(|source| CgroupError::Write {
                        path: path.clone(),
                        value: rule.clone(),
                        source,
                    })?;
                open[i] = Some((path, f));
            }
            let (path, f) = open[i].as_mut().expect("opened above");
            f.write_all(rule.as_bytes())
                .map_err(|source| CgroupError::Write {
                    path: path.clone(),
                    value: rule.clone(),
                    source,
                })?;
        }
        if let Some(m) = res.memory() {
            self.set_memory(m)?;
        }
        if let Some(c) = res.cpu() {
            self.set_cpu(c)?;
        }
        if let Some(p) = res.pids() {
            self.write("pids", "pids.max", pids_max(p.limit()))?;
        }
        if let Some(b) = res.block_io() {
            self.set_blkio(b)?;
        }
        for h in res.hugepage_limits().iter().flatten() {
            check_page_size(h.page_size())?;
            self.write(
                "hugetlb",
                &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                h.limit(),
            )?;
        }
        if let Some(n) = res.network() {
            self.set_network(n)?;
        }
        let mut rdma: Vec<_> = res.rdma().iter().flatten().collect();
        rdma.sort_by_key(|(k, _)| k.as_str());
        for (dev, r) in rdma {
            if let Some(line) = rdma_line(dev, r)? {
                self.write("rdma", "rdma.max", line)?;
            }
        }
        if let Some(u) = res.unified() {
            self.set_unified(u)?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        for h in &self.hierarchies {
            write_file(&h.dir.join("cgroup.procs"), &pid.to_string())?;
        }
        self.add_task_v2(pid)
    }

    fn add_task_v2(&self, pid: i32) -> Result<()> {
        match &self.unified {
            Some(u) => u.add_task(pid),
            None => Ok(()),
        }
    }

    fn self_join_files(&self) -> Vec<PathBuf> {
        self.hierarchies
            .iter()
            .map(|h| h.dir.join("tasks"))
            .collect()
    }

    fn freeze(&self) -> Result<()> {
        self.set_freezer("FROZEN")
    }

    fn thaw(&self) -> Result<()> {
        self.set_freezer("THAWED")
    }

    /// FREEZING counts: the cgroup is set to frozen and a task is still on
    /// its way (one that just joined, as `exec --ignore-paused` does).
    fn is_frozen(&self) -> Result<bool> {
        match self.dir("freezer") {
            Some(d) => Ok(read_file(&d.join("freezer.state"))?.trim() != "THAWED"),
            None => Ok(false),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        for dir in self.paths() {
            procs_recursive(&dir, &mut out)?;
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Freeze (so nothing forks meanwhile), signal everyone, thaw again unless
    /// the cgroup was paused before and the signal is not SIGKILL.
    fn kill_all(&self, sig: i32) -> Result<()> {
        let was_frozen = self.is_frozen()?;
        let froze = self.dir("freezer").is_some() && self.freeze().is_ok();
        let res = self.pids().and_then(|p| signal_pids(&p, sig));
        if froze && (sig == libc::SIGKILL || !was_frozen) {
            self.thaw()?;
        }
        res
    }

    fn destroy(&mut self) -> Result<()> {
        let leaves: Vec<PathBuf> = self.hierarchies.iter().map(|h| h.dir.clone()).collect();
        let res = remove_created(&mut self.created, &leaves);
        let ures = self.unified.as_mut().map_or(Ok(()), |u| u.destroy());
        res.and(ures)
    }

    fn stats(&self) -> Result<serde_json::Value> {
        stats::v1_stats(|c| self.dir(c).map(Path::to_path_buf))
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        self.unified.as_ref().map(|u| u.dir().to_path_buf())
    }

    fn paths(&self) -> Vec<PathBuf> {
        let mut p: Vec<PathBuf> = self.hierarchies.iter().map(|h| h.dir.clone()).collect();
        p.extend(self.v2_dir());
        p
    }
}
