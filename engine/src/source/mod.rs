//! Builds a [`Package`] from a SQL project: a `.sqlproj`/`.csproj` file, a folder holding
//! exactly one, or a plain folder of `.sql` files.
//!
//! SQL Server projects are parsed by [`tsql`]; SQLite and PostgreSQL folders go to
//! [`generic::parse_batch`]. Pre- and post-deployment scripts are expanded (`:r`) and stored as
//! text, never parsed as DDL.

mod blanks;
pub mod generic;
pub mod project;
mod renamed;
pub mod sqlcmd;
pub mod tsql;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::kind::prop;
use crate::model::{
    CustomData, Dsp, Element, Metadata, Model, ObjectName, Platform, Reference, Value, kind,
};
use crate::package::{DacMetadata, Package};
use project::Project;
use sqlcmd::{Mode, Preprocessor};

/// Options of [`build`].
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Target platform/DSP; default: the project's DSP, else SQL Server (Sql160).
    pub platform: Option<Dsp>,
    /// Package name; default: the project's name, else the folder name.
    pub name: Option<String>,
    /// Package version; default: the project's `DacVersion`, else `1.0.0.0`.
    pub version: Option<String>,
    /// SQLCMD variable values; they override project defaults and `:setvar`.
    pub variables: BTreeMap<String, String>,
}

/// Builds a package from a project file or folder. What the build had to note (see
/// [`build_with_notes`]) is not returned.
pub fn build(path: &Path, options: &BuildOptions) -> Result<Package> {
    build_with_notes(path, options).map(|(package, _)| package)
}

/// Builds a package and says what it read but did not turn into the model, as
/// `file:line:col: message` warnings (psql meta-commands such as `\restrict`, `DROP ... IF
/// EXISTS` of what is not there, a sequence's `RESTART`).
///
/// PostgreSQL seed data (`INSERT`, `COPY ... FROM stdin`, `setval`) becomes the start of the
/// post-deployment script, re-runnable as every upgrade runs it: inserts get `ON CONFLICT DO
/// NOTHING` (their table must have a primary key or a unique constraint or index), `setval`
/// runs only on a sequence not used yet.
pub fn build_with_notes(path: &Path, options: &BuildOptions) -> Result<(Package, Vec<String>)> {
    build_split(path, options, crate::parallel::threads())
}

/// Files parsed on one thread at the least: fewer are parsed before a thread would start.
const FILES_PER_THREAD: usize = 8;

