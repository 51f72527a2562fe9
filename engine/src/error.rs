//! The engine's error type. Findings (drift, hazards, opaque objects) are data, not errors.

use std::path::PathBuf;

/// Anything that stops the engine from producing what was asked. Messages are lowercase, name
/// the file, object or statement, and never contain a password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A package is not a valid or safe .dacpac (zip structure, limits, missing parts).
    #[error("{}: {message}", path.display())]
    Package {
        /// The package file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An XML part of a package or project is malformed or not what the format allows.
    #[error("{}: {part}: {message}", path.display())]
    Xml {
        /// The package or project file.
        path: PathBuf,
        /// The part (`model.xml`, `Origin.xml`, ...) or the project file itself.
        part: String,
        /// What is wrong, with the byte position where known.
        message: String,
    },
    /// Origin.xml's checksum does not match model.xml.
    #[error(
        "{}: model.xml checksum mismatch: Origin.xml records {expected}, model.xml hashes to {actual} (the model was changed after it was packaged; pass --accept-checksum-mismatch to load it anyway)",
        path.display()
    )]
    ChecksumMismatch {
        /// The package file.
        path: PathBuf,
        /// Checksum recorded in Origin.xml.
        expected: String,
        /// Checksum of the model.xml found.
        actual: String,
    },
    /// A model that refers to something that does not exist, or is otherwise inconsistent.
    #[error("{}: {message}", path.display())]
    Model {
        /// The package or project.
        path: PathBuf,
        /// What is wrong, naming the element.
        message: String,
    },
    /// SQL that cannot be understood.
    #[error("{}:{line}:{column}: {message}", file.display())]
    Sql {
        /// The source file.
        file: PathBuf,
        /// 1-based line.
        line: u64,
        /// 1-based column.
        column: u64,
        /// What was not understood.
        message: String,
    },
    /// A SQL project that cannot be built (project file, items, includes, variables).
    #[error("{}: {message}", path.display())]
    Project {
        /// The project file or folder.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A database refused or failed a statement, or could not be reached.
    #[error("{backend}: {message}{}", statement.as_ref().map(|s| format!("\nin statement: {s}")).unwrap_or_default())]
    Driver {
        /// `sqlite`, `postgres`, `sqlserver`.
        backend: &'static str,
        /// SQLSTATE or server error number, when known.
        code: Option<String>,
        /// The server's message (passwords never included).
        message: String,
        /// The failing statement, when there is one.
        statement: Option<String>,
    },
    /// A safety policy refused the operation (possible data loss, drift, another upgrade
    /// holding the lock): nothing was changed.
    #[error("refused: {reason}")]
    Blocked {
        /// Why, naming each object.
        reason: String,
    },
    /// A request the engine cannot serve (bad option values, unsupported platform...).
    #[error("{0}")]
    Invalid(String),
    /// A name or version given for a `.dacpac`, which keeps the ones it was built with.
    #[error(
        "name and version apply to projects; {} keeps the name and version it was built with",
        path.display()
    )]
    NameAndVersionOnPackage {
        /// The package file.
        path: PathBuf,
    },
    /// `dac rollout start` while the rollout of that file is still in progress: nothing was
    /// changed.
    #[error(
        "refused: rollout {id} of {application} {version} is {state} ({}): go on with `dac rollout resume` or `dac rollout next`, or undo it with `dac rollout rollback`",
        journal.display()
    )]
    RolloutInProgress {
        /// The rollout's id.
        id: String,
        /// The application it deploys.
        application: String,
        /// The version it deploys.
        version: String,
        /// Where it stands (`running`, `paused`, `rolling-back`).
        state: String,
        /// Its journal.
        journal: PathBuf,
    },
    /// A domain of the rollout failed, so nothing more is upgraded: roll it back or start a
    /// fixed package.
    #[error(
        "refused: rollout {id} is stuck at domain {}: `dac rollout rollback` undoes it, or `dac rollout start` a fixed package",
        domain.map_or_else(|| "?".to_string(), |d| d.to_string())
    )]
    RolloutStuck {
        /// The rollout's id.
        id: String,
        /// The domain that failed, if the journal says.
        domain: Option<usize>,
    },
    /// `dac rollout next` on a rollout being rolled back.
    #[error("refused: rollout {id} is rolling back: finish with `dac rollout rollback`")]
    RolloutRollingBack {
        /// The rollout's id.
        id: String,
    },
    /// Targets a rollout cannot start on (unreachable, or registered to another application);
    /// nothing was changed.
    #[error(
        "{}: {} target(s) cannot be rolled out to; nothing was changed:\n  {}",
        file.display(),
        problems.len(),
        problems.join("\n  ")
    )]
    TargetsNotReady {
        /// The rollout file.
        file: PathBuf,
        /// One line per target: which, and why.
        problems: Vec<String>,
    },
    /// A target not rolled back because it changed after the rollout upgraded it.
    #[error(
        "refused: {target} changed since this rollout upgraded it (registered now: {}); not rolled back",
        registered_now.as_deref().unwrap_or("nothing")
    )]
    ChangedSinceUpgrade {
        /// The target, as the journal names it.
        target: String,
        /// Its registration now (application and version), if any.
        registered_now: Option<String>,
    },
    /// A target not rolled back because the rollout kept no copy of it (`backup = false`).
    #[error(
        "refused: {target}: no copy was kept (backup = false): roll it back by deploying the previous package"
    )]
    NoCopyKept {
        /// The target, as the journal names it.
        target: String,
    },
    /// A rollback that did not return every upgraded target; the ones it did stay rolled back.
    #[error(
        "rollback of {} target(s) failed (the others are rolled back; run it again once fixed):\n  {}",
        failures.len(),
        failures.join("\n  ")
    )]
    RollbackIncomplete {
        /// One line per target that failed: which, and why.
        failures: Vec<String>,
        /// The targets rolled back so far, as the journal names them.
        rolled_back: Vec<String>,
    },
    /// A side-by-side upgrade could not copy a table's rows into the new database (the run is
    /// undone, unless [`Error::UndoFailed`] says otherwise).
    #[error("copying the rows of {table} failed: {cause}")]
    CopyFailed {
        /// The table, as the transfer report names it.
        table: String,
        /// The copier's error.
        cause: Box<Error>,
    },
    /// The original's schema changed while a side-by-side upgrade copied its rows with writers
    /// still writing: the upgrade was planned for the schema before, so it is undone.
    #[error(
        "the schema of {database} changed while its rows were copied ({change}): the upgrade was planned for the schema it had before; run it again"
    )]
    SchemaChangedDuringCopy {
        /// The original database.
        database: String,
        /// What the write mark saw change.
        change: String,
    },
    /// A side-by-side upgrade failed before the switch and undoing it failed too: the original
    /// is not yet as it was; the next run against it finishes the undo from the journal.
    #[error(
        "{failure}\nand undoing it failed too: {undo}; the next dac run against {database} finishes undoing it from the journal"
    )]
    UndoFailed {
        /// The original database.
        database: String,
        /// Why the upgrade failed.
        failure: Box<Error>,
        /// Why the undo failed.
        undo: Box<Error>,
    },
    /// A rollback found the original its journal names gone: nothing was changed.
    #[error(
        "the original retained by the last side-by-side upgrade of {database}, {retained}, no longer exists"
    )]
    RetainedOriginalMissing {
        /// The database.
        database: String,
        /// The name the original was retained under.
        retained: String,
    },
    /// The side-by-side journal of a database cannot be read: nothing was recovered, upgraded
    /// or rolled back.
    #[error(
        "the side-by-side journal of {database} cannot be read ({message}); it holds: {journal}"
    )]
    JournalUnreadable {
        /// The database.
        database: String,
        /// What is wrong with it.
        message: String,
        /// The journal's text as stored.
        journal: String,
    },
    /// A failure, then a failure of the cleanup after it (a rollback on a dropped connection,
    /// releasing the upgrade lock): the first is the error, the cleanup's a note after it.
    #[error("{error}\nnote: {cleanup} failed too: {note}")]
    CleanupFailed {
        /// The first error: what went wrong.
        error: Box<Error>,
        /// The cleanup that was tried (`rolling back the transaction`).
        cleanup: String,
        /// Why the cleanup failed.
        note: String,
    },
}

