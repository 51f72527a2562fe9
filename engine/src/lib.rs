//! dac-engine: reads, builds, compares and upgrades DAC-style database packages.
//!
//! Data flows one way: a package, a project or a live database becomes a [`model::Model`];
//! `compare` turns two models into a diff, `plan` orders it, `script` renders it for a dialect,
//! and drivers execute it. `model`, `compare`, `plan`, `dialect` and `script` are pure; which
//! modules may touch files, databases and processes is set out in ARCHITECTURE.md.
#![warn(missing_docs)]

pub mod compare;
pub mod dialect;
pub mod driver;
pub mod endpoint;
pub mod error;
pub mod fault;
pub mod model;
pub mod package;
mod parallel;
pub mod plan;
pub mod registry;
pub mod report;
pub mod rollout;
pub mod script;
pub mod source;
pub mod upgrade;

pub use error::{Error, Result};
