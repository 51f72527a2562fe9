//! Steps 2 and 3 of a side-by-side upgrade, filling the new database: the schema, the rows (copied
//! before or after the original's writers are held off), the pre-deployment script, the
//! indexes, then triggers, foreign keys, the post-deployment script and the registry.

use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use super::copy::{IndexBuild, copy_and_build, finish_copiers, open_copiers};
use super::journal::{CatchUpStep, Phase, SideBySideJournal, save, save_in};
use super::prepare::{Planned, Scripts};
use super::transfer_plan::PlannedTransfer;
use super::{Progress, SideBySideOptions, millis, run_script};
use crate::driver::{CaughtUp, Copier, Server, WriteMark, WriterHold, WrittenSince};
use crate::fault;
use crate::model::ObjectName;
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus};
use crate::report::transfer::{CatchUpPass, EarlyCopy};
use crate::{Error, Result};

/// A catch-up pass that carried at most this many rows (inserted, updated or deleted) while
/// writers wrote is small enough to be made once more with writers held: the last delta. The
/// read-only window is then that delta plus reading the written tables once (PostgreSQL: their
/// changed rows by row version and a count; SQLite: the keys its change-log triggers recorded
/// and a count, or, where a table has no capture, a merge that reads both copies whole), the
/// check and the switch, whatever the size of the data.
pub const LAST_DELTA_ROWS: u64 = 1_000;

/// Catch-up passes made while writers write before giving up: writes that keep every pass above
/// [`LAST_DELTA_ROWS`] this many times end the run with writers never held, the original
/// untouched and the new database dropped.
pub const MAX_PASSES: u32 = 12;

/// What filling the new database leaves for the switch and the report.
pub(super) struct Filled {
    /// The original's writers, held off until the switch seals it.
    pub(super) hold: Box<dyn WriterHold>,
    /// When writers were held: the read-only window runs from here to the switch.
    pub(super) window: Instant,
    /// How long the (last) copy took.
    pub(super) copy_ms: u64,
    /// Tables copied at a time.
    pub(super) parallelism: usize,
    /// What became of a copy made while writers still wrote.
    pub(super) early_copy: EarlyCopy,
    /// Why such a copy was not kept whole.
    pub(super) early_copy_note: Option<String>,
    /// The catch-up passes over the early copy, the last delta last.
    pub(super) passes: Vec<CatchUpPass>,
    /// Written tables without a key, copied again with writers held.
    pub(super) copied_again: Vec<String>,
    /// What the read-only window holds.
    pub(super) window_reason: String,
    /// How writes during the early copy were found, and why that way.
    pub(super) catch_up_method: Option<String>,
    /// Tables merged whole with their copies, as their change stream missed a write.
    pub(super) merged_whole: Vec<String>,
}

impl Filled {
    /// Lets the original's writers back in, before the undo of a failed run.
    fn release_writers(self) {
        // A failed release means the session is gone, and its locks with it.
        let _ = self.hold.release();
    }
}

/// The rest of step 2 (the schema) and step 3: fills the new database and finishes it.
/// Returns with the original's writers held; a failure after they were held lets them back in
/// first, for the undo that follows.
pub(super) fn fill_new_database(
    server: &mut dyn Server,
    planned: &mut Planned,
    journal: &mut SideBySideJournal,
    options: &SideBySideOptions,
    progress: &dyn Progress,
) -> Result<Filled> {
    deploy_schema(server, &journal.temporary, &planned.scripts, progress)?;
    journal.phase = Phase::Copying;
    save(server, journal)?;
    fault::point("sbs.copying");
    let mut catch_up_method = None;
    let mark = if options.copy_early {
        let capture = server.change_capture(&planned.database)?;
        if let Some(stream) = &capture.stream {
            // Journalled before it exists: a crash from here on finds it in the journal.
            journal.change_stream = Some(stream.clone());
            save(server, journal)?;
        }
        catch_up_method = Some(capture.method).filter(|m| !m.is_empty());
        let mark = server.mark_writes(&planned.database, journal.change_stream.as_deref())?;
        fault::point("sbs.stream");
        if let Some(method) = mark.as_ref().and_then(|m| m.method()) {
            catch_up_method = Some(method);
        }
        mark
    } else {
        None
    };
    let to = journal.temporary.clone();
    let fill = Fill {
        from: &planned.database,
        to: &to,
        parallelism: options.parallelism,
        last_delta_rows: options.last_delta_rows,
        max_passes: options.max_passes,
        sizes: &planned.sizes,
        scripts: &planned.scripts,
        progress,
    };
    let mut filled = match mark {
        Some(mark) => {
            fill.copy_before_holding_writers(server, mark, journal, &mut planned.transfers)?
        }
        None => {
            let mut filled = fill.copy_with_writers_held(server, &mut planned.transfers)?;
            // An early copy was asked for but the platform cannot catch one up here: say why.
            if let Some(why) = catch_up_method.as_ref().filter(|_| options.copy_early) {
                filled.window_reason = format!(
                    "rows copied with writers held, as an early copy could not be caught up ({why}): the whole copy, the check and the switch"
                );
            }
            filled
        }
    };
    if !filled.merged_whole.is_empty() {
        let merged = format!(
            "merged whole with their copies instead, as their change log missed a write or could not be applied: {}",
            filled.merged_whole.join(", ")
        );
        catch_up_method = Some(match catch_up_method {
            Some(method) => format!("{method}; {merged}"),
            None => merged,
        });
    }
    filled.catch_up_method = catch_up_method;
    match finish_new_database(server, planned, journal, progress) {
        Ok(()) => Ok(filled),
        Err(err) => {
            filled.release_writers();
            Err(err)
        }
    }
}

