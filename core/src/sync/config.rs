//! The YAML source of `ferry sync --src yaml`, as skopeo sync reads it:
//!
//! ```yaml
//! registry.example.com:
//!   images:
//!     busybox: []                 # every tag
//!     redis: ["1.0", "sha256:…"]  # these tags and digests
//!   images-by-tag-regex:
//!     nginx: ^1\.2[0-9]\.
//!   images-by-semver:
//!     alpine: ">= 3.18, < 4"
//!   credentials: {username: u, password: p}
//!   tls-verify: false
//!   cert-dir: /etc/certs
//! ```
//!
//! The native side parses the YAML into a [`Node`] tree that keeps each
//! node's line; this module gives it meaning, and every refusal names the
//! line. Where skopeo logs a bad entry and skips it, ferry refuses the
//! file: a mirror that silently leaves an image out is worse than one
//! that does not start. Unknown keys are refused for the same reason (a
//! misspelt `image:` would sync nothing).

use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::semver::{Constraint, ConstraintError};
use super::{MAX_IMAGES, TagFilter, TagRegex};
use crate::Digest;
use crate::reference::{Named, ReferenceError};

/// The most nodes a source file may have; the YAML reader stops there,
/// so a file of a million tags is refused before it fills memory.
pub const MAX_NODES: usize = 4 * MAX_IMAGES;
/// The largest source file read.
pub const MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// A YAML node and the line (1-based) it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A scalar's text as written (without quotes).
    Scalar {
        value: String,
        line: usize,
    },
    /// An empty value, `~` or `null`.
    Null {
        line: usize,
    },
    Sequence {
        items: Vec<Node>,
        line: usize,
    },
    /// Entries in file order.
    Mapping {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
}

impl Node {
    pub fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. }
            | Node::Null { line }
            | Node::Sequence { line, .. }
            | Node::Mapping { line, .. } => *line,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a string",
            Node::Null { .. } => "nothing",
            Node::Sequence { .. } => "a list",
            Node::Mapping { .. } => "a mapping",
        }
    }
}

/// Why a source file is refused, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub line: usize,
    pub kind: ConfigErrorKind,
}

/// What is wrong at that line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// A value has the wrong shape (`what` names the key).
    Expected {
        what: String,
        expected: &'static str,
        found: &'static str,
    },
    /// A key skopeo does not know.
    UnknownKey { key: String },
    /// A key given twice in one mapping (Go's YAML reader refuses it too).
    DuplicateKey { key: String },
    /// `tls-verify` is not a boolean.
    NotABool { value: String },
    /// `REGISTRY/REPOSITORY` is not a repository name.
    Repository { name: String, error: ReferenceError },
    /// A tag or digest of `images` does not make a reference.
    Reference {
        reference: String,
        error: ReferenceError,
    },
    /// An `images-by-tag-regex` pattern is refused.
    Regex { pattern: String, reason: String },
    /// An `images-by-semver` constraint is refused.
    Semver {
        constraint: String,
        error: ConstraintError,
    },
    /// More tags and digests than [`MAX_IMAGES`].
    TooManyReferences { limit: usize },
    /// More nodes than [`MAX_NODES`] (for the YAML reader).
    TooManyNodes { limit: usize },
    /// The YAML does not parse (for the YAML reader).
    Syntax { reason: String },
    /// A construct the source format has no use for (aliases, tags).
    Unsupported { what: String },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: ", self.line)?;
        match &self.kind {
            ConfigErrorKind::Expected {
                what,
                expected,
                found,
            } => write!(f, "{what}: expected {expected}, found {found}"),
            ConfigErrorKind::UnknownKey { key } => write!(
                f,
                "unknown key {key} (known: images, images-by-tag-regex, images-by-semver, credentials, tls-verify, cert-dir)",
                key = crate::Quoted(key)
            ),
            ConfigErrorKind::DuplicateKey { key } => {
                write!(f, "key {key} is given twice", key = crate::Quoted(key))
            }
            ConfigErrorKind::NotABool { value } => {
                write!(
                    f,
                    "tls-verify: {value} is not true or false",
                    value = crate::Quoted(value)
                )
            }
            ConfigErrorKind::Repository { name, error } => {
                write!(
                    f,
                    "{name} is not a repository: {error}",
                    name = crate::Quoted(name)
                )
            }
            ConfigErrorKind::Reference { reference, error } => {
                write!(
                    f,
                    "{reference} is neither a tag nor a digest: {error}",
                    reference = crate::Quoted(reference)
                )
            }
            ConfigErrorKind::Regex { pattern, reason } => {
                write!(
                    f,
                    "tag regex {pattern}: {reason}",
                    pattern = crate::Quoted(pattern)
                )
            }
            ConfigErrorKind::Semver { constraint, error } => {
                write!(
                    f,
                    "semver constraint {constraint}: {error}",
                    constraint = crate::Quoted(constraint)
                )
            }
            ConfigErrorKind::TooManyReferences { limit } => write!(
                f,
                "more than {limit} tags and digests; split the file and run sync once per part"
            ),
            ConfigErrorKind::TooManyNodes { limit } => write!(
                f,
                "more than {limit} YAML nodes; split the file and run sync once per part"
            ),
            ConfigErrorKind::Syntax { reason } => write!(f, "not YAML: {reason}"),
            ConfigErrorKind::Unsupported { what } => {
                write!(f, "{what} is not supported in a sync source")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// A whole source file: one entry per registry, in file order.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    pub registries: Vec<RegistryConfig>,
}

/// One registry's entry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// The key: `host[:port]`, possibly with a path prefix.
    pub name: String,
    pub line: usize,
    pub repositories: Vec<Repository>,
    /// `credentials`: user name and password for this registry.
    pub credentials: Option<(String, String)>,
    /// `tls-verify`, when given (otherwise the command line decides).
    pub tls_verify: Option<bool>,
    /// `cert-dir`, when given.
    pub cert_dir: Option<String>,
}

