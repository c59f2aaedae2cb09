//! runc's command line, flag for flag: the types the commands take, and
//! `parse`, a small parser over static tables (`cli/table.rs`).

mod help;
mod parse;
mod table;
#[cfg(test)]
mod tests;

pub use parse::{Cmd, Kind, Matches, Opt};
pub use table::{COMMANDS, GLOBALS};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cli {
    /// enable debug logging
    pub debug: bool,
    /// set the log file to write husk logs to (default is stderr)
    pub log: String,
    /// set the log format ('text' (default), or 'json')
    pub log_format: String,
    /// root directory for storage of container state
    pub root: String,
    /// path to the criu binary used for checkpoint and restore
    pub criu: String,
    /// accepted for compatibility: cgroups are managed through cgroupfs
    pub systemd_cgroup: bool,
    /// ignore cgroup permission errors ('true', 'false', or 'auto')
    pub rootless: String,
    /// print the version
    pub version: bool,
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateArgs {
    /// path to the root of the bundle directory
    pub bundle: String,
    /// path to an AF_UNIX socket which will receive the pty master
    pub console_socket: Option<String>,
    /// specify the file to write the process id to
    pub pid_file: Option<String>,
    /// do not use pivot root to jail process inside rootfs
    pub no_pivot: bool,
    /// do not create a new session keyring for the container
    pub no_new_keyring: bool,
    /// pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)
    pub preserve_fds: u32,
    pub id: String,
}

/// The commands; their options and help are in `cli/table.rs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Spec {
        bundle: String,
        rootless: bool,
    },
    Create(CreateArgs),
    Start {
        id: String,
    },
    Run {
        create: CreateArgs,
        detach: bool,
        keep: bool,
    },
    State {
        id: String,
    },
    List {
        format: String,
        quiet: bool,
    },
    Kill {
        all: bool,
        id: String,
        signal: Option<String>,
    },
    Delete {
        force: bool,
        id: String,
    },
    Features,
    Exec(crate::exec::ExecArgs),
    Pause {
        id: String,
    },
    Resume {
        id: String,
    },
    Update(crate::cgroup_cmds::UpdateArgs),
    Events {
        interval: String,
        stats: bool,
        id: String,
    },
    Ps {
        format: String,
        id: String,
        ps_args: Vec<String>,
    },
}

/// Why not to run a command after all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `-h`, `--help`, `help [command]`: print this on stdout, exit 0.
    Help(String),
    /// A usage error in runc's words, and the exit code (runc's too).
    Usage(String, i32),
}

/// Parse the arguments (without the program's name). The global options
/// given before a usage error are in the `Cli` all the same (the logger
/// needs them to report it).
pub fn parse(args: Vec<String>) -> (Cli, Option<Stop>) {
    let mut g = parse::globals();
    let res = parse::run(args, &mut g);
    let mut cli = Cli {
        debug: g.flag("debug"),
        log: g.string("log"),
        log_format: g.string("log-format"),
        root: g.string("root"),
        criu: g.string("criu"),
        systemd_cgroup: g.flag("systemd-cgroup"),
        rootless: g.string("rootless"),
        version: g.flag("version"),
        command: None,
    };
    match res {
        Ok(command) => {
            cli.command = command;
            (cli, None)
        }
        Err(stop) => (cli, Some(stop)),
    }
}

/// `parse` over the process's arguments; one that is not UTF-8 is an error.
pub fn parse_env() -> (Cli, Option<Stop>) {
    let mut bad = None;
    let args = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string().unwrap_or_else(|a| {
                let s = a.to_string_lossy().into_owned();
                bad.get_or_insert_with(|| s.clone());
                s
            })
        })
        .collect();
    let (cli, stop) = parse(args);
    match (bad, stop) {
        (Some(b), None | Some(Stop::Usage(..))) => {
            let msg = format!("invalid UTF-8 in argument {b:?}");
            (cli, Some(Stop::Usage(msg, 1)))
        }
        (_, stop) => (cli, stop),
    }
}
