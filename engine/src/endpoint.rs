//! Where a schema comes from: a package, a project or a live database.
//!
//! [`load_package`] is the one way to load a package: a `.dacpac` as it is, a project built
//! (a plain folder of `.sql` files for the target's platform), a name and version only for
//! projects. [`Endpoint`] resolves a command-line argument to a package, project or live target
//! and loads its model.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::driver::{self, Driver, Target};
use crate::model::{Dsp, Model, Platform};
use crate::package::{self, DacMetadata, Package, ReadOptions};
use crate::parallel;
use crate::source::{self, BuildOptions};
use crate::{Error, Result};

/// How to load a package.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The platform of the database the package is for.
    pub platform: Option<Platform>,
    /// How a project is built.
    pub projects: ProjectBuild,
    /// A project's name in place of its own; a `.dacpac` given one is refused.
    pub name: Option<String>,
    /// A project's version in place of its own; a `.dacpac` given one is refused.
    pub version: Option<String>,
    /// Load a `.dacpac` whose model.xml does not match the checksum in Origin.xml.
    pub accept_checksum_mismatch: bool,
}

/// How a project is built for a platform, and given a name and version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ProjectBuild {
    /// A project for the DSP its project file declares, a plain folder of `.sql` files for
    /// `platform` when given; the built package is then relabelled with `name` and `version`.
    #[default]
    AsDeclared,
    /// Every project for `platform`, built with `name` and `version` (so the SQLCMD variables
    /// `$(DatabaseName)` and `$(DefaultFilePrefix)` follow the name): a rollout's one package
    /// per platform.
    ForPlatform,
}

/// Loads the package at `path`: a `.dacpac` as it is, anything else built as a project.
pub fn load_package(path: &Path, options: &LoadOptions) -> Result<Package> {
    let plain_folder_for_platform = options.projects == ProjectBuild::AsDeclared
        && options.platform.is_some()
        && is_plain_folder(path);
    if !plain_folder_for_platform && is_package_file(path) {
        if options.name.is_some() || options.version.is_some() {
            return Err(Error::NameAndVersionOnPackage {
                path: path.to_path_buf(),
            });
        }
        let read_options = ReadOptions {
            accept_checksum_mismatch: options.accept_checksum_mismatch,
            ..ReadOptions::default()
        };
        return package::read(path, &read_options);
    }
    let dsp = options
        .platform
        .and_then(|platform| Dsp::from_short_name(platform.as_str()));
    match options.projects {
        ProjectBuild::ForPlatform => {
            let build_options = BuildOptions {
                platform: dsp,
                name: options.name.clone(),
                version: options.version.clone(),
                ..BuildOptions::default()
            };
            source::build(path, &build_options)
        }
        ProjectBuild::AsDeclared => {
            let build_options = BuildOptions {
                platform: if plain_folder_for_platform { dsp } else { None },
                ..BuildOptions::default()
            };
            let mut package = source::build(path, &build_options)?;
            if options.name.is_some() || options.version.is_some() {
                let metadata = package.metadata.get_or_insert_with(DacMetadata::default);
                if let Some(name) = &options.name {
                    metadata.name = name.clone();
                }
                if let Some(version) = &options.version {
                    metadata.version = version.clone();
                }
            }
            Ok(package)
        }
    }
}

/// PATH names a package file (`.dacpac`), not a project.
pub fn is_package_file(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("dacpac"))
}

/// A folder of `.sql` files with no project file in it.
fn is_plain_folder(path: &Path) -> bool {
    path.is_dir()
        && std::fs::read_dir(path).is_ok_and(|entries| {
            !entries.flatten().any(|e| {
                e.path().extension().is_some_and(|x| {
                    x.eq_ignore_ascii_case("sqlproj") || x.eq_ignore_ascii_case("csproj")
                })
            })
        })
}

/// Where a schema comes from: a live database, or a package or project.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A live database (a connection string).
    Live(Target),
    /// A `.dacpac`, a project file or a folder.
    Source(PathBuf),
}