impl Error {
    /// A safety policy or the state of a run said no (nothing unsafe was done): [`Error::Blocked`]
    /// and the rollout's refusals.
    pub fn is_refusal(&self) -> bool {
        if let Error::CleanupFailed { error, .. } = self {
            return error.is_refusal();
        }
        matches!(
            self,
            Error::Blocked { .. }
                | Error::RolloutInProgress { .. }
                | Error::RolloutStuck { .. }
                | Error::RolloutRollingBack { .. }
                | Error::ChangedSinceUpgrade { .. }
                | Error::NoCopyKept { .. }
        )
    }

    /// This error, with the failure of the `cleanup` tried after it as a note (the first error
    /// is the one that explains what happened).
    #[must_use]
    pub fn with_cleanup_failure(self, cleanup: &str, failure: Error) -> Error {
        Error::CleanupFailed {
            error: Box::new(self),
            cleanup: cleanup.to_string(),
            note: failure.to_string(),
        }
    }

    /// This result's error, with the failure of `cleanup` (run after it) as a note; `cleanup`'s
    /// failure is the error when `result` succeeded.
    pub fn after_cleanup<T>(result: Result<T>, what: &str, cleanup: Result<()>) -> Result<T> {
        match (result, cleanup) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(failure)) => Err(failure),
            (Err(error), Ok(())) => Err(error),
            (Err(error), Err(failure)) => Err(error.with_cleanup_failure(what, failure)),
        }
    }

    /// A database error with `context` (what dac was doing) put before the server's message;
    /// other errors unchanged.
    #[must_use]
    pub fn in_context(self, context: &str) -> Error {
        match self {
            Error::Driver {
                backend,
                code,
                message,
                statement,
            } => Error::Driver {
                backend,
                code,
                message: format!("{context}{message}"),
                statement,
            },
            other => other,
        }
    }
}