/// [`build_with_notes`] with the project's files parsed in up to `threads` contiguous runs at
/// once. The package and the errors are those of parsing the files one after the other.
fn build_split(
    path: &Path,
    options: &BuildOptions,
    threads: usize,
) -> Result<(Package, Vec<String>)> {
    let project = locate_project(path)?;
    let folder = match &project {
        Some(p) => p.dir.clone(),
        None => path.to_path_buf(),
    };
    let prop = |name: &str| {
        project
            .as_ref()
            .and_then(|p| p.property(name))
            .filter(|v| !v.is_empty())
    };

    let dsp = match &options.platform {
        Some(dsp) => dsp.clone(),
        None => match prop("DSP").or_else(|| prop("SqlServerVersion")) {
            Some(text) => Dsp::from_short_name(text).ok_or_else(|| Error::Project {
                path: path.to_path_buf(),
                message: format!("unknown DSP / SqlServerVersion {text}"),
            })?,
            None => Dsp::default_sqlserver(),
        },
    };
    let platform = dsp.platform();
    let name = options
        .name
        .clone()
        .or_else(|| prop("Name").map(str::to_string))
        .or_else(|| prop("DacApplicationName").map(str::to_string))
        .or_else(|| {
            project
                .as_ref()
                .and_then(|p| p.path.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
        })
        .or_else(|| {
            std::fs::canonicalize(&folder)
                .ok()
                .and_then(|p| p.file_name().map(|s| s.to_string_lossy().into_owned()))
        })
        .unwrap_or_else(|| "Database".into());
    let version = options
        .version
        .clone()
        .or_else(|| prop("DacVersion").map(str::to_string))
        .unwrap_or_else(|| "1.0.0.0".into());

    // SQLCMD variables: built-ins, project defaults, then the caller's values.
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in [
        ("DatabaseName", name.as_str()),
        ("DefaultFilePrefix", name.as_str()),
        ("DefaultDataPath", ""),
        ("DefaultLogPath", ""),
    ] {
        variables.insert(k.to_string(), v.to_string());
    }
    let mut declared = Vec::new();
    if let Some(p) = &project {
        for item in p.items_of("SqlCmdVariable") {
            let Some(var) = &item.include else { continue };
            declared.push(var.clone());
            let value = item
                .metadata
                .get("Value")
                .filter(|v| !v.starts_with("$(SqlCmdVar__"));
            let value = value.or_else(|| item.metadata.get("DefaultValue"));
            variables.insert(var.clone(), value.cloned().unwrap_or_default());
        }
    }
    for (k, v) in &options.variables {
        variables.retain(|existing, _| !existing.eq_ignore_ascii_case(k));
        variables.insert(k.clone(), v.clone());
    }

    // Files.
    let (build_files, predeploy, postdeploy, mut refactor_log) = match &project {
        Some(p) => project_files(p, &variables)?,
        None => plain_folder(path, &variables)?,
    };

    let chunks = threads.min(build_files.len() / FILES_PER_THREAD).max(1);
    let mut elements = Vec::new();
    let mut notes = Vec::new();
    let mut seed = Vec::new();
    let mut database_set = Vec::new();
    let mut database_secured = false;
    match platform {
        Platform::SqlServer => {
            let read = |files: &[PathBuf]| -> Result<tsql::TsqlBuilder> {
                let mut builder = tsql::TsqlBuilder::new();
                for file in files {
                    let mut pp = Preprocessor::new(
                        Mode::Model,
                        &variables,
                        options.variables.keys().cloned(),
                    );
                    pp.add_file(file)?;
                    for batch in pp.finish() {
                        builder.add_batch(&batch)?;
                    }
                }
                Ok(builder)
            };
            // A run that fails, or creates what an earlier run created, may depend on the runs
            // before it (ALTER TABLE ... ADD of an earlier file's table): the files are then
            // read again in one sequence, which gives the sequential build's error.
            let builder = match chunks {
                1 => read(&build_files)?,
                _ => {
                    let runs = crate::parallel::map_chunks(&build_files, chunks, read);
                    let mut runs = runs.into_iter();
                    let merged = runs.next().and_then(Result::ok).and_then(|mut first| {
                        for run in runs {
                            first.append(run.ok()?).ok()?;
                        }
                        Some(first)
                    });
                    match merged {
                        Some(builder) => builder,
                        None => read(&build_files)?,
                    }
                }
            };
            renamed::add_to_log(&mut refactor_log, builder.refactor_operations());
            database_secured = builder.database_secured();
            database_set = builder.database_set_options().to_vec();
            elements = builder.finish_resolved(
                model_case_sensitive(prop("ModelCollation")),
                tsql::Unresolved::Refuse,
            )?;
        }
        Platform::Sqlite | Platform::Postgres => {
            // Each batch parses on its own, so the first error of the earliest run is the
            // first error of the files in order.
            let read = |files: &[PathBuf]| -> Result<Vec<generic::Parsed>> {
                let mut batches = Vec::new();
                for file in files {
                    let mut pp = Preprocessor::new(
                        Mode::Model,
                        &variables,
                        options.variables.keys().cloned(),
                    );
                    pp.add_file(file)?;
                    for batch in pp.finish() {
                        if batch.is_blank() {
                            continue;
                        }
                        let (_, start_line, _) = batch.locate(1, 1);
                        let file = batch.file().to_path_buf();
                        batches.push(generic::parse_source(
                            platform,
                            &batch.text,
                            &file,
                            start_line,
                        )?);
                    }
                }
                Ok(batches)
            };
            for run in crate::parallel::map_chunks(&build_files, chunks, read) {
                for parsed in run? {
                    elements.extend(parsed.elements);
                    notes.extend(parsed.notes);
                    renamed::add_to_log(&mut refactor_log, &parsed.refactor_operations);
                    seed.extend(parsed.seed);
                }
            }
            generic::finish(platform, &mut elements);
            check_seed_keys(&elements, &seed)?;
        }
    }

    let mut model = Model::empty(dsp.clone());
    if platform != Platform::SqlServer {
        model.collation_case_sensitive = generic::collation_case_sensitive(platform);
    }
    if let Some(collation) = prop("ModelCollation") {
        if let Some(lcid) = collation
            .split(',')
            .map(str::trim)
            .next()
            .filter(|s| !s.is_empty())
        {
            model.collation_lcid = lcid.to_string();
        }
        model.collation_case_sensitive = model_case_sensitive(Some(collation));
    }
    if platform == Platform::SqlServer {
        model.header = Some(header(project.as_ref(), &dsp, &declared));
        let references_database = elements.iter().any(references_disambiguator_1);
        let mut options_el = database_options(project.as_ref(), &dsp, &database_set);
        if database_secured || references_database {
            options_el.disambiguator = Some("1".into());
        }
        model.elements.push(options_el);
    }
    model.elements.extend(elements);
    // Each file refuses what it creates twice, with its line; this catches an object that two
    // files (or batches) both create.
    if let Some((_, again)) = model.first_duplicate() {
        return Err(Error::Model {
            path: path.to_path_buf(),
            message: format!(
                "{} {} is created twice (in two files or batches): an object is created once",
                again.kind,
                again.name_or_empty()
            ),
        });
    }
    model.sort_elements();
    let postdeploy = if seed.is_empty() {
        postdeploy
    } else {
        let mut text = String::from(
            "-- Seed data of the schema source (re-runnable: ON CONFLICT DO NOTHING; setval only on an unused sequence).\n",
        );
        for s in &seed {
            text.push_str(&format!("-- {}:{}\n{}\n", s.file.display(), s.line, s.sql));
        }
        if let Some(user) = postdeploy {
            text.push('\n');
            text.push_str(&user);
        }
        Some(text)
    };

    let package = Package {
        metadata: Some(DacMetadata {
            name,
            version,
            description: prop("DacDescription").map(str::to_string),
        }),
        origin: None,
        model,
        predeploy,
        postdeploy,
        refactor_log,
    };
    Ok((package, notes))
}

/// Seed inserts run at every upgrade with `ON CONFLICT DO NOTHING`: that keeps rows unique only
/// where the table has a key. A table without one is refused rather than filled again each time.
fn check_seed_keys(elements: &[Element], seed: &[generic::SeedStatement]) -> Result<()> {
    for s in seed {
        let Some(table) = &s.table else { continue };
        let keyed = elements.iter().any(|e| {
            let unique_index = e.kind == kind::INDEX && e.bool_prop(prop::IS_UNIQUE) == Some(true);
            let of_table = [
                crate::model::kind::rel::DEFINING_TABLE,
                crate::model::kind::rel::INDEXED_OBJECT,
            ]
            .iter()
            .any(|r| e.reference_name(r).is_some_and(|n| n.matches(table, true)));
            of_table
                && (matches!(e.kind.as_str(), kind::PRIMARY_KEY | kind::UNIQUE) || unique_index)
        });
        if !keyed {
            return Err(Error::Sql {
                file: s.file.clone(),
                line: s.line,
                column: s.column,
                message: format!(
                    "seed data for {table}, which has no primary key or unique constraint or index: dac keeps seed data as a post-deployment script that runs at every upgrade (INSERT ... ON CONFLICT DO NOTHING), which would insert these rows again each time; give the table a key or move the rows to postdeploy.sql"
                ),
            });
        }
    }
    Ok(())
}

/// The model the project builder gives for T-SQL text, as if it were the only file of a plain
/// folder built for `dsp` (no project properties, no SQLCMD variables): a reference to nothing
/// in the text is an error, as in a project.
pub fn build_tsql_text(text: &str, file: &Path, dsp: &Dsp) -> Result<Model> {
    build_tsql(text, file, dsp, tsql::Unresolved::Refuse, false)
}

/// [`build_tsql_text`] for DDL rendered from a live database's catalog: the SQL Server driver's
/// inspection builds its objects here, so a live database and a project with the same DDL give
/// the same model by construction. References are resolved as in a project (spelling, logins),
/// but one that names nothing in `text` is kept as it is: the catalog had the object, and the
/// inspection checks objects one at a time before it builds them all together.
pub fn build_tsql_catalog(
    text: &str,
    file: &Path,
    dsp: &Dsp,
    case_sensitive: bool,
) -> Result<Model> {
    build_tsql(text, file, dsp, tsql::Unresolved::Keep, case_sensitive)
}

fn build_tsql(
    text: &str,
    file: &Path,
    dsp: &Dsp,
    unresolved: tsql::Unresolved,
    case_sensitive: bool,
) -> Result<Model> {
    let variables = BTreeMap::new();
    let mut pp = Preprocessor::new(Mode::Model, &variables, std::iter::empty::<String>());
    pp.add_text(file, text)?;
    let mut builder = tsql::TsqlBuilder::new();
    for batch in pp.finish() {
        builder.add_batch(&batch)?;
    }
    let database_secured = builder.database_secured();
    let database_set = builder.database_set_options().to_vec();
    let mut model = Model::empty(dsp.clone());
    model.collation_case_sensitive = case_sensitive;
    let elements = builder.finish_resolved(case_sensitive, unresolved)?;
    model.header = Some(header(None, dsp, &[]));
    let references_database = elements.iter().any(references_disambiguator_1);
    let mut options_el = database_options(None, dsp, &database_set);
    if database_secured || references_database {
        options_el.disambiguator = Some("1".into());
    }
    model.elements.push(options_el);
    model.elements.extend(elements);
    model.sort_elements();
    Ok(model)
}

/// Whether a project's `ModelCollation` (`1033, CI`) compares names case-sensitively; SQL
/// Server's default collation does not.
fn model_case_sensitive(collation: Option<&str>) -> bool {
    collation
        .and_then(|c| c.split(',').map(str::trim).nth(1))
        .is_some_and(|cs| cs.eq_ignore_ascii_case("CS"))
}

fn references_disambiguator_1(e: &Element) -> bool {
    e.dependencies()
        .iter()
        .any(|r| r.name.is_none() && r.disambiguator.as_deref() == Some("1"))
}

/// Whether PATH is a plain folder of `.sql` files (no project file says its platform).
pub fn is_plain_folder(path: &Path) -> Result<bool> {
    Ok(locate_project(path)?.is_none())
}

/// The project file for PATH, or `None` for a plain folder of `.sql` files.
fn locate_project(path: &Path) -> Result<Option<Project>> {
    if path.is_file() {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        return match ext.as_deref() {
            Some("sqlproj" | "csproj") => Ok(Some(Project::load(path)?)),
            _ => Err(Error::Project {
                path: path.to_path_buf(),
                message: "expected a .sqlproj or .csproj file, or a folder".into(),
            }),
        };
    }
    if !path.is_dir() {
        return Err(Error::Project {
            path: path.to_path_buf(),
            message: "no such project file or folder".into(),
        });
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|e| {
                    e.eq_ignore_ascii_case("sqlproj") || e.eq_ignore_ascii_case("csproj")
                })
        })
        .collect();
    found.sort();
    match found.len() {
        0 => Ok(None),
        1 => Ok(Some(Project::load(&found[0])?)),
        _ => Err(Error::Project {
            path: path.to_path_buf(),
            message: format!(
                "the folder holds {} project files ({}); name one",
                found.len(),
                found
                    .iter()
                    .filter_map(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
    }
}

/// Script files of a plain folder: `predeploy.sql` and `postdeploy.sql` at its root.
const PLAIN_PREDEPLOY: &str = "predeploy.sql";
const PLAIN_POSTDEPLOY: &str = "postdeploy.sql";

/// Build files and deployment scripts of a plain folder of `.sql` files: every `.sql` file is
/// a build item except `predeploy.sql` and `postdeploy.sql` at the root, which become the
/// package's scripts (`:r` includes expanded).
fn plain_folder(dir: &Path, variables: &BTreeMap<String, String>) -> Result<ProjectFiles> {
    let script = |name: &str| -> Result<Option<String>> {
        let Some(file) = find_ignoring_case(dir, name) else {
            return Ok(None);
        };
        let mut pp = Preprocessor::new(Mode::Script, variables, []);
        pp.add_file(&file)?;
        Ok(Some(pp.finish_script()))
    };
    let predeploy = script(PLAIN_PREDEPLOY)?;
    let postdeploy = script(PLAIN_POSTDEPLOY)?;
    let mut files = plain_folder_files(dir)?;
    files.retain(|f| {
        let at_root = f.parent() == Some(dir);
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        !(at_root && (name == PLAIN_PREDEPLOY || name == PLAIN_POSTDEPLOY))
    });
    Ok((files, predeploy, postdeploy, None))
}

fn find_ignoring_case(dir: &Path, name: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(name))
        })
}

