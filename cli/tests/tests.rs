//! End-to-end tests of the `dac` binary: exit codes, output shapes, error messages.
//! Kept few; engine behaviour is tested in the engine and the `tests` crate.

mod util;

mod build;
mod info;
mod pipes;
mod rollout;
mod secrets;
mod sqlserver;
mod upgrade;
