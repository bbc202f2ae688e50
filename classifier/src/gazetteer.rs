//! Kalbar places, destinations abroad and Kalbar-audience markers (`seeds/gazetteer.toml`).

use serde::{Deserialize, Serialize};

use crate::rules::{Location, RuleError, RuleSource};

/// The parsed gazetteer file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gazetteer {
    /// Words that say a post speaks to people in Kalbar ("warga kalbar", "kamek").
    #[serde(default)]
    pub audience: Vec<String>,
    /// Kalbar landline area codes without the trunk 0 (`562`): a phone number with one is a
    /// Kalbar-local contact.
    #[serde(default)]
    pub area_codes: Vec<String>,
    #[serde(default)]
    pub place: Vec<Place>,
    #[serde(default)]
    pub destination: Vec<Destination>,
}

/// A place in West Kalimantan.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    pub name: String,
    /// `kabupaten`, `kota`, `kecamatan`, `border_post`, `transit`, …
    pub kind: String,
    /// The regency or city it belongs to, for charts per regency.
    pub regency: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// A destination abroad.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    pub name: String,
    /// ISO 3166-1 alpha-2 code.
    pub country: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub note: Option<String>,
}

impl Gazetteer {
    /// Parses the gazetteer file; errors name the file and line.
    pub fn parse(source: &RuleSource) -> Result<Gazetteer, RuleError> {
        toml::from_str(&source.text).map_err(|e| RuleError {
            location: Location {
                file: source.name.clone(),
                line: e
                    .span()
                    .map(|s| source.text[..s.start].matches('\n').count() + 1),
                rule: None,
            },
            message: e.message().trim().to_string(),
        })
    }
}