fn plain_folder_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Project {
            path: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        if entry.file_type().is_file()
            && entry
                .path()
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("sql"))
        {
            out.push(entry.path().to_path_buf());
        }
    }
    Ok(out)
}

type ProjectFiles = (
    Vec<PathBuf>,
    Option<String>,
    Option<String>,
    Option<crate::model::refactor::RefactorLog>,
);

/// Build files, expanded pre/post-deployment scripts and the refactor log of a project.
fn project_files(p: &Project, variables: &BTreeMap<String, String>) -> Result<ProjectFiles> {
    let script = |kind: &str| -> Result<(Option<String>, Vec<PathBuf>)> {
        let files = p.resolve_items(&[kind], kind)?;
        if files.len() > 1 {
            return Err(Error::Project {
                path: p.path.clone(),
                message: format!("more than one {kind} script: {}", files.len()),
            });
        }
        match files.first() {
            None => Ok((None, Vec::new())),
            Some(file) => {
                let mut pp = Preprocessor::new(Mode::Script, variables, []);
                pp.add_file(file)?;
                let read = pp.files_read.clone();
                Ok((Some(pp.finish_script()), read))
            }
        }
    };
    let (predeploy, pre_files) = script("PreDeploy")?;
    let (postdeploy, post_files) = script("PostDeploy")?;
    let canonical = |f: &PathBuf| std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
    let script_files: Vec<PathBuf> = pre_files.iter().chain(&post_files).map(canonical).collect();

    let mut files = if p.sdk_style {
        let mut exclude: Vec<String> = vec!["bin/**".into(), "obj/**".into()];
        exclude.extend(p.removed(&["Build", "Content", "Compile"]));
        if p.msbuild_sdk_sqlproj {
            exclude.push("**/Pre-Deployment/**".into());
            exclude.push("**/Post-Deployment/**".into());
            exclude.push("Pre-Deployment/**".into());
            exclude.push("Post-Deployment/**".into());
        }
        let exclude: Vec<&str> = exclude.iter().map(String::as_str).collect();
        let mut files = p.glob(&["**/*.sql"], &exclude)?;
        let not_built: Vec<PathBuf> = p
            .resolve_items(&["None", "PreDeploy", "PostDeploy"], "None")
            .unwrap_or_default()
            .iter()
            .map(canonical)
            .collect();
        files.retain(|f| {
            let c = canonical(f);
            !not_built.contains(&c) && !script_files.contains(&c)
        });
        files.extend(p.resolve_items(&["Build"], "Build")?);
        files
    } else {
        let removed: Vec<String> = p.removed(&["Build"]);
        let mut files = p.resolve_items(&["Build"], "Build")?;
        if !removed.is_empty() {
            let removed: Vec<&str> = removed.iter().map(String::as_str).collect();
            let gone = p.glob(&removed, &[])?;
            files.retain(|f| !gone.contains(f));
        }
        files
    };
    // Every Build item is T-SQL source, whatever its extension, as DacFx compiles it: a file
    // that is not SQL fails with its name and line rather than being left out.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(canonical(f)));

    let refactor_log = match p.resolve_items(&["RefactorLog"], "RefactorLog")?.first() {
        Some(file) => Some(project::read_refactor_log(file)?),
        None => None,
    };
    Ok((files, predeploy, postdeploy, refactor_log))
}

