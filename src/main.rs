//! The `husk` binary: parse, set up logging, dispatch, report, exit.

use husk::cli::{Cli, Command, Stop};
use husk::create::{self, Mode};
use husk::error::Error;
use husk::{cgroup_cmds, container, log, specgen};
use std::path::Path;

/// Size classes over mapped chunks (see alloc.rs): no churn of mmap/munmap.
#[global_allocator]
static ALLOC: husk::alloc::Global = husk::alloc::Global;

struct ExecFailed(Box<Error>);

impl From<ExecFailed> for Error {
    fn from(e: ExecFailed) -> Error {
        Error::Msg(format!("{EXEC_PREFIX}{}", e.0))
    }
}

const EXEC_PREFIX: &str = "exec failed: ";

fn run(cli: Cli) -> Result<i32, Error> {
    let root = Path::new(&cli.root);
    let Some(cmd) = cli.command else {
        return Err(Error::Invalid("no command given: see husk --help".into()));
    };
    match cmd {
        Command::Spec { bundle, rootless } => specgen::run(&bundle, rootless).map(|_| 0),
        Command::Create(a) => create::create(root, &a, Mode::Create),
        Command::Run {
            create: a,
            detach,
            keep,
        } => create::create(root, &a, Mode::Run { detach, keep }),
        Command::Start { id } => container::start(root, &id).map(|_| 0),
        Command::State { id } => container::state(root, &id).map(|_| 0),
        Command::List { format, quiet } => container::list(root, &format, quiet).map(|_| 0),
        Command::Kill { all, id, signal } => {
            container::kill(root, &id, signal.as_deref(), all).map(|_| 0)
        }
        Command::Delete { force, id } => container::delete(root, &id, force).map(|_| 0),
        // runc prefixes exec errors and exits 255 for them.
        Command::Exec(a) => husk::exec::exec(root, &a).map_err(|e| ExecFailed(Box::new(e)).into()),
        Command::Pause { id } => cgroup_cmds::pause(root, &id).map(|_| 0),
        Command::Resume { id } => cgroup_cmds::resume(root, &id).map(|_| 0),
        Command::Update(a) => cgroup_cmds::update(root, &a).map(|_| 0),
        Command::Events {
            interval,
            stats,
            id,
        } => cgroup_cmds::events(root, &id, stats, &interval).map(|_| 0),
        Command::Ps {
            format,
            id,
            ps_args,
        } => cgroup_cmds::ps(root, &id, &format, &ps_args).map(|_| 0),
        Command::Features => {
            println!(
                "{}",
                serde_json::to_string_pretty(&husk::features::document()).expect("serializes")
            );
            Ok(0)
        }
    }
}

/// Report an error through the logger (and on stderr when logging to a
/// file), then exit with `code`.
fn fail(msg: &str, code: i32) -> ! {
    log::error(msg);
    if !log::to_stderr() {
        eprintln!("{msg}");
    }
    std::process::exit(code);
}

fn main() {
    let (cli, stop) = husk::cli::parse_env();
    match &stop {
        Some(Stop::Help(text)) => {
            use std::io::Write;
            let _ = std::io::stdout().write_all(text.as_bytes());
            return;
        }
        None if cli.version => {
            println!(
                "husk version {}\nspec: {}",
                env!("CARGO_PKG_VERSION"),
                husk::OCI_VERSION
            );
            return;
        }
        _ => {}
    }
    let format = match cli.log_format.as_str() {
        "json" => log::Format::Json,
        "text" => log::Format::Text,
        other => {
            eprintln!("unknown log-format {other:?}");
            std::process::exit(1);
        }
    };
    if let Err(e) = log::init(Some(&cli.log), format, cli.debug) {
        eprintln!("open log file {}: {e}", cli.log);
        std::process::exit(1);
    }
    // A usage error, in runc's words, once the logger can report it.
    if let Some(Stop::Usage(msg, code)) = stop {
        fail(&msg, code);
    }
    match run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let msg = e.to_string();
            fail(&msg, if msg.starts_with(EXEC_PREFIX) { 255 } else { 1 });
        }
    }
}
