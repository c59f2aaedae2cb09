//! Namespaces as the container's processes see them: new ones differ from
//! the host's, absent ones are shared, joined ones are the target's.

mod common;
use common::{alive, kv, Env};
use serde_json::{json, Value};

const NS: [&str; 6] = ["pid", "mnt", "uts", "ipc", "net", "cgroup"];

fn host_ns(name: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{name}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// A shell line printing `name=<ns link>` for each namespace in `names`.
fn readlinks(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("echo {n}=$(readlink /proc/self/ns/{n})"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn new_namespaces_differ_from_the_hosts() {
    let e = Env::new("nsnew");
    let script = readlinks(&["pid", "mnt", "uts", "ipc", "net", "cgroup", "user", "time"]);
    let o = e.run(e.config(&["sh", "-c", &script]), "n1");
    let got = kv(o.ok());
    for n in NS {
        let inside = got.get(n).unwrap_or_else(|| panic!("no {n} in {got:?}"));
        assert!(inside.starts_with(&format!("{n}:[")), "{n}: {inside}");
        assert_ne!(*inside, host_ns(n), "{n} namespace is the host's");
    }
    // user and time are not in the default config: shared with the host.
    assert_eq!(got["user"], host_ns("user"));
    assert_eq!(got["time"], host_ns("time"));
}

#[test]
fn namespaces_not_in_the_config_are_the_hosts() {
    let e = Env::new("nsshared");
    let mut c = e.config(&["sh", "-c", &readlinks(&NS)]);
    c["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "mount"}]);
    // Without a private UTS namespace there is no hostname to set.
    c.as_object_mut().unwrap().remove("hostname");
    let got = kv(e.run(c, "s1").ok());
    for n in ["pid", "mnt"] {
        assert_ne!(got[n], host_ns(n), "{n}");
    }
    for n in ["uts", "ipc", "net", "cgroup"] {
        assert_eq!(got[n], host_ns(n), "{n}");
    }
}

#[test]
fn the_program_is_pid_1() {
    let e = Env::new("pid1");
    let o = e.run(
        e.config(&[
            "sh",
            "-c",
            "echo $$; tr '\\0' ' ' </proc/1/cmdline; echo; ps -o pid,args",
        ]),
        "p1",
    );
    let out = o.ok();
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("1"), "{out}");
    assert!(lines.next().unwrap().starts_with("sh -c echo $$;"), "{out}");
    // ps sees only the container's processes, the shell as pid 1.
    let ps: Vec<&str> = lines.collect();
    assert!(ps[0].contains("PID"), "{out}");
    let pids: Vec<&str> = ps[1..]
        .iter()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert!(pids.contains(&"1"), "{out}");
    assert!(ps[1..].iter().all(|l| !l.contains("husk")), "{out}");
    assert!(ps.len() <= 4, "more processes than sh and ps: {out}");
}

#[test]
fn hostname_and_domainname() {
    let e = Env::new("uts");
    let mut c = e.config(&[
        "sh",
        "-c",
        "hostname; cat /proc/sys/kernel/hostname /proc/sys/kernel/domainname",
    ]);
    c["hostname"] = json!("box-one");
    c["domainname"] = json!("example.test");
    let o = e.run(c, "u1");
    assert_eq!(o.ok(), "box-one\nbox-one\nexample.test\n");
    // The host's names are untouched.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_ne!(host.trim(), "box-one");
}

#[test]
fn joining_another_containers_namespaces_by_path() {
    let e = Env::new("nsjoin");
    let mut a = e.config(&["sleep", "60"]);
    a["hostname"] = json!("container-a");
    let pid_a = e.run_detached(a, "a");
    assert!(alive(pid_a));
    let link = |n: &str| {
        std::fs::read_link(format!("/proc/{pid_a}/ns/{n}"))
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };

    let mut c = e.config(&[
        "sh",
        "-c",
        &format!("hostname; {}", readlinks(&["net", "uts", "ipc", "pid"])),
    ]);
    c.as_object_mut().unwrap().remove("hostname");
    let ns: Vec<Value> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| match n["type"].as_str().unwrap() {
            "network" => json!({"type": "network", "path": format!("/proc/{pid_a}/ns/net")}),
            "uts" => json!({"type": "uts", "path": format!("/proc/{pid_a}/ns/uts")}),
            _ => n.clone(),
        })
        .collect();
    c["linux"]["namespaces"] = json!(ns);
    let o = e.run(c, "b");
    let out = o.ok();
    assert_eq!(out.lines().next(), Some("container-a"), "{out}");
    let got = kv(out);
    assert_eq!(got["net"], link("net"));
    assert_eq!(got["uts"], link("uts"));
    // The namespaces B made itself are its own.
    assert_ne!(got["ipc"], link("ipc"));
    assert_ne!(got["pid"], link("pid"));
    assert!(alive(pid_a), "joining A's namespaces hurt A");
}

fn userns_config(e: &Env, args: &[&str]) -> Value {
    let mut c = e.config(args);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    let map = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    c["linux"]["uidMappings"] = map.clone();
    c["linux"]["gidMappings"] = map;
    c["root"]["readonly"] = json!(true);
    c
}

#[test]
fn user_namespace_maps_root_to_an_unprivileged_host_uid() {
    let e = Env::new("userns");
    let c = userns_config(
        &e,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g",
        ],
    );
    let o = e.run(c, "u1");
    let out = o.ok();
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[2], ["0"], "{out}");
    assert_eq!(lines[3], ["0"], "{out}");

    // Seen from the host the same process belongs to uid/gid 100000.
    let c = userns_config(&e, &["sleep", "60"]);
    e.write(c, "u2");
    let b = e.bundle();
    // create + start: the init, now the namespace's root, opens exec.fifo.
    e.husk(&["create", "--bundle", b.to_str().unwrap(), "u2"])
        .ok();
    e.husk(&["start", "u2"]).ok();
    assert_eq!(e.status("u2"), "running");
    let pid = e.state("u2")["pid"].as_i64().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |k: &str| {
        status
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
    };
    assert_eq!(field("Uid:"), ["100000"; 4], "{status}");
    assert_eq!(field("Gid:"), ["100000"; 4], "{status}");
    let user = std::fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_ne!(user.to_string_lossy(), host_ns("user"));
}

