//! Loading `config.json`: parse errors name the JSON path, unknown capability
//! names are warned about and dropped (as runc does), and `validate` checks
//! what the types alone cannot, before anything of the container exists.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Read and parse `<bundle>/config.json`.
pub fn load(bundle: &Path) -> Result<Spec> {
    let file = bundle.join("config.json");
    let text =
        std::fs::read(&file).map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))?;
    parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", file.display())))
}

/// Parse config JSON text; errors name the JSON path of the bad field.
pub fn parse(text: &[u8]) -> std::result::Result<Spec, String> {
    // The common case, a valid config whose capabilities are all known: one
    // typed pass. Anything else takes the slow path below, which filters
    // unknown capabilities and words the errors.
    if let Ok(spec) = crate::jsonpath::from_slice::<Spec>(text) {
        if capability_names_well_formed(text) {
            return Ok(spec);
        }
    }
    let mut v: Value = serde_json::from_slice(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if !v.is_object() {
        return Err("the configuration must be a JSON object".into());
    }
    filter_capabilities(&mut v)?;
    // Deserialize from text, not from the Value: then the error position
    // gives the JSON path, and there is one deserializer in the program.
    let text = serde_json::to_vec(&v).expect("serializes");
    crate::jsonpath::from_slice::<Spec>(&text).map_err(|e| format!("{}: {}", e.path, e.reason()))
}

fn well_formed(name: &str) -> bool {
    name.len() > 4
        && name.starts_with("CAP_")
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether every name in `process.capabilities` is spelled as the spec
/// wants (oci-spec also takes "cap_kill"); a pass that skips the rest.
fn capability_names_well_formed(text: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Config {
        process: Option<Process>,
    }
    #[derive(serde::Deserialize)]
    struct Process {
        capabilities: Option<std::collections::BTreeMap<String, Option<Vec<String>>>>,
    }
    let Ok(c) = serde_json::from_slice::<Config>(text) else {
        return false;
    };
    c.process
        .and_then(|p| p.capabilities)
        .into_iter()
        .flat_map(|sets| sets.into_values())
        .flatten()
        .flatten()
        .all(|n| well_formed(&n))
}

/// Drop capability names the runtime does not know, with a warning; reject
/// malformed ones.
fn filter_capabilities(v: &mut Value) -> std::result::Result<(), String> {
    let Some(caps) = v
        .pointer_mut("/process/capabilities")
        .and_then(Value::as_object_mut)
    else {
        return Ok(());
    };
    for (set, list) in caps.iter_mut() {
        let Some(list) = list.as_array_mut() else {
            continue;
        };
        let mut i = 0;
        while i < list.len() {
            let field = format!("process.capabilities.{set}[{i}]");
            let Some(name) = list[i].as_str() else {
                return Err(format!("{field}: must be a string"));
            };
            if !well_formed(name) {
                return Err(format!("{field}: malformed capability name {name:?}"));
            }
            if serde_json::from_value::<oci_spec::runtime::Capability>(list[i].clone()).is_err() {
                crate::log::warn(&format!("{field}: unknown capability {name:?}, ignored"));
                list.remove(i);
                continue;
            }
            i += 1;
        }
    }
    Ok(())
}

/// The config a container was created from, as stored in its state (one
/// deserializer for the whole program keeps the binary small).
pub fn from_state(config: &serde_json::value::RawValue) -> std::result::Result<Spec, String> {
    parse(config.get().as_bytes())
}

/// The rootfs path: `root.path`, relative to the bundle unless absolute.
pub fn rootfs(spec: &Spec, bundle: &Path) -> Result<PathBuf> {
    let root = spec
        .root()
        .as_ref()
        .ok_or_else(|| Error::Invalid("root: must be set".into()))?;
    let p = root.path();
    let full = if p.is_absolute() {
        p.clone()
    } else {
        bundle.join(p)
    };
    let canon = full
        .canonicalize()
        .map_err(|e| Error::Invalid(format!("root.path: {}: {e}", full.display())))?;
    if !canon.is_dir() {
        return Err(Error::Invalid(format!(
            "root.path: {} is not a directory",
            canon.display()
        )));
    }
    Ok(canon)
}

fn has_ns(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
}

/// Checks that need more than the types: each error names the field.
pub fn validate(spec: &Spec, need_process: bool) -> Result<()> {
    let bad = |m: String| Err(Error::Invalid(m));
    let process = spec.process().as_ref();
    if need_process {
        let Some(p) = process else {
            return bad("process: must be set to create a container".into());
        };
        if p.args().as_ref().is_none_or(|a| a.is_empty()) {
            return bad("process.args: must not be empty".into());
        }
        if !p.cwd().is_absolute() {
            return bad(format!(
                "process.cwd: {:?} must be an absolute path",
                p.cwd()
            ));
        }
        if p.terminal().unwrap_or(false) && p.console_size().is_some() {
            // accepted; applied by the terminal code
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if !m.destination().is_absolute() {
            return bad(format!(
                "mounts[{i}].destination: {:?} must be an absolute path",
                m.destination()
            ));
        }
    }
    if let Some(linux) = spec.linux() {
        let mut seen = Vec::new();
        for (i, ns) in linux.namespaces().iter().flatten().enumerate() {
            if seen.contains(&ns.typ()) {
                return bad(format!(
                    "linux.namespaces[{i}]: duplicate namespace type {:?}",
                    ns.typ()
                ));
            }
            seen.push(ns.typ());
            if let Some(p) = ns.path() {
                if !p.is_absolute() || !p.exists() {
                    return bad(format!(
                        "linux.namespaces[{i}].path: {} does not exist",
                        p.display()
                    ));
                }
            }
        }
        let user = has_ns(spec, LinuxNamespaceType::User);
        if !user && (linux.uid_mappings().is_some() || linux.gid_mappings().is_some()) {
            return bad("linux.uidMappings: id mappings need a user namespace".into());
        }
        if linux.time_offsets().is_some() && !has_ns(spec, LinuxNamespaceType::Time) {
            return bad("linux.timeOffsets: time offsets need a time namespace".into());
        }
        for (key, _) in linux.sysctl().iter().flatten() {
            if key.contains("..") || key.starts_with('/') || key.is_empty() {
                return bad(format!("linux.sysctl: invalid key {key:?}"));
            }
        }
        for (i, p) in linux.masked_paths().iter().flatten().enumerate() {
            if !p.starts_with('/') {
                return bad(format!(
                    "linux.maskedPaths[{i}]: {p:?} must be an absolute path"
                ));
            }
        }
        for (i, p) in linux.readonly_paths().iter().flatten().enumerate() {
            if !p.starts_with('/') {
                return bad(format!(
                    "linux.readonlyPaths[{i}]: {p:?} must be an absolute path"
                ));
            }
        }
    }
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !has_ns(spec, LinuxNamespaceType::Uts)
    {
        return bad("hostname: setting the hostname needs a new uts namespace".into());
    }
    if let Some(hooks) = spec.hooks() {
        let lists = [
            ("prestart", hooks.prestart()),
            ("createRuntime", hooks.create_runtime()),
            ("createContainer", hooks.create_container()),
            ("startContainer", hooks.start_container()),
            ("poststart", hooks.poststart()),
            ("poststop", hooks.poststop()),
        ];
        for (name, list) in lists {
            for (i, h) in list.iter().flatten().enumerate() {
                if !h.path().is_absolute() {
                    return bad(format!(
                        "hooks.{name}[{i}].path: {:?} must be an absolute path",
                        h.path()
                    ));
                }
                if h.timeout().is_some_and(|t| t <= 0) {
                    return bad(format!("hooks.{name}[{i}].timeout: must be positive"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Value {
        serde_json::json!({
            "ociVersion": "1.3.0",
            "root": {"path": "rootfs"},
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}
        })
    }

    fn parse_v(v: &Value) -> std::result::Result<Spec, String> {
        parse(v.to_string().as_bytes())
    }

    #[test]
    fn parse_error_names_the_path() {
        let mut v = base();
        v["linux"]["namespaces"][1]["type"] = "bogus".into();
        let e = parse_v(&v).unwrap_err();
        assert!(e.starts_with("linux.namespaces[1].type:"), "{e}");
        let e = parse(b"{not json").unwrap_err();
        assert!(e.contains("invalid JSON"), "{e}");
    }

    #[test]
    fn unknown_capabilities_are_dropped_malformed_rejected() {
        let mut v = base();
        v["process"]["capabilities"] =
            serde_json::json!({"bounding": ["CAP_KILL", "CAP_NOT_A_THING"]});
        let s = parse_v(&v).unwrap();
        let caps = s
            .process()
            .as_ref()
            .unwrap()
            .capabilities()
            .as_ref()
            .unwrap();
        assert_eq!(caps.bounding().as_ref().unwrap().len(), 1);
        v["process"]["capabilities"] = serde_json::json!({"effective": ["cap_kill"]});
        let e = parse_v(&v).unwrap_err();
        assert!(e.starts_with("process.capabilities.effective[0]"), "{e}");
    }

    #[test]
    fn validation_names_fields() {
        let check = |f: &dyn Fn(&mut Value), want: &str| {
            let mut v = base();
            f(&mut v);
            let s = parse_v(&v).unwrap();
            let e = validate(&s, true).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e} does not start with {want}");
        };
        check(
            &|v| v["process"]["args"] = serde_json::json!([]),
            "process.args",
        );
        check(&|v| v["process"]["cwd"] = "rel".into(), "process.cwd");
        check(
            &|v| v["mounts"] = serde_json::json!([{"destination": "x", "type": "tmpfs"}]),
            "mounts[0].destination",
        );
        check(
            &|v| v["linux"]["namespaces"] = serde_json::json!([{"type": "pid"}, {"type": "pid"}]),
            "linux.namespaces[1]",
        );
        check(&|v| v["hostname"] = "h".into(), "hostname");
        check(
            &|v| {
                v["linux"]["uidMappings"] =
                    serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}])
            },
            "linux.uidMappings",
        );
        check(
            &|v| v["hooks"] = serde_json::json!({"prestart": [{"path": "rel"}]}),
            "hooks.prestart[0].path",
        );
        check(
            &|v| {
                v["linux"]["namespaces"] =
                    serde_json::json!([{"type": "network", "path": "/nonexistent/ns"}])
            },
            "linux.namespaces[0].path",
        );
        let s = parse_v(&base()).unwrap();
        assert!(validate(&s, true).is_ok());
    }

    #[test]
    fn exec_cpu_affinity_format() {
        // oci-spec's check (vendor/oci-spec, hand-written instead of a regex).
        for ok in ["0", "0-3", "0-3,7", "1,2,3", "10-20,30-40,5"] {
            let mut v = base();
            v["process"]["execCPUAffinity"] = serde_json::json!({"initial": ok, "final": ok});
            parse_v(&v).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "", "-", "0-", "-3", "0-3,,7", ",1", "1,", "1-2-3", "4-6.", "a", " 1", "\u{663}",
        ] {
            let mut v = base();
            v["process"]["execCPUAffinity"] = serde_json::json!({"final": bad});
            let e = parse_v(&v).unwrap_err();
            assert!(
                e.starts_with("process.execCPUAffinity.final: Invalid execCPUAffinity format"),
                "{bad}: {e}"
            );
        }
    }
}
