//! Editing rule files as text, keeping the analysts' comments and layout: a candidate rule set
//! gets its new version written into its `[ruleset]` table, so the files stored on activation
//! always name the version they run under.

use toml_edit::{DocumentMut, Item, Value};

use crate::rules::RuleSource;

/// `sources` with `version` written into the `[ruleset]` table (comments, order and the value's
/// trailing comment kept). Files that are not valid TOML, or that have no `[ruleset]` table, are
/// returned unchanged: [`crate::RulePack::parse`] then reports what is wrong with them, with
/// file and line.
pub fn with_version(sources: &[RuleSource], version: &str) -> Vec<RuleSource> {
    sources
        .iter()
        .map(|source| {
            let Ok(mut doc) = source.text.parse::<DocumentMut>() else {
                return source.clone();
            };
            let Some(table) = doc.get_mut("ruleset").and_then(Item::as_table_like_mut) else {
                return source.clone();
            };
            match table.get_mut("version").and_then(Item::as_value_mut) {
                Some(value) => {
                    let decor = value.decor().clone();
                    *value = Value::from(version);
                    *value.decor_mut() = decor;
                }
                None => {
                    table.insert("version", toml_edit::value(version));
                }
            }
            RuleSource::new(source.name.clone(), doc.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RulePack;

    #[test]
    fn writes_the_version_and_keeps_comments() {
        let ruleset = "# the pack\n[ruleset]\nversion = \"1\"   # recorded on verdicts\nflag_threshold = 0.5\n[ruleset.levels]\nlow = 0.2\nmedium = 0.5\nhigh = 0.75\n";
        let other = "[[indicator]]\nid = \"route.x\"\ncategory = \"route\"\nstatus = \"active\"\nweight = 0.4\ndescription = \"x\"\nkeywords = [\"version\"]\n";
        let out = with_version(
            &[
                RuleSource::new("ruleset.toml", ruleset),
                RuleSource::new("route.toml", other),
            ],
            "2",
        );
        assert_eq!(
            out[0].text,
            ruleset.replace("version = \"1\"", "version = \"2\"")
        );
        assert_eq!(out[1].text, other);
        assert_eq!(RulePack::parse(&out).unwrap().version, "2");
    }

    #[test]
    fn adds_a_missing_version_and_leaves_broken_files_to_the_parser() {
        let inline = "ruleset = { flag_threshold = 0.5, levels = { low = 0.2, medium = 0.5, high = 0.7 } }\n";
        let out = with_version(&[RuleSource::new("r.toml", inline)], "3");
        assert_eq!(RulePack::parse(&out).unwrap().version, "3");
        let broken = [RuleSource::new("r.toml", "[ruleset\nversion = 1")];
        assert_eq!(with_version(&broken, "3")[0].text, broken[0].text);
    }
}
