//! `persist`: look into a persist store, verify it, clean it.
//!
//! ```text
//! persist [--store DIR] ls [TYPE] [--json]   one row per record
//! persist show RECORD [--json]              key, data and record files of one record
//! persist tree [--depth N]                  the store as a tree with sizes
//! persist verify [-v]                       check every record against its checksums
//! persist gc [--dry-run] [--min-age AGE]    remove what interrupted saves left behind
//! persist du                                bytes per type
//! persist prune [STORE] [--older-than AGE] [--type T]... [--keep-last N]
//!               [--max-size SIZE] [--min-age AGE] [--with-dependents] [--dry-run]
//!                                           remove whole records by age, count and size
//! persist sync SRC DST [--dry-run] [-j N]   copy the records DST lacks or holds older
//! ```
//!
//! The store is `--store DIR`, else `$PERSIST_STORE`, else `./.persist`. The
//! command works on the store's layout and `meta.json` files only, so it reads
//! stores written by any program, whatever its types.

mod cmd;
mod output;

use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use persist_core::maintenance::{self, PruneOptions};
use persist_core::Store;

use output::Out;

/// Look into a persist store, verify it, clean it.
#[derive(Debug, Parser)]
#[command(name = "persist", version, about, long_about = None)]
struct Cli {
    /// The store folder [default: $PERSIST_STORE, else ./.persist]
    #[arg(long, global = true, value_name = "DIR")]
    store: Option<String>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List records: type, file name, autoinc, saved at, size on disk
    Ls {
        /// Only records of this type
        #[arg(value_name = "TYPE")]
        type_name: Option<String>,
        /// Print JSON (one array of objects) for scripts
        #[arg(long)]
        json: bool,
    },
    /// Show one record: key, data fields, record files (npy dtype and shape), extra files
    Show {
        /// The record: its folder (a path, or relative to the store) or TYPE/NAME
        /// as `ls` prints it, such as `example/example-A00-1234`
        #[arg(value_name = "RECORD")]
        record: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the store as a tree with sizes
    Tree {
        /// Show at most this many levels below the store
        #[arg(long, short = 'd', value_name = "N")]
        depth: Option<usize>,
    },
    /// Check every record: meta.json parses, every record file exists and matches its blake3
    Verify {
        /// Also print a line for every intact record
        #[arg(long, short = 'v')]
        verbose: bool,
    },
    /// Remove what interrupted saves left behind (never a whole record, extra file or claim)
    Gc {
        /// Only print what would be removed
        #[arg(long, short = 'n')]
        dry_run: bool,
        /// Leave files younger than this alone (a save may be writing them): 90s, 30m, 1h, 2d, 0
        #[arg(long, value_name = "AGE", default_value = "1h", value_parser = parse_age)]
        min_age: Duration,
    },
    /// Records, files and bytes per type
    Du,
    /// Remove whole records by age, count per key or size (try --dry-run first)
    ///
    /// --older-than, --keep-last and --max-size each select records (within
    /// the --type scope, every type by default); a selected record is removed
    /// unless it was saved less than --min-age ago or a record that stays
    /// references it (Ref), which --with-dependents removes too.
    Prune {
        /// The store folder (instead of --store)
        #[arg(value_name = "STORE")]
        folder: Option<String>,
        /// Records saved longer ago than this: 90s, 30m, 12h, 30d
        #[arg(long, value_name = "AGE", value_parser = parse_age)]
        older_than: Option<Duration>,
        /// Only records of this type (repeat for several)
        #[arg(long = "type", value_name = "TYPE")]
        types: Vec<String>,
        /// Of every autoinc key, all runs but the newest N numbers
        #[arg(long, value_name = "N")]
        keep_last: Option<usize>,
        /// The oldest records until the store (or the --type scope) takes at most this: 500M, 10G, 1.5T, bytes
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<u64>,
        /// Never a record saved less than this long ago
        #[arg(long, value_name = "AGE", default_value = "1h", value_parser = parse_age)]
        min_age: Duration,
        /// Also remove the records whose Ref names a removed record
        #[arg(long)]
        with_dependents: bool,
        /// Only print what would be removed
        #[arg(long, short = 'n')]
        dry_run: bool,
    },
    /// Copy the records DST lacks or holds in an older version from SRC (folders or s3:// URLs)
    Sync {
        /// The store to copy from: a folder or a URL such as s3://bucket/prefix
        #[arg(value_name = "SRC")]
        src: String,
        /// The store to copy to (a folder is made if missing)
        #[arg(value_name = "DST")]
        dst: String,
        /// Only print what would be copied
        #[arg(long, short = 'n')]
        dry_run: bool,
        /// Records copied at the same time
        #[arg(long, short = 'j', value_name = "N", default_value_t = maintenance::DEFAULT_SYNC_CONCURRENCY)]
        jobs: usize,
    },
}

/// What can end the command.
#[derive(Debug)]
enum CliError {
    /// A store error (already names the record and path).
    Persist(persist_core::Error),
    /// Anything else, one line.
    Message(String),
    /// Writing to stdout failed.
    Output(io::Error),
}

impl From<persist_core::Error> for CliError {
    fn from(e: persist_core::Error) -> Self {
        CliError::Persist(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Output(e)
    }
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::Persist(e) => write!(f, "{e}"),
            CliError::Message(m) => f.write_str(m),
            CliError::Output(e) => write!(f, "cannot write output: {e}"),
        }
    }
}