impl Endpoint {
    /// A connection string is a live database; anything else a package or project path. Text
    /// that looks like a connection string (a URL, `key=value` pairs) and names no existing
    /// file is refused with the connection string's own error, which never shows a password:
    /// taken for a path it would be echoed whole.
    pub fn parse(text: &str) -> Result<Endpoint> {
        match Target::parse(text) {
            Ok(target) => Ok(Endpoint::Live(target)),
            Err(err) if looks_like_connection_string(text) && !Path::new(text).exists() => Err(err),
            Err(_) => Ok(Endpoint::Source(PathBuf::from(text))),
        }
    }

    /// Connects to and inspects a live database, or loads a package or project (plain
    /// folders of `.sql` files built for `platform` when given).
    pub fn load(
        &self,
        accept_checksum_mismatch: bool,
        platform: Option<Platform>,
    ) -> Result<LoadedEndpoint, EndpointError> {
        match self {
            Endpoint::Live(target) => {
                let mut driver =
                    driver::connect(target, false).map_err(|cause| EndpointError::Connecting {
                        target: target.to_string(),
                        cause: Box::new(cause),
                    })?;
                let model = driver
                    .inspect()
                    .map_err(|cause| EndpointError::Inspecting {
                        target: target.to_string(),
                        cause: Box::new(cause),
                    })?;
                Ok(LoadedEndpoint {
                    model,
                    package: None,
                    driver: Some(driver),
                    display: target.to_string(),
                })
            }
            Endpoint::Source(path) => load_source(path, accept_checksum_mismatch, platform),
        }
    }
}

fn looks_like_connection_string(text: &str) -> bool {
    text.contains("://") || text.contains('=')
}

/// Loads a package or project as an endpoint. The model moves out of the package rather
/// than being copied: the package keeps the model's attributes and header (its SQLCMD
/// variables), with no elements.
fn load_source(
    path: &Path,
    accept_checksum_mismatch: bool,
    platform: Option<Platform>,
) -> Result<LoadedEndpoint, EndpointError> {
    let options = LoadOptions {
        platform,
        accept_checksum_mismatch,
        ..LoadOptions::default()
    };
    let mut package = load_package(path, &options).map_err(|cause| EndpointError::Loading {
        path: path.to_path_buf(),
        cause: Box::new(cause),
    })?;
    let shell = Model {
        dsp: package.model.dsp.clone(),
        file_format_version: package.model.file_format_version.clone(),
        schema_version: package.model.schema_version.clone(),
        collation_lcid: package.model.collation_lcid.clone(),
        collation_case_sensitive: package.model.collation_case_sensitive,
        header: package.model.header.clone(),
        elements: Vec::new(),
        annotations: Vec::new(),
    };
    let model = std::mem::replace(&mut package.model, shell);
    Ok(LoadedEndpoint {
        model,
        package: Some(package),
        driver: None,
        display: path.display().to_string(),
    })
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Live(target) => write!(f, "{target}"),
            Endpoint::Source(path) => write!(f, "{}", path.display()),
        }
    }
}

/// An endpoint, loaded: its model, its refactor log and scripts when it is a package, and how
/// to show it (connection strings without passwords).
pub struct LoadedEndpoint {
    /// The schema.
    pub model: Model,
    /// The package, when the endpoint is a package or project: its metadata, scripts and
    /// refactor log, and its model's attributes and header; the elements are in `model`.
    pub package: Option<Package>,
    /// The connection, when the endpoint is a live database.
    pub driver: Option<Box<dyn Driver>>,
    /// How to name it in output.
    pub display: String,
}

