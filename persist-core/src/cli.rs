//! Command-line flags for programs built on persist (feature `clap`).
//!
//! [`StoreArgs`] is a [`clap::Args`]: flatten it into your own parser and every
//! program gets the same `--store`, `--recompute`, `--read-only`, `--no-verify`
//! and `--no-fsync` flags, and [`StoreArgs::open`] the [`Store`] they describe.

use std::path::Path;

use crate::error::{Error, Result};
use crate::store::{Policy, Store};

/// Where a program keeps its results and how this run treats them.
///
/// | flag | does |
/// |---|---|
/// | `--store <DIR\|URL>` | the store: a folder, or (with the `object-store` feature) a URL such as `s3://bucket/prefix`; env `PERSIST_STORE`, default `./.persist` |
/// | `--recompute [TYPE,...]` | compute again and replace: every type, or only those named ([`Policy::Recompute`], [`Policy::RecomputeTypes`]) |
/// | `--read-only` | load only: a missing result is an error, nothing is written ([`Policy::ReadOnly`]) |
/// | `--no-verify` | skip the blake3 check of record files on read ([`Store::verify`]) |
/// | `--no-fsync` | skip fsync on save ([`Store::durable`]) |
///
/// `--recompute` takes an optional value: write `--recompute=spectrum` (or put
/// the flag last) when a positional argument follows it.
///
/// ```
/// use clap::Parser;
/// use persist_core::cli::StoreArgs;
/// use persist_core::Policy;
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     store: StoreArgs,
///     /// Your program's own flags.
///     #[arg(long, default_value_t = 4)]
///     samples: u32,
/// }
///
/// let dir = tempfile::tempdir()?;
/// let at = dir.path().join("results");
/// let cli = Cli::parse_from(["prog", "--store", at.to_str().unwrap(), "--recompute", "spectrum", "--no-fsync"]);
/// assert_eq!(cli.store.policy(), Policy::RecomputeTypes(vec!["spectrum".into()]));
/// let store = cli.store.open()?;
/// assert!(!store.is_durable() && store.is_verifying());
///
/// let all = Cli::parse_from(["prog", "--recompute"]);
/// assert_eq!(all.store.policy(), Policy::Recompute);
/// assert!(Cli::try_parse_from(["prog", "--recompute", "--read-only"]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
// Without this, a parser that flattens these flags and has no doc comment of
// its own would show the rustdoc above as its `--help` description.
#[command(about = None, long_about = None)]
pub struct StoreArgs {
    /// Where results are kept: a folder, or a URL such as s3://bucket/prefix
    #[arg(
        long,
        env = "PERSIST_STORE",
        default_value = "./.persist",
        value_name = "DIR|URL"
    )]
    pub store: String,

    /// Compute results again and replace them: all, or only the types named
    #[arg(long, value_name = "TYPE,...", num_args = 0..=1, value_delimiter = ',')]
    pub recompute: Option<Vec<String>>,

    /// Only load results: a missing one is an error, and nothing is written
    #[arg(long, conflicts_with = "recompute")]
    pub read_only: bool,

    /// Do not check record files against their blake3 when reading them
    #[arg(long)]
    pub no_verify: bool,

    /// Do not fsync on save (a power loss may then lose or damage a result)
    #[arg(long)]
    pub no_fsync: bool,
}

impl StoreArgs {
    /// The run policy the flags ask for.
    ///
    /// ```
    /// use clap::Parser;
    /// use persist_core::{cli::StoreArgs, Policy};
    /// #[derive(Parser)]
    /// struct Cli { #[command(flatten)] store: StoreArgs }
    /// assert_eq!(Cli::parse_from(["prog"]).store.policy(), Policy::Normal);
    /// assert_eq!(Cli::parse_from(["prog", "--read-only"]).store.policy(), Policy::ReadOnly);
    /// assert_eq!(
    ///     Cli::parse_from(["prog", "--recompute=a,b"]).store.policy(),
    ///     Policy::RecomputeTypes(vec!["a".into(), "b".into()])
    /// );
    /// ```
    pub fn policy(&self) -> Policy {
        match &self.recompute {
            _ if self.read_only => Policy::ReadOnly,
            Some(types) if types.is_empty() => Policy::Recompute,
            Some(types) => Policy::RecomputeTypes(types.clone()),
            None => Policy::Normal,
        }
    }

    /// Opens the store the flags describe, with their policy and options.
    ///
    /// A folder is created if missing, except with `--read-only`, where a
    /// missing folder is [`Error::NotFound`]. A URL (`s3://…`, `gs://…`, …)
    /// needs the `object-store` feature (`Store::open_url`; without it,
    /// [`Error::Unsupported`]).
    ///
    /// ```
    /// use clap::Parser;
    /// use persist_core::{cli::StoreArgs, Error};
    /// #[derive(Parser)]
    /// struct Cli { #[command(flatten)] store: StoreArgs }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let missing = dir.path().join("nothing-here");
    /// let cli = Cli::parse_from(["prog", "--read-only", "--store", missing.to_str().unwrap()]);
    /// assert!(matches!(cli.store.open(), Err(Error::NotFound { .. })));
    /// assert!(!missing.exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(&self) -> Result<Store> {
        let store = match self.store.split_once("://") {
            Some((scheme, rest)) => open_url(&self.store, scheme, rest, self.read_only)?,
            None => open_dir(Path::new(&self.store), self.read_only)?,
        };
        Ok(store
            .durable(!self.no_fsync)
            .verify(!self.no_verify)
            .policy(self.policy()))
    }
}

fn open_dir(dir: &Path, read_only: bool) -> Result<Store> {
    if read_only && !dir.is_dir() {
        return Err(Error::NotFound {
            record: String::new(),
            path: format!(
                "{} (no store there; --read-only creates nothing)",
                dir.display()
            ),
        });
    }
    Store::open(dir)
}

#[cfg(feature = "object-store")]
fn open_url(url: &str, scheme: &str, rest: &str, read_only: bool) -> Result<Store> {
    if scheme == "file" {
        return open_dir(Path::new(rest), read_only);
    }
    Store::open_url(url)
}

#[cfg(not(feature = "object-store"))]
fn open_url(url: &str, scheme: &str, rest: &str, read_only: bool) -> Result<Store> {
    if scheme == "file" {
        return open_dir(Path::new(rest), read_only);
    }
    Err(Error::Unsupported {
        record: String::new(),
        reason: format!(
            "the store `{url}` is a URL: build with persist-core's `object-store` feature"
        ),
    })
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::StoreArgs;

    // A parser with neither a doc comment nor an `about`.
    #[derive(Parser)]
    struct Bare {
        #[command(flatten)]
        store: StoreArgs,
    }

    #[test]
    fn a_parser_without_docs_shows_no_description_of_store_args() {
        let help = Bare::command().render_long_help().to_string();
        assert!(help.contains("--read-only"), "{help}");
        assert!(!help.contains("| flag |"), "{help}");
        assert!(
            !help.contains("Where a program keeps its results"),
            "{help}"
        );
    }
}
