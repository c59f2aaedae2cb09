//! runc's command line, flag for flag.

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "husk",
    about = "a small, fast OCI container runtime",
    disable_version_flag = true
)]
pub struct Cli {
    /// enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// set the log file to write husk logs to (default is stderr)
    #[arg(long, global = true, default_value = "")]
    pub log: String,
    /// set the log format ('text' (default), or 'json')
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// root directory for storage of container state
    #[arg(long, global = true, default_value = "/run/husk")]
    pub root: String,
    /// path to the criu binary used for checkpoint and restore
    #[arg(long, global = true, default_value = "criu")]
    pub criu: String,
    /// accepted for compatibility: cgroups are managed through cgroupfs
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// ignore cgroup permission errors ('true', 'false', or 'auto')
    #[arg(long, default_value = "auto", num_args = 0..=1, default_missing_value = "true")]
    pub rootless: String,
    /// print the version
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: String,
    /// path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<String>,
    /// specify the file to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<String>,
    /// do not use pivot root to jail process inside rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// create a new specification file
    Spec {
        #[arg(short = 'b', long, default_value = "")]
        bundle: String,
        /// generate a configuration for a rootless container
        #[arg(long)]
        rootless: bool,
    },
    /// create a container
    Create(CreateArgs),
    /// executes the user defined process in a created container
    Start { id: String },
    /// create and run a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// detach from the container's process
        #[arg(short = 'd', long)]
        detach: bool,
        /// do not delete the container after it exits
        #[arg(long)]
        keep: bool,
    },
    /// output the state of a container
    State { id: String },
    /// lists containers started by husk with the given root
    #[command(alias = "ls")]
    List {
        /// select one of: table or json
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        /// display only container IDs
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// kill sends the specified signal (default: SIGTERM) to the container's init process
    Kill {
        /// send the specified signal to all processes inside the container
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        signal: Option<String>,
    },
    /// delete any resources held by the container
    Delete {
        /// forcibly deletes the container if it is still running (uses SIGKILL)
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// show the enabled features
    Features,
    /// execute new process inside the container
    Exec(crate::exec::ExecArgs),
    /// pause suspends all processes inside the container
    Pause { id: String },
    /// resumes all processes that have been previously paused
    Resume { id: String },
    /// update container resource constraints
    Update(crate::cgroup_cmds::UpdateArgs),
    /// display container events such as OOM notifications, cpu, memory, and IO usage statistics
    Events {
        /// set the stats collection interval
        #[arg(long, default_value = "5s")]
        interval: String,
        /// display the container's stats then exit
        #[arg(long)]
        stats: bool,
        id: String,
    },
    /// ps displays the processes running inside a container
    Ps {
        /// select one of: table or json
        #[arg(short = 'f', long, default_value = "table")]
        format: String,
        id: String,
        /// arguments for ps (default: -ef)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
}