fn custom(category: &str, kind: Option<&str>, metadata: &[(&str, String)]) -> CustomData {
    CustomData {
        category: category.into(),
        kind: kind.map(str::to_string),
        metadata: metadata
            .iter()
            .map(|(n, v)| Metadata {
                name: n.to_string(),
                value: Some(v.clone()),
            })
            .collect(),
    }
}

fn default_compatibility(dsp: &Dsp) -> &'static str {
    match dsp.short_name() {
        "Sql90" => "90",
        "Sql100" => "100",
        "Sql110" => "110",
        "Sql120" => "120",
        "Sql130" => "130",
        "Sql140" => "140",
        "Sql150" => "150",
        "Sql170" => "170",
        _ => "160",
    }
}

fn bool_prop(project: Option<&Project>, name: &str, default: bool) -> bool {
    project
        .and_then(|p| p.property(name))
        .map_or(default, |v| v.eq_ignore_ascii_case("true"))
}

/// The model header as DacFx writes it from a project.
fn header(project: Option<&Project>, dsp: &Dsp, variables: &[String]) -> Vec<CustomData> {
    let text = |b: bool| {
        if b {
            "True".to_string()
        } else {
            "False".to_string()
        }
    };
    let compat = project
        .and_then(|p| p.property(prop::COMPATIBILITY_MODE))
        .filter(|v| !v.is_empty())
        .map_or_else(|| default_compatibility(dsp).to_string(), str::to_string);
    let mut out = vec![
        custom(
            "AnsiNulls",
            None,
            &[("AnsiNulls", text(bool_prop(project, "AnsiNulls", true)))],
        ),
        custom(
            "QuotedIdentifier",
            None,
            &[(
                "QuotedIdentifier",
                text(bool_prop(project, "QuotedIdentifier", true)),
            )],
        ),
        custom("CompatibilityMode", None, &[("CompatibilityMode", compat)]),
    ];
    if let Some(p) = project {
        for item in p.items.iter().filter(|i| {
            matches!(
                i.kind.as_str(),
                "ArtifactReference" | "ProjectReference" | "PackageReference"
            )
        }) {
            let Some(include) = &item.include else {
                continue;
            };
            let file = item.metadata.get("HintPath").unwrap_or(include);
            let logical = file.rsplit(['\\', '/']).next().unwrap_or(file).to_string();
            let logical = if item.kind == "ProjectReference" {
                logical
                    .rsplit_once('.')
                    .map_or(logical.clone(), |(stem, _)| format!("{stem}.dacpac"))
            } else {
                logical
            };
            let mut metadata = vec![("FileName", file.clone()), ("LogicalName", logical)];
            if let Some(db) = item
                .metadata
                .get("DatabaseVariableLiteralValue")
                .filter(|v| !v.is_empty())
            {
                metadata.push(("ExternalParts", format!("[{}]", db.replace(']', "]]"))));
            } else if let Some(var) = item
                .metadata
                .get("DatabaseSqlCmdVariable")
                .filter(|v| !v.is_empty())
            {
                metadata.push(("ExternalParts", format!("[$({var})]")));
            }
            let suppress = item
                .metadata
                .get("SuppressMissingDependenciesErrors")
                .map_or("False".to_string(), |v| {
                    if v.eq_ignore_ascii_case("true") {
                        "True".into()
                    } else {
                        "False".into()
                    }
                });
            metadata.push(("SuppressMissingDependenciesErrors", suppress));
            if item.kind == "PackageReference"
                && let Some(v) = item.metadata.get("Version")
            {
                metadata.push(("PackageVersion", v.clone()));
            }
            out.push(custom("Reference", Some("SqlSchema"), &metadata));
        }
    }
    out.push(custom(
        "SqlCmdVariables",
        Some("SqlCmdVariable"),
        &variables
            .iter()
            .map(|v| (v.as_str(), String::new()))
            .collect::<Vec<_>>(),
    ));
    out
}

