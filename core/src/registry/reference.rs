//! `docker://` references: `[HOST[:PORT]/]REPOSITORY[:TAG][@DIGEST]`, with
//! Docker Hub's short names normalised as skopeo does (`busybox` is
//! `docker.io/library/busybox:latest`).

use alloc::string::{String, ToString};
use core::fmt;

use crate::digest::Digest;

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host Docker Hub's API actually answers on.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerReference {
    /// `host[:port]`, `docker.io` for Docker Hub.
    pub registry: String,
    /// The repository path, `library/busybox` for Hub's official images.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

/// Why a reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceError {
    pub input: String,
    pub reason: String,
}

impl fmt::Display for ReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid image reference {:?}: {}",
            self.input, self.reason
        )
    }
}

impl core::error::Error for ReferenceError {}

impl DockerReference {
    /// Parses what follows `docker://`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let error = |reason: &str| ReferenceError {
            input: input.to_string(),
            reason: reason.to_string(),
        };
        if input.is_empty() {
            return Err(error("empty reference"));
        }
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((n, d)) => (
                n,
                Some(Digest::parse(d).map_err(|e| error(&e.to_string()))?),
            ),
            None => (input, None),
        };
        // A tag follows the last colon after the last slash.
        let last_slash = name_and_tag.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name_and_tag[last_slash..].rfind(':') {
            Some(i) => (
                &name_and_tag[..last_slash + i],
                Some(&name_and_tag[last_slash + i + 1..]),
            ),
            None => (name_and_tag, None),
        };
        if let Some(tag) = tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !valid {
                return Err(error(
                    "a tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
                ));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            alloc::format!("library/{repository}")
        } else {
            repository
        };
        let valid_component = |c: &str| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && c.chars()
                    .next()
                    .is_some_and(|ch| ch.is_ascii_alphanumeric())
                && c.chars()
                    .last()
                    .is_some_and(|ch| ch.is_ascii_alphanumeric())
        };
        if !repository.split('/').all(valid_component) {
            return Err(error(
                "repository path components are lowercase letters, digits and separators (. _ -)",
            ));
        }
        if registry
            .chars()
            .any(|c| !(c.is_ascii_alphanumeric() || ".-:[]".contains(c)))
        {
            return Err(error("invalid registry host"));
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(DockerReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The host to talk to (Docker Hub's API lives elsewhere).
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What to put after `/manifests/`: the digest when there is one, else
    /// the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> DockerReference {
        DockerReference::parse(s).unwrap()
    }

    #[test]
    fn short_names_mean_docker_hub_library_latest() {
        let r = parse("busybox");
        assert_eq!(r.to_string(), "docker.io/library/busybox:latest");
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(parse("user/app:1").to_string(), "docker.io/user/app:1");
    }

    #[test]
    fn a_first_component_with_a_dot_colon_or_localhost_is_a_host() {
        let r = parse("127.0.0.1:5000/ns/app:v1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", "ns/app", Some("v1"))
        );
        assert_eq!(parse("localhost/app").registry, "localhost");
        assert_eq!(parse("quay.io/org/app").repository, "org/app");
    }

    #[test]
    fn digests_replace_the_default_tag() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = parse(&alloc::format!("quay.io/app@{d}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.manifest_reference(), d);
        let r = parse(&alloc::format!("quay.io/app:v1@{d}"));
        assert_eq!(r.tag.as_deref(), Some("v1"));
        assert_eq!(r.manifest_reference(), d);
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            "UPPER/case",
            "app:",
            "app:-x",
            "app@sha256:zz",
            "a//b",
            "host:5000/",
        ] {
            assert!(DockerReference::parse(bad).is_err(), "{bad}");
        }
    }
}