/// Generators, triggers, foreign keys, the post-deployment script, the registration and the
/// original's history, in the new database, in one transaction.
fn finish_new_database(
    server: &mut dyn Server,
    planned: &Planned,
    journal: &SideBySideJournal,
    progress: &dyn Progress,
) -> Result<()> {
    progress.step("generators, triggers, foreign keys and registry");
    server.continue_generators(&planned.database, &journal.temporary)?;
    fault::point("sbs.generators");
    let mut new = server.open(&journal.temporary)?;
    let mut entry = HistoryEntry::now(
        HistoryAction::SideBySide,
        HistoryStatus::Success,
        &planned.application,
    );
    entry.version_before = planned.version_before.clone();
    entry.version_after = Some(planned.registration.version.clone());
    entry.took_since_utc(&journal.started_at);
    let transfers = &planned.transfers;
    let copied: u64 = transfers.iter().map(|t| t.report.rows).sum();
    entry.message = format!(
        "side by side: {} tables, {copied} rows copied; original retained as {}",
        transfers.iter().filter(|t| t.report.copied).count(),
        journal.retained
    );
    run_script(new.as_mut(), &planned.scripts.after, &mut |driver| {
        driver.write_registration(&planned.registration)?;
        for old in &planned.history {
            driver.append_history(old)?;
        }
        driver.append_history(&entry)
    })?;
    drop(new);
    fault::point("sbs.finalized");
    Ok(())
}

/// Deploys the desired schema, without the indexes and keys built after the copy, into the
/// new database.
fn deploy_schema(
    server: &mut dyn Server,
    temporary: &str,
    scripts: &Scripts,
    progress: &dyn Progress,
) -> Result<()> {
    progress.step(&format!("deploying the schema into {temporary}"));
    let mut new = server.open(temporary)?;
    run_script(new.as_mut(), &scripts.before_copy, &mut |_| Ok(()))?;
    drop(new);
    fault::point("sbs.schema");
    Ok(())
}

/// Marks the original read-only and holds its writers off.
fn hold_writers(
    server: &mut dyn Server,
    database: &str,
    progress: &dyn Progress,
) -> Result<Box<dyn WriterHold>> {
    progress.step(&format!("holding writers off {database}"));
    server.set_read_only(database, true)?;
    fault::point("sbs.read-only");
    server.hold_writers(database)
}

/// The transfers copied with a key, which catch-up passes bring up to date.
fn keyed_transfers(transfers: &[PlannedTransfer]) -> Vec<usize> {
    (0..transfers.len())
        .filter(|&i| {
            transfers[i]
                .copy
                .as_ref()
                .is_some_and(|c| !c.key.is_empty())
        })
        .collect()
}

/// The catch-up of an early copy: where each table's next pass starts, and the passes made.
struct CatchUp {
    /// Per transfer, the mark its next catch-up starts from.
    since: Vec<String>,
    passes: Vec<CatchUpPass>,
    /// Tables merged whole (see [`CaughtUp::merged_whole`]), each once.
    merged_whole: Vec<String>,
}