fn uptime(s: &str) -> f64 {
    s.split_whitespace().next().unwrap().parse().unwrap()
}

#[test]
fn time_namespace_offsets_the_clocks() {
    let e = Env::new("timens");
    let mut c = e.config(&["sh", "-c", "cat /proc/uptime; readlink /proc/self/ns/time"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    c["linux"]["timeOffsets"] = json!({
        "monotonic": {"secs": 86400},
        "boottime": {"secs": 86400}
    });
    let before = uptime(&std::fs::read_to_string("/proc/uptime").unwrap());
    let o = e.run(c, "t1");
    let out = o.ok();
    let mut lines = out.lines();
    let inside = uptime(lines.next().unwrap());
    assert!(
        inside - before >= 86400.0 - 0.01,
        "uptime inside {inside}, host {before}"
    );
    let ns = lines.next().unwrap();
    assert!(ns.starts_with("time:["), "{out}");
    assert_ne!(ns, host_ns("time"));
}

#[test]
fn cgroup_namespace_hides_the_cgroup_path() {
    let e = Env::new("cgns");
    let o = e.run(e.config(&["cat", "/proc/self/cgroup"]), "c1");
    let out = o.ok();
    assert!(!out.is_empty());
    for l in out.lines() {
        let path = l.splitn(3, ':').nth(2).unwrap();
        assert_eq!(path, "/", "{out}");
    }

    // Without a cgroup namespace the container's own cgroup is visible.
    let mut c = e.config(&["cat", "/proc/self/cgroup"]);
    let ns: Vec<Value> = c["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "cgroup")
        .cloned()
        .collect();
    c["linux"]["namespaces"] = json!(ns);
    let o = e.run(c, "c2");
    let out = o.ok();
    let want = format!("{}/c2", e.cgroup_parent);
    assert!(
        out.lines().any(|l| l.ends_with(&format!(":{want}"))),
        "{out}"
    );
}

#[test]
fn user_namespace_with_a_time_namespace() {
    // A time namespace makes the init set its namespaces up itself
    // (unshare after clone): the user namespace must work that way too.
    let e = Env::new("usertime");
    let mut c = userns_config(
        &e,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; id -u; cat /proc/uptime",
        ],
    );
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 86400}});
    let before = uptime(&std::fs::read_to_string("/proc/uptime").unwrap());
    let o = e.run(c, "ut");
    let out = o.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "{out}"
    );
    assert_eq!(lines[1], "0", "{out}");
    // /proc/uptime has two decimals: allow for their rounding in f64.
    assert!(
        uptime(lines[2]) - before >= 86400.0 - 0.01,
        "{before} {out}"
    );
}

#[test]
fn time_namespace_without_offsets_is_still_new() {
    let e = Env::new("timens0");
    let mut c = e.config(&["readlink", "/proc/self/ns/time"]);
    c["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "time"}));
    let o = e.run(c, "t0");
    let ns = o.ok().trim().to_string();
    assert!(ns.starts_with("time:["), "{ns}");
    assert_ne!(ns, host_ns("time"));
}

/// Replace the namespaces of `c` whose type is a key of `paths` by joins.
fn join(c: &mut Value, paths: &[(&str, String)]) {
    let mut ns: Vec<Value> = c["linux"]["namespaces"].as_array().unwrap().clone();
    for (t, p) in paths {
        ns.retain(|n| n["type"] != *t);
        ns.push(json!({"type": t, "path": p}));
    }
    c["linux"]["namespaces"] = json!(ns);
}

#[test]
fn joining_a_pid_namespace_by_path() {
    let e = Env::new("pidjoin");
    let pid_a = e.run_detached(e.config(&["sleep", "60"]), "a");

    let mut c = e.config(&[
        "sh",
        "-c",
        "echo self=$$; ps -o pid,args | grep -v ps; readlink /proc/self/ns/pid",
    ]);
    join(&mut c, &[("pid", format!("/proc/{pid_a}/ns/pid"))]);
    let o = e.run(c, "b");
    let out = o.ok();
    // B's shell is not pid 1 there: A's sleep is.
    assert!(!out.contains("self=1\n"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["1", "sleep", "60"]),
        "{out}"
    );
    let link = std::fs::read_link(format!("/proc/{pid_a}/ns/pid")).unwrap();
    assert_eq!(out.lines().last(), Some(link.to_str().unwrap()), "{out}");
    assert!(alive(pid_a));
}

#[test]
fn joining_a_user_namespace_by_path() {
    let e = Env::new("userjoin");
    let pid_a = e.run_detached(userns_config(&e, &["sleep", "60"]), "a");

    let mut c = e.config(&[
        "sh",
        "-c",
        "cat /proc/self/uid_map; id -u; readlink /proc/self/ns/user",
    ]);
    join(&mut c, &[("user", format!("/proc/{pid_a}/ns/user"))]);
    let o = e.run(c, "b");
    let out = o.ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "{out}"
    );
    assert_eq!(lines[1], "0", "{out}");
    let link = std::fs::read_link(format!("/proc/{pid_a}/ns/user")).unwrap();
    assert_eq!(lines[2], link.to_str().unwrap(), "{out}");
}