/// One repository and what to take from it.
#[derive(Debug, Clone)]
pub struct Repository {
    /// A name-only reference (`host/path`).
    pub name: Named,
    pub line: usize,
    pub wanted: Wanted,
}

/// Which images of a repository.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// These tagged or digested references.
    References(Vec<Named>),
    /// The repository's tags that this filter selects.
    Tags(TagFilter),
}

fn error(line: usize, kind: ConfigErrorKind) -> ConfigError {
    ConfigError { line, kind }
}

fn expected(node: &Node, what: &str, expected: &'static str) -> ConfigError {
    error(
        node.line(),
        ConfigErrorKind::Expected {
            what: what.to_string(),
            expected,
            found: node.kind(),
        },
    )
}

/// A mapping's entries with string keys, refusing duplicates.
/// Each entry: its key, the key's line, its value.
fn entries<'a>(node: &'a Node, what: &str) -> Result<Vec<(&'a str, usize, &'a Node)>, ConfigError> {
    let list = match node {
        Node::Mapping { entries, .. } => entries,
        // `registry:` with nothing below: no images.
        Node::Null { .. } => return Ok(Vec::new()),
        other => return Err(expected(other, what, "a mapping")),
    };
    let mut out: Vec<(&str, usize, &Node)> = Vec::with_capacity(list.len());
    for (key, value) in list {
        let Node::Scalar { value: k, line } = key else {
            return Err(expected(key, what, "a string key"));
        };
        if out.iter().any(|(seen, _, _)| seen == k) {
            return Err(error(
                *line,
                ConfigErrorKind::DuplicateKey { key: k.clone() },
            ));
        }
        out.push((k, *line, value));
    }
    Ok(out)
}

fn scalar<'a>(node: &'a Node, what: &str) -> Result<&'a str, ConfigError> {
    match node {
        Node::Scalar { value, .. } => Ok(value),
        other => Err(expected(other, what, "a string")),
    }
}

impl SourceConfig {
    /// Reads the document's root node.
    pub fn from_node(root: &Node) -> Result<SourceConfig, ConfigError> {
        let mut registries = Vec::new();
        let mut references = 0usize;
        for (name, _, body) in entries(root, "the sync source")? {
            registries.push(registry(name, body, &mut references)?);
        }
        Ok(SourceConfig { registries })
    }
}

