//! [`Policy`]: how a program's run treats what is already stored.

/// How `load_or_compute` and the writes of a [`Store`](crate::Store) treat what
/// is stored, for one run of a program (neuralib's `PersistenceOptions`). Set
/// with [`Store::policy`](crate::Store::policy); the command-line flags of
/// `persist_core::cli::StoreArgs` (feature `clap`) choose one.
///
/// ```
/// use persist_core::{Persistence, Policy, Store};
///
/// #[derive(Persistence)]
/// struct Spectrum { #[key] sample: String, peak: f64 }
///
/// let store = Store::memory();
/// let mut runs = 0;
/// let mut get = |store: &Store| {
///     Spectrum::new("S1").load_or_compute(store, |s| { runs += 1; s.peak = 2.0; Ok(()) })
/// };
/// get(&store)?;                                             // computed
/// get(&store)?;                                             // loaded
/// get(&store.clone().policy(Policy::Recompute))?;           // computed again, replaced
/// get(&store.clone().policy(Policy::RecomputeTypes(vec!["other".into()])))?; // loaded
/// assert_eq!(runs, 2);
///
/// let read_only = store.clone().policy(Policy::ReadOnly);
/// assert!(Spectrum::new("S2").load_or_compute(&read_only, |_| Ok(())).is_err()); // NotFound
/// # Ok::<(), persist_core::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Policy {
    /// Load what is stored, compute and save what is not (the default).
    #[default]
    Normal,
    /// Every `load_or_compute` (and `load_fresh_or_compute`) computes and
    /// replaces the stored record. The old record stays loadable until the new
    /// one is saved; if the computation fails, it stays.
    Recompute,
    /// [`Recompute`](Policy::Recompute) for the types named (their
    /// `#[persist(name)]`, by default the struct name in snake_case); the others
    /// as [`Normal`](Policy::Normal).
    RecomputeTypes(Vec<String>),
    /// Nothing is ever written: `load_or_compute` of a record that is not stored
    /// is [`Error::NotFound`](crate::Error::NotFound) (its computation is not
    /// run), and `save`, `remove`, `save_file`, `gc` and every other write are
    /// [`Error::ReadOnly`](crate::Error::ReadOnly).
    ReadOnly,
}

impl Policy {
    /// Whether `load_or_compute` of the type named `type_name` computes even
    /// when a record is stored.
    ///
    /// ```
    /// use persist_core::Policy;
    /// let p = Policy::RecomputeTypes(vec!["spectrum".into()]);
    /// assert!(p.recomputes("spectrum") && !p.recomputes("signal"));
    /// assert!(Policy::Recompute.recomputes("signal"));
    /// assert!(!Policy::ReadOnly.recomputes("signal"));
    /// ```
    pub fn recomputes(&self, type_name: &str) -> bool {
        match self {
            Policy::Recompute => true,
            Policy::RecomputeTypes(types) => types.iter().any(|t| t == type_name),
            Policy::Normal | Policy::ReadOnly => false,
        }
    }

    /// Whether nothing may be written.
    ///
    /// ```
    /// use persist_core::Policy;
    /// assert!(Policy::ReadOnly.is_read_only() && !Policy::Normal.is_read_only());
    /// ```
    pub fn is_read_only(&self) -> bool {
        matches!(self, Policy::ReadOnly)
    }
}
