//! SQL project files: classic SSDT `.sqlproj`, SDK-style `Microsoft.Build.Sql` `.sqlproj` and
//! `MSBuild.Sdk.SqlProj` `.csproj`. Only what shapes the model is read: properties, build items,
//! pre/post-deployment scripts, SQLCMD variables, the refactor log and package references.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use quick_xml::events::Event;

use crate::error::{Error, Result};
use crate::model::refactor::{RefactorLog, RefactorOperation};
use crate::source::sqlcmd::resolve_path;

/// Deepest element nesting of a project file, as for a package's parts: MSBuild files nest
/// four or five levels, and each element looks at all that enclose it.
pub const MAX_PROJECT_DEPTH: usize = 256;

/// One item of an `ItemGroup` with its metadata.
#[derive(Debug, Clone, Default)]
pub struct Item {
    /// Element name: `Build`, `None`, `PreDeploy`, `SqlCmdVariable`...
    pub kind: String,
    /// `Include`.
    pub include: Option<String>,
    /// `Remove`.
    pub remove: Option<String>,
    /// Child metadata elements (`DefaultValue`, `Value`, `HintPath`...), and attributes other
    /// than Include/Remove/Condition.
    pub metadata: BTreeMap<String, String>,
}

/// A parsed project file.
#[derive(Debug, Clone)]
pub struct Project {
    /// The project file.
    pub path: PathBuf,
    /// Its folder.
    pub dir: PathBuf,
    /// Unconditional properties (later definitions win).
    pub properties: BTreeMap<String, String>,
    /// Items in document order.
    pub items: Vec<Item>,
    /// Whether the project is SDK-style (default `**/*.sql` globbing).
    pub sdk_style: bool,
    /// `MSBuild.Sdk.SqlProj` (excludes `Pre-Deployment`/`Post-Deployment` folders by default).
    pub msbuild_sdk_sqlproj: bool,
}