type CliResult<T = ExitCode> = Result<T, CliError>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(e),
    };
    let mut out = Out::stdout();
    let result = run(cli, &mut out).and_then(|code| {
        out.flush()?;
        Ok(code)
    });
    match result {
        Ok(code) => code,
        // `persist ls | head`: the reader has gone, nothing more to say.
        Err(CliError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            let paint = output::Paint::for_stream(io::stderr().is_terminal());
            let line = e.to_string().replace('\n', " ");
            eprintln!("persist: {} {line}", paint.error("error:"));
            ExitCode::FAILURE
        }
    }
}

/// Help and version as clap prints them; errors as one line.
fn clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(if e.use_stderr() { 2 } else { 0 })
        }
        _ => {
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("persist: error: {first} (see `persist --help`)");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli, out: &mut Out) -> CliResult {
    // `prune` may name its store as an argument; `sync` names its two itself.
    let flag = match (&cli.command, cli.store) {
        (
            Command::Prune {
                folder: Some(_), ..
            },
            Some(_),
        ) => {
            return Err(CliError::Message(
                "give the store once: as --store or as prune's STORE argument".to_owned(),
            ))
        }
        (
            Command::Prune {
                folder: Some(s), ..
            },
            None,
        ) => Some(s.clone()),
        (_, flag) => flag,
    };
    let store = || open_store(flag.clone());
    match cli.command {
        Command::Ls { type_name, json } => cmd::ls(&store()?, type_name.as_deref(), json, out),
        Command::Show { record, json } => cmd::show(&store()?, &record, json, out),
        Command::Tree { depth } => cmd::tree(&store()?, depth, out),
        Command::Verify { verbose } => cmd::verify(&store()?, verbose, out),
        Command::Gc { dry_run, min_age } => cmd::gc(&store()?, dry_run, min_age, out),
        Command::Du => cmd::du(&store()?, out),
        Command::Prune {
            folder: _,
            older_than,
            types,
            keep_last,
            max_size,
            min_age,
            with_dependents,
            dry_run,
        } => {
            let options = PruneOptions {
                older_than,
                types,
                keep_last,
                max_size,
                min_age,
                with_dependents,
                dry_run,
            };
            cmd::prune(&store()?, options, out)
        }
        Command::Sync {
            src,
            dst,
            dry_run,
            jobs,
        } => {
            let opts = maintenance::SyncOptions {
                concurrency: jobs.max(1),
                dry_run,
            };
            cmd::sync(
                &open_store(Some(src))?,
                &open_destination(&dst, dry_run)?,
                &opts,
                out,
            )
        }
    }
}

/// The store the command looks at, and where it is on disk (for paths given
/// on the command line).
pub(crate) struct Opened {
    store: Store,
    root: Option<PathBuf>,
    shown: String,
}

