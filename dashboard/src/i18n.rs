//! Message catalogues: every word the dashboard shows comes from `i18n/<locale>.toml`.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The dashboard's languages; Bahasa Indonesia is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Id,
    En,
}

impl Locale {
    pub fn code(self) -> &'static str {
        match self {
            Locale::Id => "id",
            Locale::En => "en",
        }
    }

    pub fn parse(code: &str) -> Option<Locale> {
        match code {
            "id" => Some(Locale::Id),
            "en" => Some(Locale::En),
            _ => None,
        }
    }

    pub fn other(self) -> Locale {
        match self {
            Locale::Id => Locale::En,
            Locale::En => Locale::Id,
        }
    }

    /// The catalogue for this locale.
    pub fn messages(self) -> &'static Messages {
        match self {
            Locale::Id => &ID,
            Locale::En => &EN,
        }
    }
}

/// One locale's messages.
#[derive(Debug)]
pub struct Messages {
    locale: Locale,
    map: HashMap<String, String>,
}

impl Messages {
    fn load(locale: Locale, text: &str) -> Messages {
        let map = toml::from_str(text)
            .expect("the bundled message catalogue is valid TOML (checked by tests)");
        Messages { locale, map }
    }

    /// The message for `key`; the key itself if it is missing (tests keep catalogues complete).
    pub fn get<'a>(&'a self, key: &'a str) -> &'a str {
        self.map.get(key).map_or(key, String::as_str)
    }

    /// The message for `key` if the catalogue has one: for keys made from data (a country code),
    /// where the caller shows the data itself when there is no message.
    pub fn lookup(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(String::as_str)
    }

    /// Like `get`, for callers that keep the text beyond the key's lifetime.
    pub fn get_owned(&'static self, key: &str) -> &'static str {
        self.map.get(key).map_or("?", String::as_str)
    }

    pub fn locale(&self) -> Locale {
        self.locale
    }
}

static ID: LazyLock<Messages> =
    LazyLock::new(|| Messages::load(Locale::Id, include_str!("../i18n/id.toml")));
static EN: LazyLock<Messages> =
    LazyLock::new(|| Messages::load(Locale::En, include_str!("../i18n/en.toml")));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogues_have_the_same_keys() {
        let mut id: Vec<_> = ID.map.keys().collect();
        let mut en: Vec<_> = EN.map.keys().collect();
        id.sort();
        en.sort();
        assert_eq!(id, en);
        assert_eq!(Locale::Id.messages().get("nav.search"), "Cari");
        assert_eq!(Locale::En.messages().get("nav.search"), "Search");
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let sources = [
            include_str!("../templates/base.html"),
            include_str!("../templates/login.html"),
            include_str!("../templates/search.html"),
            include_str!("../templates/lead.html"),
            include_str!("../templates/error.html"),
            include_str!("../templates/audit.html"),
            include_str!("../templates/users.html"),
            include_str!("../templates/operator.html"),
            include_str!("../templates/stats.html"),
            include_str!("../templates/verdict_badges.html"),
            include_str!("../templates/verdict_indicators.html"),
            include_str!("../templates/marked_text.html"),
            include_str!("../templates/rules_nav.html"),
            include_str!("../templates/rules.html"),
            include_str!("../templates/rules_playground.html"),
            include_str!("../templates/rules_eval.html"),
            include_str!("../templates/rules_candidate.html"),
            include_str!("analyst.rs"),
            include_str!("pages.rs"),
            include_str!("bulk.rs"),
            include_str!("auth.rs"),
            include_str!("error.rs"),
            include_str!("admin.rs"),
            include_str!("operator.rs"),
            include_str!("charts.rs"),
            include_str!("leads.rs"),
            include_str!("export.rs"),
            include_str!("api.rs"),
        ];
        // Keys looked up directly and named by errors (`key: "…"`) anywhere, and the keys
        // error.rs maps errors to (`=> "…"`, a pattern too loose for the other files).
        let scanners = [regex_lite(r#"t.get("#), regex_lite("key: ")];
        let mapped = regex_lite("=> ")(include_str!("error.rs"));
        for key in mapped
            .iter()
            .filter(|k| k.contains('.') && !k.contains(' '))
        {
            assert!(ID.map.contains_key(key), "missing key {key:?} in id.toml");
        }
        for src in sources {
            for key in scanners.iter().flat_map(|re| re(src)) {
                // Message keys are dotted and have no spaces; other strings are not keys.
                if key.contains('.') && !key.contains(' ') {
                    assert!(ID.map.contains_key(&key), "missing key {key:?} in id.toml");
                }
            }
        }
    }

    /// Keys in `t.get("…")` calls (a tiny scanner, to avoid a regex dependency for one test).
    fn regex_lite(prefix: &'static str) -> impl Fn(&str) -> Vec<String> {
        move |src: &str| {
            src.match_indices(prefix)
                .filter_map(|(i, _)| {
                    let rest = &src[i + prefix.len()..];
                    let rest = rest.strip_prefix('"')?;
                    Some(rest[..rest.find('"')?].to_string())
                })
                .collect()
        }
    }
}
