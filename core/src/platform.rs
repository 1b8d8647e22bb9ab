//! Platforms: which operating system and CPU an image runs on.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::json::{Fields, TypeError};

/// A platform as manifest lists and OCI indexes describe it.
///
/// One type serves both formats: Docker lists carry `features` (unused in
/// practice), OCI indexes do not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
}

impl Platform {
    /// A platform from its three common parts.
    pub fn new(os: &str, architecture: &str, variant: &str) -> Self {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.into(),
            ..Platform::default()
        }
    }

    /// Reads a platform object with Go's rules. `docker` says whether the
    /// Docker list form (with `features`) is meant.
    pub(crate) fn decode(fields: Fields<'_>, docker: bool) -> Result<Self, TypeError> {
        Ok(Platform {
            architecture: fields.string("architecture")?,
            os: fields.string("os")?,
            os_version: fields.string("os.version")?,
            os_features: fields.strings("os.features")?,
            variant: fields.string("variant")?,
            features: if docker {
                fields.strings("features")?
            } else {
                Vec::new()
            },
        })
    }
}

/// `os/architecture[/variant]`, as `--platform` flags spell it.
impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if !self.variant.is_empty() {
            write!(f, "/{}", self.variant)?;
        }
        Ok(())
    }
}
