//! [`prune`](super::prune): choosing what goes (selection by age, count and size,
//! dependents, protections) and removing it in order.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, SystemTime};

use crate::error::Result;
use crate::maintenance::du::du;
use crate::maintenance::walk::walk;
use crate::meta::Meta;
use crate::store::Store;

use super::options::PruneOptions;
use super::remove::{remove_record, Removal};
use super::report::{Protection, PruneCandidate, PruneReason, PruneReport};

/// Removes whole records chosen by age, count and size (see
/// [`PruneOptions`]), never one younger than `min_age` and never one whose
/// location another record's `Ref` names unless that record goes too
/// (`with_dependents` makes it go).
///
/// A record goes as `remove` takes one: its `meta.json` first, so that at
/// every instant the record is whole or absent, then the record files that
/// `meta.json` named and its extra files. Its folder stays, as `gc` leaves
/// folders (an autoinc number's `.claim` stays in it, so the number is never
/// given again): a save that has just found the folder could not write into
/// it if it went. Dependents go before what they reference.
///
/// A save racing the prune stays whole. The `meta.json` is not deleted but
/// renamed aside ([`Backend::rename`](crate::backend::Backend::rename)) and
/// compared with the one the prune chose; if a save replaced it in the
/// meantime, it is put back (unless a newer one is already there) and the
/// record is reported in [`PruneReport::replaced`]. Only the files the chosen
/// version named are deleted, and a save never reuses a name. On object
/// storage the rename is a copy and a delete: a save landing between the two
/// is removed whole (RELIABILITY.md).
///
/// Files the record's `meta.json` does not name (leftovers of interrupted
/// saves) stay for [`gc`](crate::maintenance::gc), as do their folders.
///
/// ```
/// use persist_core::maintenance::{prune, PruneOptions};
/// use std::time::Duration;
///
/// let store = persist_core::Store::memory();
/// let opts = PruneOptions::default()
///     .older_than(Duration::from_secs(30 * 86_400))
///     .keep_last(10);
/// let preview = prune(&store, &opts.clone().dry_run(true))?;
/// for c in &preview.removed {
///     println!("would remove {} ({}, {} bytes)", c.location, c.reason, c.bytes);
/// }
/// let done = prune(&store, &opts)?;
/// println!("freed {} bytes", done.bytes());
/// # Ok::<(), persist_core::Error>(())
/// ```
pub fn prune(store: &Store, options: &PruneOptions) -> Result<PruneReport> {
    if !options.dry_run {
        store.check_writable("", "")?;
    }
    let now = SystemTime::now();
    let mut report = PruneReport {
        dry_run: options.dry_run,
        ..PruneReport::default()
    };
    let mut plan = Plan::list(store, options, now, &mut report)?;
    report.scope_bytes = scope_bytes(store, &plan)?;
    if options.selects() {
        plan.select_by_age_and_count();
        plan.settle();
        if let Some(limit) = options.max_size {
            plan.select_by_size(limit, report.scope_bytes);
        }
    }
    plan.carry_out(store, &mut report);
    report.removed.sort_by(|a, b| a.location.cmp(&b.location));
    report
        .protected
        .sort_by(|a, b| a.0.location.cmp(&b.0.location));
    report.replaced.sort_by(|a, b| a.location.cmp(&b.location));
    Ok(report)
}

/// Bytes of the types in scope, as `du` counts them.
fn scope_bytes(store: &Store, plan: &Plan<'_>) -> Result<u64> {
    let options = plan.options;
    Ok(du(store)?
        .iter()
        .filter(|u| {
            // A type folder is in scope by its name, or by the type name its
            // records give.
            options.in_scope(&u.type_dir, "")
                || plan
                    .records
                    .iter()
                    .any(|r| r.in_scope && r.type_dir == u.type_dir)
        })
        .map(|u| u.bytes)
        .sum())
}

/// One readable record of the listing.
struct Rec {
    type_dir: String,
    path: String,
    key_dir: String,
    number: Option<u64>,
    meta: Meta,
    bytes: u64,
    saved: Option<SystemTime>,
    in_scope: bool,
}

/// The records, what selected them and what protects them.
struct Plan<'a> {
    options: &'a PruneOptions,
    now: SystemTime,
    records: Vec<Rec>,
    /// For each record, the records whose `Ref` names it.
    downstream: Vec<Vec<usize>>,
    reason: Vec<Option<PruneReason>>,
    protection: Vec<Option<Protection>>,
}

