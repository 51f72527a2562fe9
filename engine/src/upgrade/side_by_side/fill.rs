//! Filling the new database: the schema, the rows, the pre-deployment script, the indexes.

use std::time::Instant;

use super::copy::{IndexBuild, copy_and_build, finish_copiers, open_copiers};
use super::journal::{SideBySideJournal, save, save_in};
use super::prepare::Scripts;
use super::transfer_plan::PlannedTransfer;
use super::{Progress, millis, run_script};
use crate::Result;
use crate::driver::{Copier, Server, WriterHold};
use crate::fault;
use crate::model::ObjectName;

/// Deploys the desired schema, without the indexes and keys built after the copy, into the
/// new database.
pub(super) fn deploy_schema(
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
pub(super) fn hold_writers(
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
pub(super) struct Fill<'a> {
    pub(super) from: &'a str,
    pub(super) to: &'a str,
    pub(super) parallelism: usize,
    pub(super) sizes: &'a [u64],
    pub(super) scripts: &'a Scripts,
    pub(super) progress: &'a dyn Progress,
}

impl Fill<'_> {
    /// The copiers, connected.
    pub(super) fn connect_copiers(
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
    pub(super) fn copy_and_index(
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
    pub(super) fn has_predeploy(&self) -> bool {
        !self.scripts.predeploy.batches.is_empty()
    }

    /// Drops the new database and fills a new one under its name: schema, rows, indexes.
    /// Returns the copy's milliseconds.
    pub(super) fn refill_fresh_database(
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
    pub(super) fn recopy_written_tables(
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