/// `SqlDatabaseOptions` as DacFx writes it from project properties: only values that differ
/// from the model defaults, plus the few DacFx always writes.
fn database_options(project: Option<&Project>, dsp: &Dsp, set: &[(String, String)]) -> Element {
    let get = |names: &[&str]| -> Option<String> {
        names
            .iter()
            .find_map(|n| project.and_then(|p| p.property(n)))
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let is_true = |v: &str| v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("on");
    let flag =
        |names: &[&str], project_default: bool| get(names).map_or(project_default, |v| is_true(&v));
    let mut el = Element::new(kind::DATABASE_OPTIONS);
    let collation =
        get(&["DefaultCollation"]).unwrap_or_else(|| "SQL_Latin1_General_CP1_CI_AS".into());
    el.set_prop(prop::COLLATION, Value::Text(collation));
    // (project names, project default, model default, model property)
    let flags: &[(&[&str], bool, bool, &str)] = &[
        (&["AnsiNullDefault"], true, false, "IsAnsiNullDefaultOn"),
        (&["AnsiNulls"], true, false, "IsAnsiNullsOn"),
        (&["AnsiWarnings"], true, false, "IsAnsiWarningsOn"),
        (&["ArithAbort"], true, false, "IsArithAbortOn"),
        (
            &["ConcatNullYieldsNull"],
            true,
            false,
            "IsConcatNullYieldsNullOn",
        ),
        (
            &["NumericRoundAbort"],
            false,
            false,
            "IsNumericRoundAbortOn",
        ),
        (&["AnsiPadding"], true, true, "IsAnsiPaddingOn"),
        (&["QuotedIdentifier"], true, true, "IsQuotedIdentifierOn"),
    ];
    for (names, project_default, model_default, prop) in flags {
        let v = flag(names, *project_default);
        if v != *model_default {
            el.set_prop(prop, Value::Bool(v));
        }
    }
    if get(&["DefaultCursor"]).is_some_and(|v| v.eq_ignore_ascii_case("GLOBAL")) {
        el.set_prop(prop::IS_CURSOR_DEFAULT_SCOPE_GLOBAL, Value::Bool(true));
    }
    el.set_prop(
        prop::IS_TORN_PAGE_PROTECTION_ON,
        Value::Bool(flag(&["TornPageDetection"], false)),
    );
    if let Some(recovery) = get(&["Recovery", "RecoveryMode"]) {
        match recovery.to_ascii_uppercase().as_str() {
            "SIMPLE" => el.set_prop(prop::RECOVERY_MODE, Value::Int(1)),
            "BULK_LOGGED" | "BULKLOGGED" => el.set_prop(prop::RECOVERY_MODE, Value::Int(2)),
            _ => {}
        }
    }
    if flag(&["EnableFullTextSearch", "FullTextEnabled"], true) {
        el.set_prop(prop::IS_FULL_TEXT_ENABLED, Value::Bool(true));
    }
    if let Some(pv) = get(&["PageVerify", "PageVerifyMode"]) {
        match pv.to_ascii_uppercase().as_str() {
            "NONE" => el.set_prop(prop::PAGE_VERIFY_MODE, Value::Int(0)),
            "TORN_PAGE_DETECTION" | "TORNPAGEDETECTION" => {
                el.set_prop(prop::PAGE_VERIFY_MODE, Value::Int(1))
            }
            _ => {}
        }
    }
    if let Some(compat) = get(&["CompatibilityMode"]) {
        el.set_prop(prop::COMPATIBILITY_MODE, Value::from_attribute(&compat));
    }
    let other_flags: &[(&[&str], &str)] = &[
        (&["AllowSnapshotIsolation"], "IsAllowSnapshotIsolation"),
        (&["ReadCommittedSnapshot"], "IsReadCommittedSnapshot"),
        (&["Trustworthy"], "IsTrustworthyOn"),
        (&["DatabaseChaining"], "IsDBChainingOn"),
        (
            &["IsChangeTrackingOn", "ChangeTracking"],
            "IsChangeTrackingOn",
        ),
        (
            &["AutoUpdateStatisticsAsynchronously"],
            "IsAutoUpdateStatisticsAsyncOn",
        ),
        (&["IsEncryptionOn"], "IsEncryptionOn"),
        (&["IsBrokerPriorityHonored"], "IsBrokerPriorityHonored"),
        (
            &["DateCorrelationOptimizationOn"],
            "IsDateCorrelationOptimizationOn",
        ),
        (&["SupplementalLoggingOn"], "IsSupplementalLoggingOn"),
        (
            &["MemoryOptimizedElevateToSnapshot"],
            "IsMemoryOptimizedElevatedToSnapshot",
        ),
        (&["AutoClose"], "IsAutoCloseOn"),
        (&["AutoShrink"], "IsAutoShrinkOn"),
        (&["RecursiveTriggersEnabled"], "IsRecursiveTriggersOn"),
        (
            &["CloseCursorOnCommitEnabled"],
            "IsCloseCursorOnCommitEnabled",
        ),
    ];
    for (names, prop) in other_flags {
        if flag(names, false) {
            el.set_prop(prop, Value::Bool(true));
        }
    }
    for (names, prop) in [
        (&["AutoCreateStatistics"][..], "IsAutoCreateStatisticsOn"),
        (&["AutoUpdateStatistics"][..], "IsAutoUpdateStatisticsOn"),
    ] {
        if !flag(names, true) {
            el.set_prop(prop, Value::Bool(false));
        }
    }
    if let Some(sb) = get(&["ServiceBrokerOption"]) {
        match sb.to_ascii_lowercase().as_str() {
            "enablebroker" => el.set_prop(prop::SERVICE_BROKER_OPTION, Value::Int(1)),
            "errorbrokerconversations" => el.set_prop(prop::SERVICE_BROKER_OPTION, Value::Int(2)),
            "newbroker" => el.set_prop(prop::SERVICE_BROKER_OPTION, Value::Int(3)),
            _ => {}
        }
    }
    el.set_prop(
        prop::DEFAULT_LANGUAGE,
        Value::Text(get(&["DefaultLanguage"]).unwrap_or_default()),
    );
    el.set_prop(
        prop::DEFAULT_FULL_TEXT_LANGUAGE,
        Value::Text(get(&["DefaultFullTextLanguage"]).unwrap_or_default()),
    );
    if let Some(state) = get(&["QueryStoreDesiredState"]) {
        let code = match state.to_ascii_lowercase().as_str() {
            "readonly" => 1,
            "readwrite" => 2,
            _ => 0,
        };
        el.set_prop(prop::QUERY_STORE_DESIRED_STATE, Value::Int(code));
    }
    if let Some(mode) = get(&["QueryStoreCaptureMode"]) {
        let code = match mode.to_ascii_lowercase().as_str() {
            "all" => 1,
            "auto" => 2,
            "none" => 3,
            _ => 1,
        };
        el.set_prop(prop::QUERY_STORE_CAPTURE_MODE, Value::Int(code));
    }
    for (project_name, prop, default) in [
        ("QueryStoreFlushInterval", "QueryStoreFlushInterval", None),
        ("QueryStoreStatsInterval", "QueryStoreIntervalLength", None),
        ("QueryStoreMaxStorageSize", "QueryStoreMaxStorageSize", None),
        (
            "QueryStoreMaxPlansPerQuery",
            "QueryStoreMaxPlansPerQuery",
            None,
        ),
        (
            "QueryStoreStaleQueryThreshold",
            "QueryStoreStaleQueryThreshold",
            Some("30"),
        ),
    ] {
        if let Some(v) = get(&[project_name]).filter(|v| Some(v.as_str()) != default) {
            el.set_prop(prop, Value::from_attribute(&v));
        }
    }
    // ALTER DATABASE ... SET in model files.
    for (option, value) in set {
        let on = is_true(value);
        match option.as_str() {
            "MEMORY_OPTIMIZED_ELEVATE_TO_SNAPSHOT" => el.set_prop(
                prop::IS_MEMORY_OPTIMIZED_ELEVATED_TO_SNAPSHOT,
                Value::Bool(on),
            ),
            "ALLOW_SNAPSHOT_ISOLATION" => {
                el.set_prop(prop::IS_ALLOW_SNAPSHOT_ISOLATION, Value::Bool(on))
            }
            "READ_COMMITTED_SNAPSHOT" => {
                el.set_prop(prop::IS_READ_COMMITTED_SNAPSHOT, Value::Bool(on))
            }
            other => el.set_prop(&format!("Set.{other}"), Value::Text(value.clone())),
        }
    }
    let filegroup = get(&["DefaultFilegroup"]).unwrap_or_else(|| "PRIMARY".into());
    let fg_ref = if filegroup.eq_ignore_ascii_case("PRIMARY") {
        Reference::built_in(ObjectName::new(["PRIMARY"]))
    } else {
        Reference::to(ObjectName::new([filegroup]))
    };
    let _ = dsp;
    el.with_ref("DefaultFilegroup", fg_ref)
}

#[cfg(test)]
mod split_tests {
    use super::*;

    /// A plain folder of `n` T-SQL files: tables with named and unnamed inline constraints
    /// (annotation disambiguators), each referencing the table of the file before.
    fn tsql_folder(n: usize) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for idx in 0..n {
            let mut sql = format!(
                "CREATE TABLE [dbo].[T{idx:03}] (\n    [C0] int NOT NULL PRIMARY KEY,\n    [C1] int NULL DEFAULT 0,\n    [C2] nvarchar(10) NULL CONSTRAINT [DF_T{idx:03}_C2] DEFAULT N'x',\n    CONSTRAINT [CK_T{idx:03}] CHECK ([C1] >= 0)\n);\nGO\nCREATE INDEX [IX1] ON [dbo].[T{idx:03}] ([C1]);\nGO\n"
            );
            if idx > 0 {
                sql.push_str(&format!(
                    "ALTER TABLE [dbo].[T{idx:03}] ADD CONSTRAINT [FK_T{idx:03}] FOREIGN KEY ([C1]) REFERENCES [dbo].[T{:03}] ([C0]);\nGO\nCREATE PROCEDURE [dbo].[P{idx:03}] AS SELECT [C0] FROM [dbo].[T{:03}];\nGO\n",
                    idx - 1,
                    idx - 1
                ));
            }
            std::fs::write(dir.path().join(format!("T{idx:03}.sql")), sql).expect("write");
        }
        dir
    }

    fn sqlserver() -> BuildOptions {
        BuildOptions {
            platform: Dsp::from_short_name("Sql160"),
            ..BuildOptions::default()
        }
    }

    fn package_bytes(path: &Path, options: &BuildOptions, threads: usize) -> Vec<u8> {
        let (package, _) = build_split(path, options, threads).expect("build");
        crate::package::to_bytes(&package).expect("package bytes")
    }

    fn error_text(path: &Path, options: &BuildOptions, threads: usize) -> String {
        build_split(path, options, threads)
            .expect_err("the build fails")
            .to_string()
    }

    /// The disambiguators of the inline annotations in `elements` and the elements they hold.
    fn inline_disambiguators(elements: &[Element], out: &mut Vec<String>) {
        for element in elements {
            for annotation in &element.annotations {
                if let crate::model::Annotation::Inline {
                    disambiguator: Some(d),
                    ..
                } = annotation
                {
                    out.push(d.clone());
                }
            }
            for relationship in &element.relationships {
                let nested: Vec<Element> = relationship
                    .entries
                    .iter()
                    .filter_map(|e| match e {
                        crate::model::Entry::Element(el) => Some(el.clone()),
                        _ => None,
                    })
                    .collect();
                inline_disambiguators(&nested, out);
            }
        }
    }

    #[test]
    fn split_tsql_build_gives_the_sequential_package() {
        let dir = tsql_folder(40);
        let sequential = package_bytes(dir.path(), &sqlserver(), 1);
        let (package, _) = build_split(dir.path(), &sqlserver(), 3).expect("build");
        // The later runs' inline constraints are numbered on after the first run's: every
        // one of the 40 files' 3 unnamed-or-named inline constraints has its own number.
        let mut numbers = Vec::new();
        inline_disambiguators(&package.model.elements, &mut numbers);
        let total = numbers.len();
        numbers.sort();
        numbers.dedup();
        assert!(total >= 120, "{total} inline annotations");
        assert_eq!(numbers.len(), total, "inline disambiguators are distinct");
        let split = crate::package::to_bytes(&package).expect("package bytes");
        assert!(split == sequential, "3 runs give the package of 1");
        assert!(package_bytes(dir.path(), &sqlserver(), 5) == sequential);
    }

    #[test]
    fn split_tsql_build_fails_as_the_sequential_build() {
        // A later file adds a column to the first file's table: a run alone cannot.
        let dir = tsql_folder(40);
        std::fs::write(
            dir.path().join("T039.sql"),
            "ALTER TABLE [dbo].[T000] ADD [C9] int NULL;\nGO\n",
        )
        .expect("write");
        assert!(
            package_bytes(dir.path(), &sqlserver(), 3)
                == package_bytes(dir.path(), &sqlserver(), 1)
        );
        // A table created in the first and the last file.
        std::fs::write(
            dir.path().join("T039.sql"),
            "CREATE TABLE [dbo].[T001] ([C0] int NOT NULL);\nGO\n",
        )
        .expect("write");
        let sequential = error_text(dir.path(), &sqlserver(), 1);
        assert!(sequential.contains("T039.sql:1"), "{sequential}");
        assert!(sequential.contains("already created"), "{sequential}");
        assert_eq!(error_text(dir.path(), &sqlserver(), 3), sequential);
        // Errors in two runs: the earlier file's, with its line.
        std::fs::write(
            dir.path().join("T020.sql"),
            "\nCREATE TABLE [dbo].[X] (;\nGO\n",
        )
        .expect("write");
        let sequential = error_text(dir.path(), &sqlserver(), 1);
        assert!(sequential.contains("T020.sql:2"), "{sequential}");
        assert_eq!(error_text(dir.path(), &sqlserver(), 3), sequential);
    }

    #[test]
    fn split_sqlite_build_gives_the_sequential_package_and_errors() {
        let dir = tempfile::tempdir().expect("temp dir");
        for idx in 0..40 {
            let parent = if idx > 0 {
                format!(
                    ",\n  FOREIGN KEY (\"C1\") REFERENCES \"T{:03}\" (\"C0\")",
                    idx - 1
                )
            } else {
                String::new()
            };
            std::fs::write(
                dir.path().join(format!("T{idx:03}.sql")),
                format!(
                    "CREATE TABLE \"T{idx:03}\" (\n  \"C0\" INTEGER PRIMARY KEY,\n  \"C1\" INTEGER{parent}\n);\nCREATE INDEX \"IX_T{idx:03}\" ON \"T{idx:03}\" (\"C1\");\n"
                ),
            )
            .expect("write");
        }
        let options = BuildOptions {
            platform: Dsp::from_short_name("sqlite"),
            ..BuildOptions::default()
        };
        let sequential = package_bytes(dir.path(), &options, 1);
        assert!(package_bytes(dir.path(), &options, 3) == sequential);
        for bad in ["T030.sql", "T010.sql"] {
            std::fs::write(dir.path().join(bad), "\nCREATE TABLE \"X\" (;\n").expect("write");
        }
        let sequential = error_text(dir.path(), &options, 1);
        assert!(sequential.contains("T010.sql:2"), "{sequential}");
        assert_eq!(error_text(dir.path(), &options, 3), sequential);
    }
}
