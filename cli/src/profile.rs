//! Publish profiles (`*.publish.xml`, as SSDT and SqlPackage write them): read into their
//! properties and SQLCMD variable values. What the properties mean for dac is decided where
//! the flags become options (`planning.rs`); this module only reads the file.

use std::path::Path;

use anyhow::{Context, Result, bail};
use quick_xml::events::Event;

/// A publish profile as written.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// The `PropertyGroup` properties, name and value (trimmed), in file order.
    pub properties: Vec<(String, String)>,
    /// The `SqlCmdVariable` items: `Include` and `Value`.
    pub variables: Vec<(String, String)>,
}

impl Profile {
    /// Reads the profile at `path`.
    pub fn load(path: &Path) -> Result<Profile> {
        let bytes =
            std::fs::read(path).with_context(|| format!("reading profile {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .with_context(|| format!("profile {}: not UTF-8", path.display()))?;
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        Self::parse(path, text).with_context(|| format!("profile {}", path.display()))
    }

    /// Parses profile XML: `Project` > `PropertyGroup` > properties, and `Project` >
    /// `ItemGroup` > `SqlCmdVariable Include=NAME` > `Value`. Conditions are refused (a
    /// profile has none; evaluating MSBuild conditions is not dac's business).
    pub fn parse(path: &Path, text: &str) -> Result<Profile> {
        let mut reader = quick_xml::Reader::from_str(text);
        let _ = path;
        let mut profile = Profile::default();
        // Element names from the root down, and the text of the innermost element.
        let mut stack: Vec<String> = Vec::new();
        let mut variable: Option<String> = None;
        let mut text_buf = String::new();
        loop {
            let event = reader
                .read_event()
                .map_err(|e| anyhow::anyhow!("at byte {}: {e}", reader.buffer_position()))?;
            match event {
                Event::DocType(_) => bail!("DTDs are not allowed in a publish profile"),
                Event::Start(ref e) | Event::Empty(ref e) => {
                    let name = e.local_name().as_ref().to_string();
                    let mut include = None;
                    for a in e.attributes() {
                        let a = a?;
                        let key = a.key.local_name().as_ref().to_string();
                        let value = a
                            .normalized_value(quick_xml::XmlVersion::Implicit1_0)?
                            .into_owned();
                        match key.as_str() {
                            "Condition" => {
                                bail!("<{name} Condition=...>: conditions are not supported")
                            }
                            "Include" => include = Some(value),
                            _ => {}
                        }
                    }
                    if stack.len() == 2 && stack[1] == "ItemGroup" && name == "SqlCmdVariable" {
                        let Some(include) = include else {
                            bail!("a SqlCmdVariable without Include");
                        };
                        profile.variables.push((include.clone(), String::new()));
                        variable = Some(include);
                    }
                    text_buf.clear();
                    if matches!(event, Event::Start(_)) {
                        stack.push(name);
                    } else {
                        end_element(&mut profile, &stack, &name, "", &mut variable);
                    }
                }
                Event::Text(t) => text_buf.push_str(&t.xml10_content()),
                Event::CData(t) => text_buf.push_str(&t),
                Event::GeneralRef(r) => {
                    let name = r.to_string();
                    let resolved = match name.as_str() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        n => n
                            .strip_prefix("#x")
                            .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                            .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                            .and_then(char::from_u32)
                            .with_context(|| format!("unknown entity &{n};"))?,
                    };
                    text_buf.push(resolved);
                }
                Event::End(_) => {
                    let Some(name) = stack.pop() else { continue };
                    let value = text_buf.trim().to_string();
                    end_element(&mut profile, &stack, &name, &value, &mut variable);
                    text_buf.clear();
                }
                Event::Eof => break,
                _ => {}
            }
        }
        if profile.properties.is_empty() && profile.variables.is_empty() {
            bail!("no properties: not a publish profile (a Project with a PropertyGroup)");
        }
        Ok(profile)
    }
}

/// Takes in the element `name` that just ended under `stack`, with its text `value`.
fn end_element(
    profile: &mut Profile,
    stack: &[String],
    name: &str,
    value: &str,
    variable: &mut Option<String>,
) {
    let parents: Vec<&str> = stack.iter().map(String::as_str).collect();
    match parents.as_slice() {
        ["Project", "PropertyGroup"] => {
            profile
                .properties
                .push((name.to_string(), value.to_string()));
        }
        ["Project", "ItemGroup", "SqlCmdVariable"] if name == "Value" => {
            if let (Some(current), Some(last)) = (variable.as_ref(), profile.variables.last_mut())
                && &last.0 == current
            {
                last.1 = value.to_string();
            }
        }
        ["Project", "ItemGroup"] if name == "SqlCmdVariable" => *variable = None,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::Profile;
    use std::path::Path;

    #[test]
    fn properties_and_variables() {
        let text = "\u{feff}<?xml version=\"1.0\"?><Project xmlns=\"http://schemas.microsoft.com/developer/msbuild/2003\">\
            <PropertyGroup><BlockOnPossibleDataLoss> False </BlockOnPossibleDataLoss>\
            <TargetConnectionString>a=b&amp;c</TargetConnectionString></PropertyGroup>\
            <ItemGroup><SqlCmdVariable Include=\"Env\"><Value>DEV</Value></SqlCmdVariable>\
            <SqlCmdVariable Include=\"Empty\" /></ItemGroup></Project>";
        let text = text.strip_prefix('\u{feff}').unwrap();
        let p = Profile::parse(Path::new("p.publish.xml"), text).unwrap();
        assert_eq!(
            p.properties,
            vec![
                ("BlockOnPossibleDataLoss".into(), "False".into()),
                ("TargetConnectionString".into(), "a=b&c".into()),
            ]
        );
        assert_eq!(
            p.variables,
            vec![
                ("Env".into(), "DEV".into()),
                ("Empty".into(), String::new())
            ]
        );
    }
}