impl<'a> Plan<'a> {
    fn list(
        store: &Store,
        options: &'a PruneOptions,
        now: SystemTime,
        report: &mut PruneReport,
    ) -> Result<Plan<'a>> {
        let mut records = Vec::new();
        for entry in walk(store)? {
            match entry.meta {
                Ok(meta) => records.push(Rec {
                    in_scope: options.in_scope(&entry.type_dir, &meta.type_name),
                    saved: meta.saved_time(),
                    type_dir: entry.type_dir,
                    path: entry.path,
                    key_dir: entry.key_dir,
                    number: entry.number,
                    meta,
                    bytes: entry.size,
                }),
                Err(e) => report.unreadable.push((entry.path, e)),
            }
        }
        let at: HashMap<&str, usize> = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        let mut downstream = vec![Vec::new(); records.len()];
        for (i, r) in records.iter().enumerate() {
            for up in r.meta.upstream.values() {
                if let Some(&u) = at.get(up.at.trim_matches('/')) {
                    if u != i && !downstream[u].contains(&i) {
                        downstream[u].push(i);
                    }
                }
            }
        }
        let n = records.len();
        Ok(Plan {
            options,
            now,
            records,
            downstream,
            reason: vec![None; n],
            protection: vec![None; n],
        })
    }

    fn age(&self, i: usize) -> Option<Duration> {
        self.records[i]
            .saved
            .and_then(|t| self.now.duration_since(t).ok())
    }

    fn young(&self, i: usize) -> bool {
        !self.options.min_age.is_zero() && self.age(i).is_none_or(|a| a < self.options.min_age)
    }

    fn removing(&self, i: usize) -> bool {
        self.reason[i].is_some() && self.protection[i].is_none()
    }

    fn select(&mut self, i: usize, reason: PruneReason) {
        if self.reason[i].is_none() {
            self.reason[i] = Some(reason);
        }
    }

    fn select_by_age_and_count(&mut self) {
        if let Some(limit) = self.options.older_than {
            for i in 0..self.records.len() {
                if self.records[i].in_scope && self.age(i).is_some_and(|a| a > limit) {
                    self.select(i, PruneReason::OlderThan);
                }
            }
        }
        if let Some(keep) = self.options.keep_last {
            let mut runs: BTreeMap<(&str, &str), Vec<(u64, usize)>> = BTreeMap::new();
            for (i, r) in self.records.iter().enumerate() {
                if let (true, Some(n)) = (r.in_scope, r.number) {
                    runs.entry((&r.type_dir, &r.key_dir))
                        .or_default()
                        .push((n, i));
                }
            }
            let mut chosen = Vec::new();
            for mut numbers in runs.into_values() {
                numbers.sort_unstable_by_key(|&(n, _)| std::cmp::Reverse(n));
                chosen.extend(numbers.into_iter().skip(keep).map(|(_, i)| i));
            }
            for i in chosen {
                self.select(i, PruneReason::KeepLast);
            }
        }
    }

    /// Adds dependents (with `with_dependents`), then protects what must stay,
    /// until nothing changes. Protection only ever shrinks the set removed,
    /// which adds no dependent, so one pass of each suffices. A record kept
    /// because a record referenced it is looked at again each time: the
    /// record that referenced it may have been selected since.
    fn settle(&mut self) {
        for p in &mut self.protection {
            if matches!(p, Some(Protection::ReferencedBy(_))) {
                *p = None;
            }
        }
        if self.options.with_dependents {
            let mut stack: Vec<usize> = (0..self.records.len())
                .filter(|&i| self.removing(i))
                .collect();
            while let Some(i) = stack.pop() {
                for k in 0..self.downstream[i].len() {
                    let d = self.downstream[i][k];
                    if self.reason[d].is_none() {
                        self.reason[d] = Some(PruneReason::DependsOn(self.records[i].path.clone()));
                        stack.push(d);
                    }
                }
            }
        }
        for i in 0..self.records.len() {
            if self.removing(i) && self.young(i) {
                self.protection[i] = Some(Protection::YoungerThanMinAge);
            }
        }
        loop {
            let mut changed = false;
            for i in 0..self.records.len() {
                if !self.removing(i) {
                    continue;
                }
                let staying = self.downstream[i].iter().find(|&&d| !self.removing(d));
                if let Some(&d) = staying {
                    self.protection[i] =
                        Some(Protection::ReferencedBy(self.records[d].path.clone()));
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }

    /// Selects records in scope, oldest first, until the scope's bytes less
    /// the bytes of what is removed are at most `limit`.
    fn select_by_size(&mut self, limit: u64, scope_bytes: u64) {
        let freed = |plan: &Plan<'_>| -> u64 {
            (0..plan.records.len())
                .filter(|&i| plan.removing(i) && plan.records[i].in_scope)
                .map(|i| plan.records[i].bytes)
                .sum()
        };
        let mut order: Vec<usize> = (0..self.records.len())
            .filter(|&i| self.records[i].in_scope && self.reason[i].is_none())
            .collect();
        order.sort_by(|&a, &b| {
            let (ra, rb) = (&self.records[a], &self.records[b]);
            // Unknown times last: they are never known to be old.
            (ra.saved.is_none(), ra.saved, &ra.path).cmp(&(rb.saved.is_none(), rb.saved, &rb.path))
        });
        let mut left = scope_bytes.saturating_sub(freed(self));
        for i in order {
            if left <= limit {
                break;
            }
            if self.reason[i].is_some() {
                continue; // taken as a dependent of an earlier one
            }
            self.reason[i] = Some(PruneReason::MaxSize);
            self.settle();
            left = scope_bytes.saturating_sub(freed(self));
        }
    }

    fn candidate(&self, i: usize) -> PruneCandidate {
        let r = &self.records[i];
        PruneCandidate {
            location: r.path.clone(),
            type_name: r.meta.type_name.clone(),
            name: r.meta.name.clone(),
            saved_at: r.meta.saved_at.clone(),
            age: self.age(i),
            bytes: r.bytes,
            reason: self.reason[i].clone().unwrap_or(PruneReason::OlderThan),
        }
    }

    /// Removes the records chosen, dependents before what they reference; a
    /// record whose dependent could not be removed stays, referenced by it.
    fn carry_out(&mut self, store: &Store, report: &mut PruneReport) {
        let chosen: Vec<usize> = (0..self.records.len())
            .filter(|&i| self.removing(i))
            .collect();
        for (i, p) in self.protection.iter().enumerate() {
            if let (Some(_), Some(p)) = (&self.reason[i], p) {
                report.protected.push((self.candidate(i), p.clone()));
            }
        }
        if self.options.dry_run {
            report.removed = chosen.iter().map(|&i| self.candidate(i)).collect();
            return;
        }
        // Dependents first: a record goes once every chosen record that
        // references it has gone.
        let mut waiting: Vec<usize> = vec![0; self.records.len()];
        for &i in &chosen {
            waiting[i] = self.downstream[i]
                .iter()
                .filter(|&&d| self.removing(d))
                .count();
        }
        let upstream: Vec<Vec<usize>> = {
            let mut up = vec![Vec::new(); self.records.len()];
            for (u, downs) in self.downstream.iter().enumerate() {
                for &d in downs {
                    up[d].push(u);
                }
            }
            up
        };
        let mut ready: Vec<usize> = chosen
            .iter()
            .copied()
            .filter(|&i| waiting[i] == 0)
            .collect();
        let mut done = vec![false; self.records.len()];
        while let Some(i) = ready.pop() {
            done[i] = true;
            let candidate = self.candidate(i);
            let gone = match remove_record(store, &self.records[i].path, &self.records[i].meta) {
                Ok(Removal::Removed) => {
                    report.removed.push(candidate);
                    true
                }
                Ok(Removal::Replaced) => {
                    report.replaced.push(candidate);
                    false
                }
                Err(e) => {
                    report.failed.push((candidate, e));
                    false
                }
            };
            for &u in &upstream[i] {
                if !self.removing(u) || done[u] {
                    continue;
                }
                if gone {
                    waiting[u] -= 1;
                    if waiting[u] == 0 {
                        ready.push(u);
                    }
                } else {
                    // Its dependent stays: so must it, and what it references.
                    self.keep_for(u, i, &upstream, &mut done, report);
                }
            }
        }
    }

    /// Keeps `u` (and, up the chain, what it references) because `by` stayed.
    fn keep_for(
        &mut self,
        u: usize,
        by: usize,
        upstream: &[Vec<usize>],
        done: &mut [bool],
        report: &mut PruneReport,
    ) {
        let mut stack = vec![(u, by)];
        while let Some((u, by)) = stack.pop() {
            if done[u] || !self.removing(u) {
                continue;
            }
            done[u] = true;
            let p = Protection::ReferencedBy(self.records[by].path.clone());
            self.protection[u] = Some(p.clone());
            report.protected.push((self.candidate(u), p));
            for &up in &upstream[u] {
                stack.push((up, u));
            }
        }
    }
}
