//! Steps 2 and 3 of a side-by-side upgrade, filling the new database: the schema, the rows (copied
//! before or after the original's writers are held off), the pre-deployment script, the
//! indexes, then triggers, foreign keys, the post-deployment script and the registry.

use std::time::Instant;

use super::copy::{IndexBuild, copy_and_build, finish_copiers, open_copiers};
use super::journal::{Phase, SideBySideJournal, save, save_in};
use super::prepare::{Planned, Scripts};
use super::transfer_plan::PlannedTransfer;
use super::{Progress, SideBySideOptions, millis, run_script};
use crate::driver::{Copier, Server, WriteMark, WriterHold, WrittenSince};
use crate::fault;
use crate::model::ObjectName;
use crate::registry::{HistoryAction, HistoryEntry, HistoryStatus};
use crate::report::transfer::EarlyCopy;
use crate::{Error, Result};

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
    let mark = if options.copy_early {
        server.mark_writes(&planned.database)?
    } else {
        None
    };
    let fill = Fill {
        from: &planned.database,
        to: &journal.temporary,
        parallelism: options.parallelism,
        sizes: &planned.sizes,
        scripts: &planned.scripts,
        progress,
    };
    let filled = match mark {
        Some(mark) => {
            fill.copy_before_holding_writers(server, mark, journal, &mut planned.transfers)?
        }
        None => fill.copy_with_writers_held(server, &mut planned.transfers)?,
    };
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

/// Filling the new database: the rows, the pre-deployment script, the indexes and keys.
struct Fill<'a> {
    from: &'a str,
    to: &'a str,
    parallelism: usize,
    sizes: &'a [u64],
    scripts: &'a Scripts,
    progress: &'a dyn Progress,
}

impl Fill<'_> {
    /// Copies while writers still write, then holds them off and keeps what nothing was
    /// written to since; the read-only window is then only the check and the switch.
    fn copy_before_holding_writers(
        &self,
        server: &mut dyn Server,
        mark: Box<dyn WriteMark>,
        journal: &SideBySideJournal,
        transfers: &mut [PlannedTransfer],
    ) -> Result<Filled> {
        self.progress
            .step(&format!("copying {} before holding writers off", self.from));
        let copiers = self.connect_copiers(server, transfers)?;
        let parallelism = copiers.len();
        let copy_ms = self.copy_and_index(server, copiers, transfers)?;
        let hold = hold_writers(server, self.from, self.progress)?;
        let mut filled = Filled {
            hold,
            window: Instant::now(),
            copy_ms,
            parallelism,
            early_copy: EarlyCopy::Off,
            early_copy_note: None,
        };
        fault::point("sbs.held");
        match self.copy_again_what_was_written(server, mark, journal, transfers, &mut filled) {
            Ok(()) => Ok(filled),
            Err(err) => {
                filled.release_writers();
                Err(err)
            }
        }
    }

    /// With writers held, asks `mark` what was written since the copy began and copies that
    /// again: the tables written to where the mark names them and no pre-deployment script ran
    /// over the copy, else everything, into a fresh database. A schema change fails the run.
    fn copy_again_what_was_written(
        &self,
        server: &mut dyn Server,
        mark: Box<dyn WriteMark>,
        journal: &SideBySideJournal,
        transfers: &mut [PlannedTransfer],
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
                self.progress
                    .step(&format!("{why}: copying again with writers held"));
                Some((why, tables))
            }
            WrittenSince::Nothing => None,
        };
        fault::point("sbs.checked");
        filled.early_copy_note = written.as_ref().map(|(why, _)| why.clone());
        filled.early_copy = match written {
            None => EarlyCopy::Kept,
            // A pre-deployment script ran over every copied table: it cannot be run
            // again over some.
            Some((_, Some(tables))) if !self.has_predeploy() => {
                self.recopy_written_tables(server, transfers, &tables)?;
                EarlyCopy::Partly
            }
            Some(_) => {
                filled.copy_ms = self.refill_fresh_database(server, journal, transfers)?;
                EarlyCopy::Discarded
            }
        };
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