/// Loads the two endpoints of a comparison: `desired` (a plain folder built for `current`'s
/// platform) must be for `current`'s platform, and a package compared with a live database is
/// first put in that server's own spelling.
pub fn load_current_and_desired(
    current: &str,
    desired: &str,
    accept_checksum_mismatch: bool,
) -> Result<(LoadedEndpoint, LoadedEndpoint), EndpointError> {
    let parse = |text: &str| {
        Endpoint::parse(text).map_err(|cause| EndpointError::NotATarget {
            cause: Box::new(cause),
        })
    };
    let (mut current, mut desired) = match parse(desired)? {
        // Only a plain folder needs the current platform to build: any other package or
        // project loads beside the current endpoint, on a thread of its own.
        Endpoint::Source(path) if !is_plain_folder(&path) => {
            let (desired, current) = parallel::join(
                || {
                    load_source(&path, accept_checksum_mismatch, None)
                        .map(|loaded| (loaded.model, loaded.package, loaded.display))
                },
                || parse(current).and_then(|e| e.load(accept_checksum_mismatch, None)),
            );
            let current = current?;
            let (model, package, display) = desired?;
            let desired = LoadedEndpoint {
                model,
                package,
                driver: None,
                display,
            };
            (current, desired)
        }
        desired => {
            let current = parse(current)?.load(accept_checksum_mismatch, None)?;
            let platform = current.model.platform();
            let desired = desired.load(accept_checksum_mismatch, Some(platform))?;
            (current, desired)
        }
    };
    if current.model.platform() != desired.model.platform() {
        return Err(EndpointError::PlatformMismatch {
            current: current.display,
            current_platform: current.model.platform(),
            desired: desired.display,
            desired_platform: desired.model.platform(),
        });
    }
    if desired.driver.is_none()
        && let Some(driver) = current.driver.as_mut()
    {
        desired.model =
            driver
                .canonicalize(&desired.model)
                .map_err(|cause| EndpointError::Canonicalising {
                    desired: desired.display.clone(),
                    current: current.display.clone(),
                    cause: Box::new(cause),
                })?;
    }
    Ok((current, desired))
}

/// What failed while loading an endpoint; the engine's error, when there is one, is its
/// source.
#[derive(Debug)]
pub enum EndpointError {
    /// Text that looks like a connection string is not one dac can use.
    NotATarget {
        /// Why, without the password.
        cause: Box<Error>,
    },
    /// A live database could not be reached.
    Connecting {
        /// The target, without its password.
        target: String,
        /// Why.
        cause: Box<Error>,
    },
    /// A live database's schema could not be read.
    Inspecting {
        /// The target, without its password.
        target: String,
        /// Why.
        cause: Box<Error>,
    },
    /// A package could not be read or a project built.
    Loading {
        /// The package or project.
        path: PathBuf,
        /// Why.
        cause: Box<Error>,
    },
    /// A package could not be put in a live database's own spelling.
    Canonicalising {
        /// The package.
        desired: String,
        /// The live database.
        current: String,
        /// Why.
        cause: Box<Error>,
    },
    /// The two endpoints are for different platforms.
    PlatformMismatch {
        /// The current endpoint.
        current: String,
        /// Its platform.
        current_platform: Platform,
        /// The desired endpoint.
        desired: String,
        /// Its platform.
        desired_platform: Platform,
    },
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointError::NotATarget { .. } => f.write_str("reading the connection string"),
            EndpointError::Connecting { target, .. } => write!(f, "connecting to {target}"),
            EndpointError::Inspecting { target, .. } => write!(f, "inspecting {target}"),
            // A path is shown as given, but never a password that reached it anyway.
            EndpointError::Loading { path, .. } => {
                write!(f, "loading {}", driver::redact(&path.display().to_string()))
            }
            EndpointError::Canonicalising {
                desired, current, ..
            } => write!(f, "canonicalising {desired} on {current}"),
            EndpointError::PlatformMismatch {
                current,
                current_platform,
                desired,
                desired_platform,
            } => write!(
                f,
                "{current} is a {} schema but {desired} is a {} schema: a package deploys only to its own platform",
                current_platform.as_str(),
                desired_platform.as_str()
            ),
        }
    }
}

impl std::error::Error for EndpointError {
    /// The engine's error itself (not its box), so callers can downcast to [`Error`].
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EndpointError::NotATarget { cause }
            | EndpointError::Connecting { cause, .. }
            | EndpointError::Inspecting { cause, .. }
            | EndpointError::Loading { cause, .. }
            | EndpointError::Canonicalising { cause, .. } => Some(cause.as_ref()),
            EndpointError::PlatformMismatch { .. } => None,
        }
    }
}
