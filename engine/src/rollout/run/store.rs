//! Where a command keeps the journal: the file beside the rollout file (snapshot and log, one
//! mutating command at a time behind the lock file), or a journal database that several
//! workers share (the driver's [`RolloutStore`]: a head document and one row per target).

use std::path::PathBuf;

use crate::driver::rollout_store::{NewTarget, StoredRollout};
use crate::driver::{RolloutStore, Target, open_rollout_store};
use crate::rollout::journal::{Change, Journal, JournalLog, TargetRecord};
use crate::{Error, Result};

/// A journal's storage.
pub(super) enum Store {
    /// `NAME.journal.json` and its log.
    File {
        /// The snapshot.
        snapshot: PathBuf,
        /// The log, once the snapshot was written by this command.
        log: Option<JournalLog>,
    },
    /// A journal database.
    Database {
        /// Its session.
        db: Box<dyn RolloutStore>,
        /// The rollout's name in it (the rollout file's stem).
        name: String,
        /// This process's worker id: its writes of a target need its claim.
        worker: Option<String>,
    },
}

fn json<T: serde::Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| Error::Invalid(format!("journal: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, what: &str, place: &str) -> Result<T> {
    serde_json::from_str(text)
        .map_err(|e| Error::Invalid(format!("journal {place}: not a rollout {what}: {e}")))
}

/// The journal without its targets, as the database holds its head (its targets are put
/// back after).
fn head_of(journal: &mut Journal) -> Result<String> {
    let targets = std::mem::take(&mut journal.targets);
    let text = json(journal);
    journal.targets = targets;
    text
}

/// A journal from what the database holds.
fn from_stored(stored: &StoredRollout, place: &str) -> Result<Journal> {
    let mut journal: Journal = parse(&stored.head, "journal head", place)?;
    journal.targets = stored
        .targets
        .iter()
        .map(|t| parse::<TargetRecord>(t, "target record", place))
        .collect::<Result<_>>()?;
    Ok(journal)
}

impl Store {
    /// The file journal of the rollout whose snapshot is `snapshot`.
    pub(super) fn file(snapshot: PathBuf) -> Store {
        Store::File {
            snapshot,
            log: None,
        }
    }

    /// The journal database `target`, where the rollout is named `name`.
    pub(super) fn database(target: &Target, name: &str) -> Result<Store> {
        Ok(Store::Database {
            db: open_rollout_store(target)?,
            name: name.to_string(),
            worker: None,
        })
    }

    /// Where it is, for messages (no password).
    pub(super) fn describe(&self) -> String {
        match self {
            Store::File { snapshot, .. } => snapshot.display().to_string(),
            Store::Database { db, name, .. } => format!("{} (rollout {name:?})", db.describe()),
        }
    }

    /// The session of a journal database.
    pub(super) fn db(&mut self) -> Option<&mut Box<dyn RolloutStore>> {
        match self {
            Store::File { .. } => None,
            Store::Database { db, .. } => Some(db),
        }
    }

    /// Sets the worker whose claims guard this command's target writes.
    pub(super) fn set_worker(&mut self, id: &str) {
        if let Store::Database { worker, .. } = self {
            *worker = Some(id.to_string());
        }
    }

    /// Reads the current journal; `None` when there is none.
    pub(super) fn load(&mut self) -> Result<Option<Journal>> {
        match self {
            Store::File { snapshot, .. } => Journal::load(snapshot),
            Store::Database { db, name, .. } => {
                let place = db.describe();
                db.read(name)?
                    .map(|stored| from_stored(&stored, &place))
                    .transpose()
            }
        }
    }

    /// Writes a new rollout's journal (a database keeps the rollouts before it).
    pub(super) fn create(&mut self, journal: &mut Journal) -> Result<()> {
        match self {
            Store::File { .. } => self.save(journal),
            Store::Database { db, name, .. } => {
                let targets = journal
                    .targets
                    .iter()
                    .map(|t| {
                        Ok(NewTarget {
                            record: json(t)?,
                            domain: t.domain,
                            settled: t.state.is_settled(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                journal.updated_at = crate::registry::now_utc();
                let head = head_of(journal)?;
                db.create(name, &journal.id, &head, &targets)
            }
        }
    }

    /// A fresh snapshot of the file journal (its log emptied, ready for appending); a journal
    /// database has every change already.
    pub(super) fn save(&mut self, journal: &mut Journal) -> Result<()> {
        match self {
            Store::File { snapshot, log } => {
                let _held = log.take();
                journal.save(snapshot)?;
                *log = Some(JournalLog::open(snapshot)?);
                Ok(())
            }
            Store::Database { .. } => Ok(()),
        }
    }

    /// Starts a command's work on `journal`: `f` changes its head (state, events), then a file
    /// journal is written as a fresh snapshot, a journal database's head under its row lock.
    pub(super) fn begin(
        &mut self,
        journal: &mut Journal,
        f: impl FnOnce(&mut Journal),
    ) -> Result<()> {
        match self {
            Store::File { .. } => {
                f(journal);
                self.save(journal)
            }
            Store::Database { .. } => self.update_head(journal, f),
        }
    }

    /// Records one change already made to `journal` in memory. A journal database takes a
    /// target's record; its head changes through [`Store::update_head`].
    pub(super) fn append(&mut self, journal: &mut Journal, change: Change) -> Result<()> {
        match self {
            Store::File { snapshot, log } => {
                if log.is_none() {
                    *log = Some(JournalLog::open(snapshot)?);
                }
                log.as_mut()
                    .map_or(Ok(()), |log| log.append(journal, change))
            }
            Store::Database { db, worker, .. } => match change {
                Change::Target { position, record } => {
                    db.write_target(
                        &journal.id,
                        position,
                        &json(&record)?,
                        record.state.is_settled(),
                        worker.as_deref(),
                    )?;
                    journal.updated_at = crate::registry::now_utc();
                    Ok(())
                }
                Change::Head { .. } => Err(Error::Invalid(
                    "journal database: a head change goes through update_head".into(),
                )),
            },
        }
    }

    /// Changes the head (state, domains, events) of a journal database's rollout: `f` runs on
    /// the stored head with this command's targets, under the row's lock, and `journal` takes
    /// the result. Other workers' head changes are kept, never overwritten.
    pub(super) fn update_head<T>(
        &mut self,
        journal: &mut Journal,
        f: impl FnOnce(&mut Journal) -> T,
    ) -> Result<T> {
        let Store::Database { db, .. } = self else {
            return Err(Error::Invalid("update_head on a file journal".into()));
        };
        let place = db.describe();
        let id = journal.id.clone();
        let mut f = Some(f);
        let mut value = None;
        let mut result: Option<Journal> = None;
        db.update_head(&id, &mut |stored| {
            let mut head: Journal = parse(stored, "journal head", &place)?;
            head.targets = std::mem::take(&mut journal.targets);
            if let Some(f) = f.take() {
                value = Some(f(&mut head));
            }
            head.updated_at = crate::registry::now_utc();
            journal.targets = std::mem::take(&mut head.targets);
            let text = json(&head);
            result = Some(head);
            text
        })?;
        if let Some(mut head) = result {
            head.targets = std::mem::take(&mut journal.targets);
            *journal = head;
        }
        value.ok_or_else(|| Error::Invalid("journal database: the head was not changed".into()))
    }

    /// Reads the stored head of a journal database's rollout into `journal` (its targets kept).
    pub(super) fn refresh_head(&mut self, journal: &mut Journal) -> Result<()> {
        let Store::Database { db, .. } = self else {
            return Ok(());
        };
        let place = db.describe();
        let mut head: Journal = parse(&db.read_head(&journal.id)?, "journal head", &place)?;
        head.targets = std::mem::take(&mut journal.targets);
        *journal = head;
        Ok(())
    }

    /// Reads domain `domain`'s target records from a journal database into `journal`.
    pub(super) fn refresh_domain(&mut self, journal: &mut Journal, domain: usize) -> Result<()> {
        let Store::Database { db, .. } = self else {
            return Ok(());
        };
        let place = db.describe();
        for (position, text) in db.read_domain(&journal.id, domain)? {
            if let Some(slot) = journal.targets.get_mut(position) {
                *slot = parse(&text, "target record", &place)?;
            }
        }
        Ok(())
    }

    /// Installs a claimed target's stored record into `journal`.
    pub(super) fn install(&self, journal: &mut Journal, position: usize, text: &str) -> Result<()> {
        let place = self.describe();
        if let Some(slot) = journal.targets.get_mut(position) {
            *slot = parse(text, "target record", &place)?;
        }
        Ok(())
    }
}
