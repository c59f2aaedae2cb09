//! cgroup v2 (unified hierarchy): a single directory; resources use the v2 file
//! names and units (converted from the OCI/v1 values like runc does).

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxMemory, LinuxResources};

use super::convert::{
    check_page_size, check_unified_key, dev_line, pids_max, rdma_line, v2_cpu_max, v2_cpu_weight,
    v2_io_weight, v2_limit, v2_swap_max,
};
use super::{
    devbpf, mkdir_tracked, parse_u64, procs_recursive, read_file, read_opt, remove_created,
    signal_pids, stats, warn, write_file, Cgroup, CgroupError, Result,
};

/// How long freeze/thaw wait for cgroup.events to report the new state.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct V2Cgroup {
    mount: PathBuf,
    dir: PathBuf,
    created: Vec<PathBuf>,
}

impl V2Cgroup {
    pub fn new(mount: PathBuf, dir: PathBuf) -> V2Cgroup {
        V2Cgroup {
            mount,
            dir,
            created: Vec::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, file: &str, value: impl ToString) -> Result<()> {
        write_file(&self.dir.join(file), &value.to_string())
    }

    /// Enable every available controller in the subtree_control of each ancestor
    /// (mount root down to our parent), so the container dir gets the controller files.
    fn enable_controllers(&self) -> Result<()> {
        let Some(parent) = self.dir.parent() else {
            return Ok(());
        };
        let Ok(rel) = parent.strip_prefix(&self.mount) else {
            return Ok(());
        };
        let mut cur = self.mount.clone();
        for c in std::iter::once(None).chain(rel.components().map(Some)) {
            if let Some(c) = c {
                cur.push(c);
            }
            let avail = read_opt(&cur.join("cgroup.controllers"))?.unwrap_or_default();
            let on = read_opt(&cur.join("cgroup.subtree_control"))?.unwrap_or_default();
            let on: Vec<&str> = on.split_whitespace().collect();
            let missing: Vec<String> = avail
                .split_whitespace()
                .filter(|c| !on.contains(c))
                .map(|c| format!("+{c}"))
                .collect();
            if missing.is_empty() {
                continue;
            }
            let file = cur.join("cgroup.subtree_control");
            if write_file(&file, &missing.join(" ")).is_err() {
                // Some controllers may refuse (e.g. internal processes); enable what we can.
                for m in &missing {
                    if let Err(e) = write_file(&file, m) {
                        warn(&e.to_string());
                    }
                }
            }
        }
        Ok(())
    }

    fn set_memory(&self, m: &LinuxMemory) -> Result<()> {
        if m.kernel().is_some() || m.kernel_tcp().is_some() {
            warn("linux.resources.memory.kernel/kernelTCP are deprecated and ignored");
        }
        if m.swappiness().is_some() {
            warn("memory.swappiness is not supported on cgroup v2 and is ignored");
        }
        if m.disable_oom_killer() == Some(true) {
            warn("memory.disableOOMKiller is not supported on cgroup v2 and is ignored");
        }
        let limit = m.limit().filter(|v| *v != 0);
        if let (Some(true), Some(l)) = (m.check_before_update(), limit.filter(|l| *l > 0)) {
            let path = self.dir.join("memory.current");
            let usage = parse_u64(&path, &read_file(&path)?)?;
            if (l as u64) < usage {
                return Err(CgroupError::Invalid(format!(
                    "rejecting memory limit {l} below current usage {usage}"
                )));
            }
        }
        // Validate the swap value before writing anything.
        let swap = v2_swap_max(m.swap().unwrap_or(0), limit)?;
        if let Some(s) = swap {
            let path = self.dir.join("memory.swap.max");
            if path.exists() {
                write_file(&path, &s)?;
            } else if s != "max" {
                return Err(CgroupError::Unsupported(format!(
                    "memory.swap: {} does not exist (swap accounting disabled)",
                    path.display()
                )));
            }
        }
        if let Some(l) = limit {
            self.write("memory.max", v2_limit(l))?;
        }
        if let Some(r) = m.reservation().filter(|v| *v != 0) {
            self.write("memory.low", v2_limit(r))?;
        }
        Ok(())
    }

    fn set_cpu(&self, c: &LinuxCpu) -> Result<()> {
        if c.realtime_period().is_some_and(|v| v != 0)
            || c.realtime_runtime().is_some_and(|v| v != 0)
        {
            return Err(CgroupError::Unsupported(
                "cpu.realtimePeriod/realtimeRuntime are not supported on cgroup v2".into(),
            ));
        }
        if let Some(s) = c.shares().filter(|s| *s != 0) {
            self.write("cpu.weight", v2_cpu_weight(s))?;
        }
        if let Some(max) = v2_cpu_max(c.quota(), c.period()) {
            self.write("cpu.max", max)?;
        }
        if let Some(b) = c.burst() {
            self.write("cpu.max.burst", b)?;
        }
        if let Some(i) = c.idle() {
            self.write("cpu.idle", i)?;
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            self.write("cpuset.cpus", cpus)?;
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            self.write("cpuset.mems", mems)?;
        }
        Ok(())
    }

    fn set_io(&self, b: &LinuxBlockIo) -> Result<()> {
        let bfq = self.dir.join("io.bfq.weight");
        let has_bfq = bfq.exists();
        // io.bfq.weight takes blkio-style weights as-is; io.weight needs the conversion.
        let weight = |w: u16| {
            if has_bfq {
                w as u64
            } else {
                v2_io_weight(w as u64)
            }
        };
        let wfile = if has_bfq {
            bfq.clone()
        } else {
            self.dir.join("io.weight")
        };
        if let Some(w) = b.weight().filter(|w| *w != 0) {
            write_file(&wfile, &weight(w).to_string())?;
        }
        if b.leaf_weight().is_some()
            || b.weight_device()
                .iter()
                .flatten()
                .any(|d| d.leaf_weight().is_some())
        {
            warn("blockIO leafWeight is not supported on cgroup v2 and is ignored");
        }
        for d in b.weight_device().iter().flatten() {
            if let Some(w) = d.weight() {
                write_file(&wfile, &dev_line(d.major(), d.minor(), weight(w)))?;
            }
        }
        let throttles = [
            ("rbps", b.throttle_read_bps_device()),
            ("wbps", b.throttle_write_bps_device()),
            ("riops", b.throttle_read_iops_device()),
            ("wiops", b.throttle_write_iops_device()),
        ];
        for (key, list) in throttles {
            for d in list.iter().flatten() {
                let rate = if d.rate() == 0 {
                    "max".to_string()
                } else {
                    d.rate().to_string()
                };
                self.write(
                    "io.max",
                    dev_line(d.major(), d.minor(), format!("{key}={rate}")),
                )?;
            }
        }
        Ok(())
    }

    /// Raw linux.resources.unified writes (sorted by key for determinism).
    pub fn set_unified(&self, map: &HashMap<String, String>) -> Result<()> {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        for k in keys {
            check_unified_key(k)?;
            let path = self.dir.join(k);
            if !path.exists() {
                return Err(CgroupError::Unsupported(format!(
                    "linux.resources.unified key {k:?}: {} does not exist (controller not enabled?)",
                    path.display()
                )));
            }
            write_file(&path, &map[k])?;
        }
        Ok(())
    }

    /// The "frozen" value of cgroup.events, falling back to cgroup.freeze.
    fn frozen_now(&self, events: &str) -> Result<bool> {
        match events.lines().find_map(|l| l.strip_prefix("frozen ")) {
            Some(v) => Ok(v.trim() == "1"),
            None => Ok(read_file(&self.dir.join("cgroup.freeze"))?.trim() == "1"),
        }
    }

    /// Write cgroup.freeze and wait for cgroup.events to agree, sleeping in
    /// poll(POLLPRI) (kernfs notifies on every change) rather than re-reading.
    fn set_freeze(&self, frozen: bool) -> Result<()> {
        let freeze = self.dir.join("cgroup.freeze");
        if !freeze.exists() {
            return Err(CgroupError::Unsupported(format!(
                "{} does not exist (kernel older than 5.2?)",
                freeze.display()
            )));
        }
        let path = self.dir.join("cgroup.events");
        let io = |op| {
            move |source| CgroupError::Io {
                op,
                path: self.dir.join("cgroup.events"),
                source,
            }
        };
        let mut file = File::open(&path).map_err(io("open"))?;
        write_file(&freeze, if frozen { "1" } else { "0" })?;
        let deadline = Instant::now() + FREEZE_TIMEOUT;
        let state = if frozen { "frozen" } else { "thawed" };
        loop {
            let mut text = String::new();
            file.rewind().map_err(io("seek"))?;
            file.read_to_string(&mut text).map_err(io("read"))?;
            if self.frozen_now(&text)? == frozen {
                return Ok(());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(CgroupError::Timeout { path, state });
            }
            let ms = left.as_millis().min(1000) as u16;
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLPRI)];
            match poll(&mut fds, ms) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(io("poll")(std::io::Error::from(e))),
            }
        }
    }
}

