//! `--log FILE` and `--log-format text|json`, written as runc writes them so
//! that managers (containerd, podman) can show our last error to the user.

use std::io::Write;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<std::fs::File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Set up logging once, from the global flags.
pub fn init(path: Option<&str>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match path {
        Some(p) if !p.is_empty() => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ),
        _ => None,
    };
    let _ = LOGGER.set(Logger {
        file,
        format,
        debug,
    });
    Ok(())
}

/// True when log lines go to stderr (no --log file).
pub fn to_stderr() -> bool {
    LOGGER.get().is_none_or(|l| l.file.is_none())
}

fn line(level: &str, msg: &str) -> String {
    let time = crate::util::rfc3339_now(false);
    match LOGGER.get().map_or(Format::Text, |l| l.format) {
        Format::Json => {
            let v = serde_json::json!({ "level": level, "msg": msg, "time": time });
            format!("{v}\n")
        }
        Format::Text => format!(
            "time=\"{time}\" level={level} msg={}\n",
            serde_json::Value::String(msg.to_string())
        ),
    }
}

fn emit(level: &str, msg: &str) {
    let l = line(level, msg);
    match LOGGER.get().and_then(|l| l.file.as_ref()) {
        Some(mut f) => {
            let _ = f.write_all(l.as_bytes());
        }
        None => {
            let _ = std::io::stderr().write_all(l.as_bytes());
        }
    }
}

pub fn error(msg: &str) {
    emit("error", msg);
}

pub fn warn(msg: &str) {
    emit("warning", msg);
}

pub fn debug(msg: &str) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        emit("debug", msg);
    }
}