fn registry(name: &str, body: &Node, count: &mut usize) -> Result<RegistryConfig, ConfigError> {
    let mut config = RegistryConfig {
        name: name.to_string(),
        line: body.line(),
        repositories: Vec::new(),
        credentials: None,
        tls_verify: None,
        cert_dir: None,
    };
    for (key, key_line, value) in entries(body, name)? {
        match key {
            "images" => {
                for (repo, _, refs) in entries(value, "images")? {
                    let repository = repository_name(name, repo, refs.line())?;
                    let wanted = match refs {
                        Node::Null { .. } => Wanted::Tags(TagFilter::All),
                        Node::Sequence { items, .. } if items.is_empty() => {
                            Wanted::Tags(TagFilter::All)
                        }
                        Node::Sequence { items, .. } => {
                            let mut named = Vec::with_capacity(items.len());
                            for item in items {
                                *count += 1;
                                if *count > MAX_IMAGES {
                                    return Err(error(
                                        item.line(),
                                        ConfigErrorKind::TooManyReferences { limit: MAX_IMAGES },
                                    ));
                                }
                                let text = scalar(item, repo)?;
                                named.push(image_reference(&repository, text, item.line())?);
                            }
                            Wanted::References(named)
                        }
                        other => return Err(expected(other, repo, "a list of tags and digests")),
                    };
                    config.repositories.push(Repository {
                        name: repository,
                        line: refs.line(),
                        wanted,
                    });
                }
            }
            "images-by-tag-regex" => {
                for (repo, _, pattern) in entries(value, key)? {
                    let repository = repository_name(name, repo, pattern.line())?;
                    let text = scalar(pattern, repo)?;
                    let regex = TagRegex::new(text).map_err(|reason| {
                        error(
                            pattern.line(),
                            ConfigErrorKind::Regex {
                                pattern: text.to_string(),
                                reason,
                            },
                        )
                    })?;
                    config.repositories.push(Repository {
                        name: repository,
                        line: pattern.line(),
                        wanted: Wanted::Tags(TagFilter::Regex(Box::new(regex))),
                    });
                }
            }
            "images-by-semver" => {
                for (repo, _, constraint) in entries(value, key)? {
                    let repository = repository_name(name, repo, constraint.line())?;
                    let text = scalar(constraint, repo)?;
                    let parsed = Constraint::parse(text).map_err(|e| {
                        error(
                            constraint.line(),
                            ConfigErrorKind::Semver {
                                constraint: text.to_string(),
                                error: e,
                            },
                        )
                    })?;
                    config.repositories.push(Repository {
                        name: repository,
                        line: constraint.line(),
                        wanted: Wanted::Tags(TagFilter::Semver(parsed)),
                    });
                }
            }
            "credentials" => {
                let (mut user, mut password) = (String::new(), String::new());
                for (k, k_line, v) in entries(value, key)? {
                    match k {
                        "username" => user = scalar(v, k)?.to_string(),
                        "password" => password = scalar(v, k)?.to_string(),
                        other => {
                            return Err(error(
                                k_line,
                                ConfigErrorKind::UnknownKey {
                                    key: alloc::format!("credentials.{other}"),
                                },
                            ));
                        }
                    }
                }
                if !user.is_empty() || !password.is_empty() {
                    config.credentials = Some((user, password));
                }
            }
            "tls-verify" => {
                let text = scalar(value, key)?;
                config.tls_verify = Some(yaml_bool(text).ok_or_else(|| {
                    error(
                        value.line(),
                        ConfigErrorKind::NotABool {
                            value: text.to_string(),
                        },
                    )
                })?);
            }
            "cert-dir" => config.cert_dir = Some(scalar(value, key)?.to_string()),
            other => {
                return Err(error(
                    key_line,
                    ConfigErrorKind::UnknownKey {
                        key: other.to_string(),
                    },
                ));
            }
        }
    }
    Ok(config)
}

/// The booleans Go's YAML reader takes for a bool field.
fn yaml_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => Some(true),
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => Some(false),
        _ => None,
    }
}

/// `REGISTRY/REPOSITORY`, normalised as skopeo's
/// `ParseNormalizedNamed`, which must name a repository, not an image.
fn repository_name(registry: &str, repo: &str, line: usize) -> Result<Named, ConfigError> {
    let name = alloc::format!("{registry}/{repo}");
    let refused = |e: ReferenceError| {
        error(
            line,
            ConfigErrorKind::Repository {
                name: name.clone(),
                error: e,
            },
        )
    };
    let named = Named::parse_normalized(&name).map_err(refused)?;
    if !named.is_name_only() {
        return Err(refused(ReferenceError::InvalidFormat {
            input: name.clone(),
        }));
    }
    Ok(named)
}

/// An `images` entry: a digest if it parses as one, else a tag, as
/// skopeo tries them.
fn image_reference(repository: &Named, text: &str, line: usize) -> Result<Named, ConfigError> {
    let refused = |e: ReferenceError| {
        error(
            line,
            ConfigErrorKind::Reference {
                reference: text.to_string(),
                error: e,
            },
        )
    };
    if let Ok(digest) = Digest::parse(text) {
        return Named::parse_normalized(&alloc::format!("{}@{digest}", repository.name()))
            .map_err(refused);
    }
    repository.clone().with_tag(text).map_err(refused)
}