impl Cgroup for V2Cgroup {
    fn create(&mut self) -> Result<()> {
        mkdir_tracked(&self.mount, &self.dir, &mut self.created, |_| Ok(()))?;
        self.enable_controllers()
    }

    fn apply(&self, res: &LinuxResources) -> Result<()> {
        // The device rules become an eBPF program attached to our directory
        // (replacing the one a previous apply attached); without rules in
        // `res` (e.g. an update of other resources) the filter stays as it is.
        if let Some(devs) = res.devices() {
            devbpf::install(&self.dir, devs)?;
        }
        if let Some(m) = res.memory() {
            self.set_memory(m)?;
        }
        if let Some(c) = res.cpu() {
            self.set_cpu(c)?;
        }
        if let Some(p) = res.pids() {
            self.write("pids.max", pids_max(p.limit()))?;
        }
        if let Some(b) = res.block_io() {
            self.set_io(b)?;
        }
        for h in res.hugepage_limits().iter().flatten() {
            check_page_size(h.page_size())?;
            self.write(
                &format!("hugetlb.{}.max", h.page_size()),
                v2_limit(h.limit()),
            )?;
        }
        if let Some(n) = res.network() {
            if n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
                warn("linux.resources.network (net_cls/net_prio) is not supported on cgroup v2 and is ignored");
            }
        }
        let mut rdma: Vec<_> = res.rdma().iter().flatten().collect();
        rdma.sort_by_key(|(k, _)| k.as_str());
        for (dev, r) in rdma {
            if let Some(line) = rdma_line(dev, r)? {
                self.write("rdma.max", line)?;
            }
        }
        if let Some(u) = res.unified() {
            self.set_unified(u)?;
        }
        Ok(())
    }

    fn add_task(&self, pid: i32) -> Result<()> {
        self.write("cgroup.procs", pid)
    }

    fn add_task_v2(&self, pid: i32) -> Result<()> {
        self.add_task(pid)
    }

    fn freeze(&self) -> Result<()> {
        self.set_freeze(true)
    }

    fn thaw(&self) -> Result<()> {
        self.set_freeze(false)
    }

    fn is_frozen(&self) -> Result<bool> {
        match read_opt(&self.dir.join("cgroup.events"))? {
            Some(text) => self.frozen_now(&text),
            None => Ok(false),
        }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let mut out = Vec::new();
        procs_recursive(&self.dir, &mut out)?;
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// SIGKILL uses cgroup.kill when the kernel has it (5.14+); otherwise freeze,
    /// signal every pid and thaw (kept frozen if it was paused, unless SIGKILL).
    fn kill_all(&self, sig: i32) -> Result<()> {
        let kill = self.dir.join("cgroup.kill");
        if sig == libc::SIGKILL && kill.exists() {
            return write_file(&kill, "1");
        }
        let was_frozen = self.is_frozen()?;
        let froze = self.freeze().is_ok();
        let res = self.pids().and_then(|p| signal_pids(&p, sig));
        if froze && (sig == libc::SIGKILL || !was_frozen) {
            self.thaw()?;
        }
        res
    }

    fn destroy(&mut self) -> Result<()> {
        let leaf = [self.dir.clone()];
        remove_created(&mut self.created, &leaf)
    }

    fn stats(&self) -> Result<serde_json::Value> {
        stats::v2_stats(&self.dir)
    }

    fn v2_dir(&self) -> Option<PathBuf> {
        Some(self.dir.clone())
    }

    fn paths(&self) -> Vec<PathBuf> {
        vec![self.dir.clone()]
    }
}
