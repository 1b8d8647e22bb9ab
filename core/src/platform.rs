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

/// Why a `--platform` string is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpecError {
    pub input: String,
}

impl fmt::Display for PlatformSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid platform {}: expected os/architecture[/variant], e.g. linux/arm64 or linux/arm/v7",
            crate::Quoted(&self.input)
        )
    }
}

impl core::error::Error for PlatformSpecError {}

impl core::str::FromStr for Platform {
    type Err = PlatformSpecError;

    /// Parses `os/architecture[/variant]`, as `--platform` flags spell it.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let valid = matches!(parts.len(), 2 | 3)
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
            });
        if !valid {
            return Err(PlatformSpecError { input: s.into() });
        }
        Ok(Platform::new(
            parts[0],
            parts[1],
            parts.get(2).copied().unwrap_or(""),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn parses_os_arch_and_optional_variant() {
        assert_eq!(
            "linux/arm/v7".parse::<Platform>().unwrap(),
            Platform::new("linux", "arm", "v7")
        );
        assert_eq!(
            "linux/amd64".parse::<Platform>().unwrap().to_string(),
            "linux/amd64"
        );
    }

    #[test]
    fn rejects_malformed_platforms() {
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/amd 64", ""] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }
}
