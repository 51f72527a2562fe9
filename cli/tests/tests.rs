//! End-to-end tests of the `dac` binary: exit codes, output shapes, error messages.
//! Kept few; engine behaviour is tested in the engine and the `tests` crate.

mod util;

mod build;
mod frontdoor;
mod honest;
mod info;
mod options;
mod pipes;
mod rollout;
mod scripts;
mod secrets;
mod sqlserver;
mod upgrade;
