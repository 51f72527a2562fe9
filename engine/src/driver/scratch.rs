//! Scratch databases: the drivers that canonicalize a package (PostgreSQL, SQL Server) build it
//! in a throwaway database of the target's server and inspect that.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::dialect::dialect_for;
use crate::model::{Model, Platform};
use crate::plan::{PlanOptions, create_all};
use crate::script::{Script, render};

/// Scratch databases named in this process.
static SCRATCH: AtomicU64 = AtomicU64::new(0);

/// A name for a new scratch database that no other run uses: the process id, a counter and
/// the time.
pub(crate) fn scratch_name() -> String {
    let n = SCRATCH.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("dac_scratch_{}_{n}_{nanos}", std::process::id())
}

/// The script that creates every object of `desired` in an empty database of `platform`,
/// blocking on nothing (the database is thrown away).
pub(crate) fn creation_script(desired: &Model, platform: Platform) -> Script {
    let dialect = dialect_for(platform);
    let planned = create_all(
        desired,
        dialect.capabilities(),
        &PlanOptions {
            block_on_possible_data_loss: false,
            ..PlanOptions::default()
        },
    );
    render(&planned, dialect)
}