fn open_store(flag: Option<String>) -> CliResult<Opened> {
    let (location, from) = match flag {
        Some(s) => (s, "--store"),
        None => match std::env::var("PERSIST_STORE") {
            Ok(s) if !s.is_empty() => (s, "PERSIST_STORE"),
            _ => ("./.persist".to_owned(), "the default"),
        },
    };
    if location.contains("://") {
        return open_url(&location);
    }
    let root = PathBuf::from(&location);
    if !root.is_dir() {
        let what = if root.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        return Err(CliError::Message(format!(
            "no store at `{location}` ({from}): it {what}; pass --store DIR or set PERSIST_STORE"
        )));
    }
    // Never create a store where the user only meant to look.
    let store = Store::open(&root)?;
    Ok(Opened {
        store,
        shown: location,
        root: Some(root),
    })
}

/// The store `sync` copies to: as `open_store`, but a missing folder is
/// made, since writing there is what was asked; for a dry run it is not, and
/// stands for an empty store.
fn open_destination(location: &str, dry_run: bool) -> CliResult<Opened> {
    if location.contains("://") {
        return open_url(location);
    }
    let root = PathBuf::from(location);
    let store = if dry_run && !root.exists() {
        Store::memory()
    } else {
        Store::open(&root)?
    };
    Ok(Opened {
        store,
        shown: location.to_owned(),
        root: Some(root),
    })
}

#[cfg(feature = "object-store")]
fn open_url(url: &str) -> CliResult<Opened> {
    Ok(Opened {
        store: Store::open_url(url)?,
        root: None,
        shown: url.to_owned(),
    })
}

#[cfg(not(feature = "object-store"))]
fn open_url(url: &str) -> CliResult<Opened> {
    Err(CliError::Message(format!(
        "`{url}` is an object-store URL; this build of persist reads local folders only (install with `--features object-store`)"
    )))
}

/// Splits `90s` or `1.5 G` into its number and its unit (trimmed, maybe
/// empty); `None` if it does not start with a number.
fn number_and_unit(text: &str) -> Option<(f64, &str)> {
    let t = text.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    Some((num.parse().ok()?, unit.trim()))
}

/// Parses an age: a number with an optional unit `s`, `m`, `h` or `d`
/// (seconds without one).
fn parse_age(text: &str) -> Result<Duration, String> {
    let (value, unit) = number_and_unit(text)
        .ok_or_else(|| format!("`{text}` is not an age such as 90s, 30m, 1h, 2d or 0"))?;
    let scale = match unit {
        "" | "s" | "sec" | "secs" => 1.0,
        "m" | "min" | "mins" => 60.0,
        "h" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use s, m, h or d"
            ))
        }
    };
    Duration::try_from_secs_f64(value * scale).map_err(|e| format!("`{text}`: {e}"))
}

/// Parses a size: a number with an optional unit `K`, `M`, `G`, `T` or `P`
/// (powers of 1024, as `persist du` shows sizes; `KiB`, `MB` and the like
/// mean the same), bytes without one.
fn parse_size(text: &str) -> Result<u64, String> {
    let (value, unit) = number_and_unit(text)
        .ok_or_else(|| format!("`{text}` is not a size such as 500M, 10G, 1.5T or 1048576"))?;
    let unit = unit.to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let power = match unit {
        "" => 0,
        "K" => 1,
        "M" => 2,
        "G" => 3,
        "T" => 4,
        "P" => 5,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use K, M, G, T or P"
            ))
        }
    };
    let bytes = value * 1024f64.powi(power);
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(format!("`{text}` is too large"));
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("0"), Ok(Duration::ZERO));
        assert_eq!(parse_age("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_age("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_age("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_age("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_age("1w").is_err());
        assert!(parse_age("soon").is_err());
        assert!(parse_age("").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("500M"), Ok(500 << 20));
        assert_eq!(parse_size("10G"), Ok(10 << 30));
        assert_eq!(parse_size("10GiB"), Ok(10 << 30));
        assert_eq!(parse_size("10gb"), Ok(10 << 30));
        assert_eq!(parse_size("1.5T"), Ok(3 << 39));
        assert_eq!(parse_size("2k"), Ok(2048));
        assert!(parse_size("10X").is_err());
        assert!(parse_size("big").is_err());
        assert!(parse_size("").is_err());
        assert!(parse_size("1e30T").is_err());
    }

    #[test]
    fn cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