/// Result with the engine's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod cleanup_tests {
    use super::Error;

    #[test]
    fn the_first_error_is_reported_and_the_cleanup_failure_is_a_note() {
        let first = Error::Driver {
            backend: "sqlserver",
            code: Some("547".into()),
            message: "step CreateTable [dbo].[T]: the INSERT statement conflicted".into(),
            statement: None,
        };
        let cleanup = Error::Driver {
            backend: "sqlserver",
            code: None,
            message: "connection reset by peer".into(),
            statement: Some("EXEC sp_releaseapplock @Resource = N'dac_upgrade'".into()),
        };
        let text =
            Error::after_cleanup::<()>(Err(first), "releasing the upgrade lock", Err(cleanup))
                .unwrap_err()
                .to_string();
        assert_eq!(
            text,
            "sqlserver: step CreateTable [dbo].[T]: the INSERT statement conflicted\nnote: releasing the upgrade lock failed too: sqlserver: connection reset by peer\nin statement: EXEC sp_releaseapplock @Resource = N'dac_upgrade'"
        );
        // A refusal stays one with a failed cleanup after it; a cleanup alone is the error.
        let refused = Error::Blocked {
            reason: "locked".into(),
        }
        .with_cleanup_failure(
            "rolling back the transaction",
            Error::Invalid("gone".into()),
        );
        assert!(refused.is_refusal());
        let alone = Error::after_cleanup(Ok(1), "rolling back", Err(Error::Invalid("gone".into())));
        assert_eq!(alone.unwrap_err().to_string(), "gone");
        assert_eq!(
            Error::after_cleanup(Ok(1), "rolling back", Ok(())).unwrap(),
            1
        );
    }
}