/// Filling the new database: the rows, the pre-deployment script, the indexes and keys.
struct Fill<'a> {
    from: &'a str,
    to: &'a str,
    parallelism: usize,
    /// See [`LAST_DELTA_ROWS`].
    last_delta_rows: u64,
    /// See [`MAX_PASSES`].
    max_passes: u32,
    sizes: &'a [u64],
    scripts: &'a Scripts,
    progress: &'a dyn Progress,
}

impl Fill<'_> {
    /// Copies while writers still write and catches the copy up in passes, then holds them
    /// off and applies the last delta (nothing where nothing was written since the copy
    /// began); the read-only window is then that delta, the check and the switch.
    fn copy_before_holding_writers(
        &self,
        server: &mut dyn Server,
        mut mark: Box<dyn WriteMark>,
        journal: &mut SideBySideJournal,
        transfers: &mut [PlannedTransfer],
    ) -> Result<Filled> {
        self.progress
            .step(&format!("copying {} before holding writers off", self.from));
        let copiers = self.connect_copiers(server, transfers)?;
        let parallelism = copiers.len();
        let copy_ms = self.copy_and_index(server, copiers, transfers)?;
        let mut catch_up = CatchUp {
            since: vec![mark.since(); transfers.len()],
            passes: Vec::new(),
            merged_whole: Vec::new(),
        };
        // A pre-deployment script ran over the copied rows: rows carried after it would
        // skip it, so such a copy is made again whole if anything was written.
        if !self.has_predeploy() {
            self.catch_up_while_writing(server, mark.as_mut(), journal, transfers, &mut catch_up)?;
        }
        // Connected before writers are held: connecting is no part of the read-only window.
        let last_delta_copiers = if self.has_predeploy() {
            Vec::new()
        } else {
            let keyed = keyed_transfers(transfers).len();
            open_copiers(server, self.from, self.to, self.parallelism, keyed.max(1))?
        };
        let hold = match hold_writers(server, self.from, self.progress) {
            Ok(hold) => hold,
            Err(err) => {
                let _ = finish_copiers(last_delta_copiers);
                return Err(err);
            }
        };
        let mut filled = Filled {
            hold,
            window: Instant::now(),
            copy_ms,
            parallelism,
            early_copy: EarlyCopy::Off,
            early_copy_note: None,
            passes: Vec::new(),
            copied_again: Vec::new(),
            window_reason: String::new(),
            catch_up_method: None,
            merged_whole: Vec::new(),
        };
        fault::point("sbs.held");
        let result = self.copy_again_what_was_written(
            server,
            mark.as_mut(),
            journal,
            transfers,
            (&mut catch_up, last_delta_copiers),
            &mut filled,
        );
        // The mark's snapshot kept rows written since it from being frozen until now.
        drop(mark);
        let result = result.and_then(|()| match &journal.change_stream {
            // Closed here, not only by the mark going: a failure to close fails the run.
            Some(stream) => server.drop_change_stream(stream),
            None => Ok(()),
        });
        filled.passes = catch_up.passes;
        filled.merged_whole = catch_up.merged_whole;
        match result {
            Ok(()) => Ok(filled),
            Err(err) => {
                filled.release_writers();
                Err(err)
            }
        }
    }

    /// Catch-up passes while writers write, until one carries at most `last_delta_rows`
    /// ([`LAST_DELTA_ROWS`]) rows or nothing was written since the last; refused after
    /// `max_passes` ([`MAX_PASSES`]) passes that carried more (the caller undoes the run:
    /// writers were never held).
    fn catch_up_while_writing(
        &self,
        server: &mut dyn Server,
        mark: &mut dyn WriteMark,
        journal: &mut SideBySideJournal,
        transfers: &[PlannedTransfer],
        catch_up: &mut CatchUp,
    ) -> Result<()> {
        let keyed = keyed_transfers(transfers);
        if keyed.is_empty() {
            return Ok(());
        }
        let (bound, passes) = (self.last_delta_rows, self.max_passes);
        let mut last = 0;
        for _ in 0..passes {
            if !mark.may_have_changed()? {
                return Ok(());
            }
            let copiers = open_copiers(server, self.from, self.to, self.parallelism, keyed.len())?;
            let pass = self.pass(
                server,
                (mark, copiers),
                journal,
                transfers,
                &keyed,
                catch_up,
                false,
            )?;
            last = pass.rows();
            if last <= bound {
                return Ok(());
            }
        }
        Err(Error::Blocked {
            reason: format!(
                "writes to {} outpace the catch-up of its early copy: {passes} passes made while writers wrote, the last carried {last} rows, and writers are held for the last delta only once a pass carries at most {bound}. Writers were never held, the original is untouched and the new database is dropped; run again when fewer writes arrive, or with --no-early-copy to copy with writers held",
                self.from
            ),
        })
    }

    /// One catch-up pass over the transfers `which` (each has a key), over `copiers` (finished
    /// here), recorded in the journal first; every table's mark moves on (from `mark`'s change
    /// stream where it reads one).
    #[allow(clippy::too_many_arguments)]
    fn pass(
        &self,
        server: &mut dyn Server,
        (mark, mut copiers): (&mut dyn WriteMark, Vec<Box<dyn Copier>>),
        journal: &mut SideBySideJournal,
        transfers: &[PlannedTransfer],
        which: &[usize],
        catch_up: &mut CatchUp,
        held: bool,
    ) -> Result<CatchUpPass> {
        let number = u32::try_from(catch_up.passes.len() + 1).unwrap_or(u32::MAX);
        self.progress.step(&if held {
            format!("last delta {number}, writers held")
        } else {
            format!("catch-up pass {number} while writers write")
        });
        journal.catch_up = Some(CatchUpStep { pass: number, held });
        if let Err(err) = save(server, journal) {
            let _ = finish_copiers(copiers);
            return Err(err);
        }
        let point = if held { "sbs.last-delta" } else { "sbs.pass" };
        fault::point(point);
        let started = Instant::now();
        let tables: Vec<&crate::driver::TableCopy> = which
            .iter()
            .filter_map(|&i| transfers[i].copy.as_ref())
            .collect();
        match mark.read_changes(&tables) {
            Ok(Some(marks)) => {
                for (&i, since) in which.iter().zip(marks) {
                    catch_up.since[i] = since;
                }
            }
            Ok(None) => {}
            Err(err) => {
                let _ = finish_copiers(copiers);
                return Err(err);
            }
        }
        let queue = Mutex::new(which.to_vec());
        let done: Mutex<Vec<(usize, Result<CaughtUp>)>> = Mutex::new(Vec::new());
        let since = &catch_up.since;
        std::thread::scope(|scope| {
            for copier in &mut copiers {
                let (queue, done) = (&queue, &done);
                scope.spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).pop();
                        let Some(i) = next else { break };
                        let Some(copy) = &transfers[i].copy else {
                            continue;
                        };
                        let result =
                            copier
                                .catch_up(copy, &since[i])
                                .map_err(|err| Error::CopyFailed {
                                    table: transfers[i].report.name.clone(),
                                    cause: Box::new(err),
                                });
                        let failed = result.is_err();
                        done.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push((i, result));
                        if failed {
                            break;
                        }
                        fault::point(point);
                    }
                });
            }
        });
        finish_copiers(copiers)?;
        let mut pass = CatchUpPass {
            pass: number,
            held,
            tables: 0,
            upserted: 0,
            deleted: 0,
            ms: 0,
        };
        for (i, result) in done.into_inner().unwrap_or_else(PoisonError::into_inner) {
            let caught = result?;
            pass.tables += 1;
            pass.upserted += caught.upserted;
            pass.deleted += caught.deleted;
            catch_up.since[i] = caught.next;
            let name = &transfers[i].report.name;
            if caught.merged_whole && !catch_up.merged_whole.contains(name) {
                catch_up.merged_whole.push(name.clone());
            }
        }
        // Every table or none: a table left out would be a write missed.
        if pass.tables != which.len() {
            return Err(Error::Invalid(format!(
                "catch-up pass {number} brought {} of {} tables up to date",
                pass.tables,
                which.len()
            )));
        }
        pass.ms = millis(started.elapsed());
        catch_up.passes.push(pass.clone());
        Ok(pass)
    }

    /// With writers held, asks `mark` what was written since the copy began and brings the
    /// copy up to date: the last delta of the catch-up over the written tables with a key,
    /// those without one copied again; where a pre-deployment script ran over the copy,
    /// everything again into a fresh database. A schema change fails the run.
    fn copy_again_what_was_written(
        &self,
        server: &mut dyn Server,
        mark: &mut dyn WriteMark,
        journal: &mut SideBySideJournal,
        transfers: &mut [PlannedTransfer],
        (catch_up, copiers): (&mut CatchUp, Vec<Box<dyn Copier>>),
        filled: &mut Filled,
    ) -> Result<()> {
        let database = self.from;
        let copied: Vec<(ObjectName, u64)> = transfers
            .iter()
            .filter_map(|t| t.copy.as_ref().map(|c| (c.source.clone(), t.report.rows)))
            .collect();
        self.progress.step(&format!(
            "looking for writes to {database} since the copy began"
        ));
        let written = match mark.written(&copied)? {
            // The plan was made for the schema read before the copy.
            WrittenSince::Schema(what) => {
                return Err(Error::SchemaChangedDuringCopy {
                    database: database.to_string(),
                    change: what,
                });
            }
            WrittenSince::Rows { why, tables } => {
                self.progress.step(&format!(
                    "{why}: bringing the copy up to date with writers held"
                ));
                Some((why, tables))
            }
            WrittenSince::Nothing => None,
        };
        fault::point("sbs.checked");
        let mut copiers = Some(copiers);
        filled.early_copy_note = written.as_ref().map(|(why, _)| why.clone());
        filled.early_copy = match written {
            None => {
                filled.window_reason =
                    "nothing was written to the copied tables since the copy began: only the check and the switch".into();
                EarlyCopy::Kept
            }
            // A pre-deployment script ran over every copied table: it cannot be run
            // again over some.
            Some(_) if self.has_predeploy() => {
                filled.copy_ms = self.refill_fresh_database(server, journal, transfers)?;
                filled.window_reason = "the pre-deployment script runs over the copied rows, so the copy was made again whole with writers held: the whole copy, the check and the switch".into();
                EarlyCopy::Discarded
            }
            Some((_, tables)) => {
                let written = |i: &usize| {
                    transfers[*i]
                        .copy
                        .as_ref()
                        .is_some_and(|c| tables.as_ref().is_none_or(|t| t.contains(&c.source)))
                };
                let (keyed, keyless): (Vec<usize>, Vec<usize>) =
                    (0..transfers.len()).filter(written).partition(|&i| {
                        transfers[i]
                            .copy
                            .as_ref()
                            .is_some_and(|c| !c.key.is_empty())
                    });
                let last = if keyed.is_empty() {
                    None
                } else {
                    let copiers = copiers.take().unwrap_or_default();
                    Some(self.pass(
                        server,
                        (mark, copiers),
                        journal,
                        transfers,
                        &keyed,
                        catch_up,
                        true,
                    )?)
                };
                fault::point("sbs.caught-up");
                let again: Vec<ObjectName> = keyless
                    .iter()
                    .filter_map(|&i| transfers[i].copy.as_ref().map(|c| c.source.clone()))
                    .collect();
                if !again.is_empty() {
                    self.recopy_written_tables(server, transfers, &again)?;
                    filled.copied_again = keyless
                        .iter()
                        .map(|&i| transfers[i].report.name.clone())
                        .collect();
                }
                let passes = catch_up.passes.iter().filter(|p| !p.held).count();
                let mut why = match &last {
                    Some(last) => format!(
                        "the last delta ({} rows over {} tables, {} ms), the check and the switch; {passes} pass(es) while writers wrote brought the copy to within {} rows",
                        last.rows(),
                        last.tables,
                        last.ms,
                        self.last_delta_rows
                    ),
                    None => "the check and the switch".into(),
                };
                if !filled.copied_again.is_empty() {
                    why.push_str(&format!(
                        "; and copying again, whole, the written tables without a primary key: {}",
                        filled.copied_again.join(", ")
                    ));
                }
                filled.window_reason = why;
                EarlyCopy::CaughtUp
            }
        };
        if let Some(unused) = copiers {
            finish_copiers(unused)?;
        }
        Ok(())
    }

    /// Holds writers off, then copies.
    fn copy_with_writers_held(
        &self,
        server: &mut dyn Server,
        transfers: &mut [PlannedTransfer],
    ) -> Result<Filled> {
        // Connected before writers are held: connecting is no part of the read-only window.
        let copiers = self.connect_copiers(server, transfers)?;
        let parallelism = copiers.len();
        let hold = hold_writers(server, self.from, self.progress)?;
        let mut filled = Filled {
            hold,
            window: Instant::now(),
            copy_ms: 0,
            parallelism,
            early_copy: EarlyCopy::Off,
            early_copy_note: None,
            passes: Vec::new(),
            copied_again: Vec::new(),
            window_reason:
                "rows copied with writers held: the whole copy, the check and the switch".into(),
            catch_up_method: None,
            merged_whole: Vec::new(),
        };
        fault::point("sbs.held");
        match self.copy_and_index(server, copiers, transfers) {
            Ok(copy_ms) => {
                filled.copy_ms = copy_ms;
                Ok(filled)
            }
            Err(err) => {
                filled.release_writers();
                Err(err)
            }
        }
    }

    /// The copiers, connected.
    fn connect_copiers(
        &self,
        server: &mut dyn Server,
        transfers: &[PlannedTransfer],
    ) -> Result<Vec<Box<dyn Copier>>> {
        let jobs = transfers
            .iter()
            .filter(|t| t.copy.is_some())
            .count()
            .max(self.scripts.indexes.len());
        open_copiers(server, self.from, self.to, self.parallelism, jobs)
    }

    /// Copies the rows and builds what waits for them; returns the copy's milliseconds.
    fn copy_and_index(
        &self,
        server: &mut dyn Server,
        mut copiers: Vec<Box<dyn Copier>>,
        transfers: &mut [PlannedTransfer],
    ) -> Result<u64> {
        let started = Instant::now();
        // The pre-deployment script runs on the copied rows before any index exists; without
        // one, a table's indexes are built as soon as its rows are in.
        let predeploy = self.has_predeploy();
        let indexes = &self.scripts.indexes;
        let during_copy: &[IndexBuild] = if predeploy { &[] } else { indexes };
        let copied = copy_and_build(
            &mut copiers,
            transfers,
            self.sizes,
            during_copy,
            self.progress,
        )?;
        let copy_ms = millis(copied.duration_since(started));
        fault::point("sbs.copied");
        self.progress
            .step("indexes and keys that wait for the rows");
        if predeploy {
            let mut new = server.open(self.to)?;
            run_script(new.as_mut(), &self.scripts.predeploy, &mut |_| Ok(()))?;
            drop(new);
            copy_and_build(&mut copiers, &mut [], &[], indexes, self.progress)?;
        }
        fault::point("sbs.indexed");
        finish_copiers(copiers)?;
        Ok(copy_ms)
    }

    /// Whether the package has a pre-deployment script (run over the copied rows).
    fn has_predeploy(&self) -> bool {
        !self.scripts.predeploy.batches.is_empty()
    }

    /// Drops the new database and fills a new one under its name: schema, rows, indexes.
    /// Returns the copy's milliseconds.
    fn refill_fresh_database(
        &self,
        server: &mut dyn Server,
        journal: &SideBySideJournal,
        transfers: &mut [PlannedTransfer],
    ) -> Result<u64> {
        // The journal leaves the new database before it is dropped.
        save_in(server, journal, self.from)?;
        server.drop_database(self.to)?;
        fault::point("sbs.discarded");
        server.create_database(self.to)?;
        save(server, journal)?;
        deploy_schema(server, self.to, self.scripts, self.progress)?;
        let copiers = self.connect_copiers(server, transfers)?;
        self.copy_and_index(server, copiers, transfers)
    }

    /// Copies again, into the emptied tables (their indexes kept), the tables whose sources
    /// are `sources`.
    fn recopy_written_tables(
        &self,
        server: &mut dyn Server,
        transfers: &mut [PlannedTransfer],
        sources: &[ObjectName],
    ) -> Result<()> {
        let written: Vec<usize> = (0..transfers.len())
            .filter(|&i| {
                transfers[i]
                    .copy
                    .as_ref()
                    .is_some_and(|c| sources.contains(&c.source))
            })
            .collect();
        let mut subset: Vec<PlannedTransfer> =
            written.iter().map(|&i| transfers[i].clone()).collect();
        let sizes: Vec<u64> = written
            .iter()
            .map(|&i| self.sizes.get(i).copied().unwrap_or(0))
            .collect();
        let mut copiers = open_copiers(server, self.from, self.to, self.parallelism, subset.len())?;
        for transfer in &subset {
            if let (Some(copy), Some(copier)) = (&transfer.copy, copiers.first_mut()) {
                copier.clear(&copy.destination)?;
            }
        }
        fault::point("sbs.cleared");
        copy_and_build(&mut copiers, &mut subset, &sizes, &[], self.progress)?;
        fault::point("sbs.copied-again");
        finish_copiers(copiers)?;
        for (i, transfer) in written.into_iter().zip(subset) {
            transfers[i].report = transfer.report;
        }
        Ok(())
    }
}