impl Project {
    /// Reads and parses a project file.
    pub fn load(path: &Path) -> Result<Project> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let text = crate::source::sqlcmd::decode(path, &bytes)?;
        Self::parse(path, &text)
    }

    /// Parses project XML.
    pub fn parse(path: &Path, text: &str) -> Result<Project> {
        let xml_err = |message: String| Error::Xml {
            path: path.to_path_buf(),
            part: "project".into(),
            message,
        };
        let mut reader = quick_xml::Reader::from_str(text);
        reader.config_mut().trim_text(true);
        let mut properties = BTreeMap::new();
        let mut items = Vec::new();
        let mut sdk_style = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csproj"));
        let mut msbuild_sdk = sdk_style;
        // Stack of element names with whether they were conditional.
        let mut stack: Vec<(String, bool)> = Vec::new();
        let mut current_item: Option<Item> = None;
        let mut text_buf = String::new();
        loop {
            let event = reader
                .read_event()
                .map_err(|e| xml_err(format!("at byte {}: {e}", reader.buffer_position())))?;
            match event {
                Event::DocType(_) => {
                    return Err(xml_err("DTDs are not allowed in project files".into()));
                }
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let empty = matches!(event, Event::Empty(_));
                    let name = e.local_name().as_ref().to_string();
                    let mut attrs = BTreeMap::new();
                    for a in e.attributes().flatten() {
                        let key = a.key.local_name().as_ref().to_string();
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .map_err(|err| xml_err(err.to_string()))?
                            .into_owned();
                        attrs.insert(key, value);
                    }
                    let conditional = attrs.contains_key("Condition");
                    let depth = stack.len();
                    let parent = stack.last().map(|(n, _)| n.as_str()).unwrap_or("");
                    if depth == 0
                        && let Some(sdk) = attrs.get("Sdk")
                    {
                        sdk_style = true;
                        msbuild_sdk |= sdk.contains("MSBuild.Sdk.SqlProj");
                    }
                    if name == "Sdk" && depth == 1 {
                        sdk_style = true;
                        msbuild_sdk |= attrs
                            .get("Name")
                            .is_some_and(|n| n.contains("MSBuild.Sdk.SqlProj"));
                    }
                    if name == "Import"
                        && depth == 1
                        && let Some(p) = attrs.get("Project")
                    {
                        if p.contains("MSBuild.Sdk.SqlProj") {
                            sdk_style = true;
                            msbuild_sdk = true;
                        } else if p.contains("Microsoft.Build.Sql") {
                            sdk_style = true;
                        }
                    }
                    let group_conditional = stack.iter().any(|(_, c)| *c);
                    if parent == "ItemGroup" && !group_conditional && !conditional {
                        let mut item = Item {
                            kind: name.clone(),
                            include: attrs.remove("Include"),
                            remove: attrs.remove("Remove"),
                            metadata: BTreeMap::new(),
                        };
                        attrs.remove("Condition");
                        item.metadata.extend(attrs);
                        current_item = Some(item);
                    }
                    if empty {
                        // Empty element: close it immediately.
                        if let Some(item) = current_item.take() {
                            if parent == "ItemGroup" {
                                items.push(item);
                            } else {
                                current_item = Some(item);
                            }
                        }
                        if parent == "PropertyGroup" && !group_conditional && !conditional {
                            properties.insert(name.clone(), String::new());
                        }
                    } else {
                        if stack.len() >= MAX_PROJECT_DEPTH {
                            return Err(xml_err(format!(
                                "elements nested more than {MAX_PROJECT_DEPTH} deep (the limit), at byte {}",
                                reader.buffer_position()
                            )));
                        }
                        stack.push((name, conditional));
                        text_buf.clear();
                    }
                }
                Event::Text(t) => {
                    let decoded = t.xml10_content();
                    text_buf.push_str(&decoded);
                }
                Event::GeneralRef(r) => {
                    let name = r.to_string();
                    let resolved = match name.as_str() {
                        "amp" => "&".to_string(),
                        "lt" => "<".to_string(),
                        "gt" => ">".to_string(),
                        "quot" => "\"".to_string(),
                        "apos" => "'".to_string(),
                        n if n.starts_with("#x") => u32::from_str_radix(&n[2..], 16)
                            .ok()
                            .and_then(char::from_u32)
                            .map(String::from)
                            .unwrap_or_default(),
                        n if n.starts_with('#') => n[1..]
                            .parse::<u32>()
                            .ok()
                            .and_then(char::from_u32)
                            .map(String::from)
                            .unwrap_or_default(),
                        other => return Err(xml_err(format!("unknown entity &{other};"))),
                    };
                    text_buf.push_str(&resolved);
                }
                Event::CData(t) => text_buf.push_str(&t),
                Event::End(_) => {
                    let Some((name, conditional)) = stack.pop() else {
                        continue;
                    };
                    let parent = stack.last().map(|(n, _)| n.as_str()).unwrap_or("");
                    let group_conditional = stack.iter().any(|(_, c)| *c);
                    if parent == "PropertyGroup" && !group_conditional && !conditional {
                        properties.insert(name.clone(), text_buf.trim().to_string());
                    } else if parent == "ItemGroup" {
                        if let Some(item) = current_item.take() {
                            items.push(item);
                        }
                    } else if let Some(item) = current_item.as_mut()
                        && stack.len() >= 2
                        && stack[stack.len() - 2].0 == "ItemGroup"
                    {
                        item.metadata
                            .insert(name.clone(), text_buf.trim().to_string());
                    }
                    text_buf.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(Project {
            path: path.to_path_buf(),
            dir: path.parent().unwrap_or(Path::new(".")).to_path_buf(),
            properties,
            items,
            sdk_style,
            msbuild_sdk_sqlproj: msbuild_sdk,
        })
    }

    /// A property (case-insensitive name).
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Items of a kind.
    pub fn items_of<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Item> + 'a {
        self.items.iter().filter(move |i| i.kind == kind)
    }

    /// Expands `$(Prop)` with project properties (and a few MSBuild ones) in an item path.
    pub fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find("$(") {
            out.push_str(&rest[..pos]);
            let after = &rest[pos + 2..];
            let Some(end) = after.find(')') else {
                out.push_str(&rest[pos..]);
                return out;
            };
            let name = &after[..end];
            let value = match name {
                "MSBuildProjectDirectory" | "MSBuildThisFileDirectory" => {
                    self.dir.display().to_string()
                }
                "MSBuildProjectName" => self
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                _ => self.property(name).unwrap_or("").to_string(),
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// Resolves the include patterns of items (`;` lists, wildcards) to files, sorted.
    pub fn resolve_items(&self, kinds: &[&str], what: &str) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for item in self
            .items
            .iter()
            .filter(|i| kinds.contains(&i.kind.as_str()))
        {
            let Some(include) = &item.include else {
                continue;
            };
            for pattern in self.expand(include).split(';') {
                let pattern = pattern.trim();
                if pattern.is_empty() {
                    continue;
                }
                if pattern.contains('*') || pattern.contains('?') {
                    // MSBuild expands a wildcard matching nothing to nothing; a folder that is
                    // not there is a mistake worth naming.
                    let (base, _) = split_pattern(pattern);
                    if !self.dir.join(&base).is_dir() {
                        return Err(Error::Project {
                            path: self.path.clone(),
                            message: format!(
                                "{what} item {pattern}: no folder {base} (from {})",
                                self.dir.display()
                            ),
                        });
                    }
                    out.extend(self.glob(&[pattern], &[])?);
                } else {
                    let path = resolve_path(&self.dir, pattern).ok_or_else(|| Error::Project {
                        path: self.path.clone(),
                        message: format!("{what} item not found: {pattern}"),
                    })?;
                    out.push(path);
                }
            }
        }
        Ok(out)
    }

    /// Removed patterns of items of the given kinds.
    pub fn removed(&self, kinds: &[&str]) -> Vec<String> {
        self.items
            .iter()
            .filter(|i| kinds.contains(&i.kind.as_str()))
            .filter_map(|i| i.remove.as_ref())
            .flat_map(|r| {
                self.expand(r)
                    .split(';')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// Files matching any include pattern and no exclude pattern, as MSBuild expands items:
    /// patterns are relative to the project folder with `\` or `/` separators, may leave it
    /// (`..\shared\*.sql`) or be absolute; `**` spans folders, `*` and `?` stay within a name.
    /// Exclude patterns match the same project-relative spelling (`../shared/old.sql`).
    pub fn glob(&self, include: &[&str], exclude: &[&str]) -> Result<Vec<PathBuf>> {
        let exc = self.glob_set(exclude)?;
        let mut out = Vec::new();
        for pattern in include {
            let (base, pattern) = split_pattern(pattern);
            let root = self.dir.join(&base);
            if !root.is_dir() {
                continue;
            }
            let inc = self.glob_set(&[pattern.as_str()])?;
            for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
                let entry = entry.map_err(|e| Error::Project {
                    path: root.clone(),
                    message: e.to_string(),
                })?;
                if !entry.file_type().is_file() {
                    continue;
                }
                let Ok(rel) = entry.path().strip_prefix(&root) else {
                    continue;
                };
                let rel = rel.to_string_lossy().replace('\\', "/");
                let spelled = if base.is_empty() {
                    rel
                } else {
                    format!("{}/{rel}", base.trim_end_matches('/'))
                };
                if inc.is_match(&spelled) && !exc.is_match(&spelled) {
                    out.push(entry.path().to_path_buf());
                }
            }
        }
        Ok(out)
    }

    fn glob_set(&self, patterns: &[&str]) -> Result<GlobSet> {
        let mut set = GlobSetBuilder::new();
        for p in patterns {
            let p = msbuild_glob(p);
            let glob = GlobBuilder::new(&p)
                .case_insensitive(true)
                .literal_separator(true)
                .build()
                .map_err(|e| Error::Project {
                    path: self.path.clone(),
                    message: format!("bad pattern {p}: {e}"),
                })?;
            set.add(glob);
        }
        set.build().map_err(|e| Error::Project {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }
}

/// A pattern's folder (its `/`-separated parts before the first wildcard, `""` for the project
/// folder itself) and the whole pattern, both with `/` separators and no leading `./`.
fn split_pattern(pattern: &str) -> (String, String) {
    let mut normal = pattern.replace('\\', "/");
    while let Some(rest) = normal.strip_prefix("./") {
        normal = rest.to_string();
    }
    let parts: Vec<&str> = normal.split('/').collect();
    let fixed = parts
        .iter()
        .take(parts.len().saturating_sub(1))
        .take_while(|part| !part.contains(['*', '?']))
        .count();
    let mut base = parts[..fixed].join("/");
    if base.is_empty() && normal.starts_with('/') {
        base = "/".into();
    }
    (base, normal)
}

/// An MSBuild wildcard as a glob: only `*`, `?` and `**` are special, so `[`, `{` and `}` in
/// a file name match themselves.
fn msbuild_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.replace('\\', "/").chars() {
        match c {
            '[' => out.push_str("[[]"),
            '{' => out.push_str("[{]"),
            '}' => out.push_str("[}]"),
            c => out.push(c),
        }
    }
    out
}

/// Reads a `.refactorlog` (same format as a package's refactor.xml).
pub fn read_refactor_log(path: &Path) -> Result<RefactorLog> {
    let text = crate::source::sqlcmd::read_source(path)?;
    let xml_err = |message: String| Error::Xml {
        path: path.to_path_buf(),
        part: "refactorlog".into(),
        message,
    };
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut log = RefactorLog::default();
    loop {
        match reader
            .read_event()
            .map_err(|e| xml_err(format!("at byte {}: {e}", reader.buffer_position())))?
        {
            Event::DocType(_) => return Err(xml_err("DTDs are not allowed".into())),
            Event::Start(e) | Event::Empty(e) => {
                let attr = |name: &str| -> Option<String> {
                    e.attributes().flatten().find_map(|a| {
                        (a.key.local_name().as_ref() == name)
                            .then(|| {
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .ok()
                                    .map(|v| v.into_owned())
                            })
                            .flatten()
                    })
                };
                match e.local_name().as_ref() {
                    "Operations" => log.version = attr("Version").unwrap_or_default(),
                    "Operation" => log.operations.push(RefactorOperation {
                        name: attr("Name").unwrap_or_default(),
                        key: attr("Key").unwrap_or_default(),
                        change_date_time: attr("ChangeDateTime"),
                        properties: Vec::new(),
                    }),
                    "Property" => {
                        let op = log
                            .operations
                            .last_mut()
                            .ok_or_else(|| xml_err("Property outside an Operation".into()))?;
                        op.properties.push((
                            attr("Name").unwrap_or_default(),
                            attr("Value").unwrap_or_default(),
                        ));
                    }
                    _ => {}
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_classic_and_sdk_projects() {
        let p = Project::parse(
            Path::new("/x/A.sqlproj"),
            r#"<?xml version="1.0"?>
<Project xmlns="http://schemas.microsoft.com/developer/msbuild/2003">
  <PropertyGroup>
    <Name>A&amp;B</Name>
    <DSP>Microsoft.Data.Tools.Schema.Sql.Sql140DatabaseSchemaProvider</DSP>
    <Empty />
  </PropertyGroup>
  <PropertyGroup Condition="'$(C)' == 'Release'"><OutputPath>bin\Release\</OutputPath></PropertyGroup>
  <ItemGroup>
    <Build Include="T\a.sql" />
    <SqlCmdVariable Include="Env"><DefaultValue>dev</DefaultValue><Value>$(SqlCmdVar__1)</Value></SqlCmdVariable>
    <None Include="x.sql" />
  </ItemGroup>
</Project>"#,
        )
        .unwrap();
        assert_eq!(p.property("name"), Some("A&B"));
        assert_eq!(p.property("Empty"), Some(""));
        assert!(p.property("OutputPath").is_none());
        assert!(!p.sdk_style);
        let kinds: Vec<_> = p.items.iter().map(|i| i.kind.as_str()).collect();
        assert_eq!(kinds, ["Build", "SqlCmdVariable", "None"]);
        assert_eq!(
            p.items[1].metadata.get("DefaultValue").map(String::as_str),
            Some("dev")
        );

        let p = Project::parse(
            Path::new("/x/B.sqlproj"),
            r#"<Project DefaultTargets="Build"><Sdk Name="Microsoft.Build.Sql" Version="1" /><ItemGroup><Build Remove="old.sql" /></ItemGroup></Project>"#,
        )
        .unwrap();
        assert!(p.sdk_style && !p.msbuild_sdk_sqlproj);
        assert_eq!(p.removed(&["Build"]), ["old.sql"]);

        let err = Project::parse(
            Path::new("/x/C.sqlproj"),
            r#"<!DOCTYPE x [<!ENTITY a "b">]><Project/>"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("DTD"), "{err}");
    }
}
