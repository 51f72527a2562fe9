//! Turning source files into model elements.

pub mod generic;
