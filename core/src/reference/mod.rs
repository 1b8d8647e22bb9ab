//! Docker image references: `[DOMAIN/]PATH[:TAG][@DIGEST]`, the one
//! grammar every transport and the inspector share.
//!
//! The grammar and its normalisation are those of Docker's reference
//! package (`github.com/distribution/reference`) as containers/image 5.23
//! carries it (`docker/reference`, behind skopeo 1.9.3):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] path-component { "/" path-component }   at most 255 characters
//! domain     := host [ ":" port ]
//! host       := label { "." label } | "[" ipv6 "]"
//! label      := [a-zA-Z0-9] | [a-zA-Z0-9] [a-zA-Z0-9-]* [a-zA-Z0-9]
//! path-component := [a-z0-9]+ { separator [a-z0-9]+ }      separator := "." | "_" | "__" | "-"+
//! tag        := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
//! digest     := algorithm ":" hex{32,}, then a Digest ferry accepts (sha256, sha512)
//! ```
//!
//! [`Named::parse_normalized`] is `ParseNormalizedNamed`, what people type:
//! a first component is a domain only if it is `localhost` or has a `.`
//! or `:`; otherwise the domain is `docker.io`, where a one-component path
//! gains `library/`; `index.docker.io` is `docker.io`. So `busybox` is
//! `docker.io/library/busybox`. [`Named::parse`] is `Parse`, which reads
//! the text as written (no default domain). [`transport`] holds what each
//! transport makes of its reference text (`docker://`, `docker-archive:`,
//! `oci:`'s `PATH[:NAME|:@N]`).
//!
//! Two departures from containers/image 5.23, both from later
//! `distribution/reference` releases: bracketed IPv6 hosts
//! (`[::1]:5000/repo`) are domains, and ferry-core's [`Digest`] decides
//! which digests exist (sha256 and sha512, as c/image registers). Still
//! as in 5.23, and unlike later releases: the 255-character limit counts
//! the domain too, and an upper-case first component (`Foo/bar`) is a
//! repository path that must be lower case, not a host.
//!
//! Errors are distribution's error kinds, naming the input. Where Go
//! lower-cases with Unicode rules to tell "contains upper case" from
//! "invalid format", ferry lower-cases ASCII only: for the few non-ASCII
//! letters Go folds into ASCII (the Kelvin sign), both refuse the input
//! but give different kinds.

pub mod storage;
pub mod transport;

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use crate::digest::{Digest, DigestError, truncate_for_error};

/// The domain of Docker Hub in references.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's historical name, normalised to [`DEFAULT_DOMAIN`].
pub const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of Docker Hub's official images (`busybox` is
/// `library/busybox`).
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// The tag a reference without tag or digest stands for.
pub const DEFAULT_TAG: &str = "latest";
/// The longest name (domain and path) a reference may have.
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A named reference: a domain (empty only for [`Named::parse`] of a
/// name without one), a repository path, an optional tag and an optional
/// digest. Holding one proves every part matched the grammar.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Named {
    // Invariant: `name` is `domain/path`, or `path` when `domain_len` is 0.
    name: String,
    domain_len: usize,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a reference does not parse: distribution's error kinds, then the
/// rules transports add ([`transport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    /// `ErrNameEmpty`: [`Named::parse`] of the empty string.
    NameEmpty,
    /// `ErrReferenceInvalidFormat`: the text does not match the grammar.
    InvalidFormat { input: String },
    /// `ErrNameContainsUppercase`: the repository path has upper-case
    /// letters (the text would parse in lower case).
    NameContainsUppercase { input: String },
    /// `ErrNameTooLong`: domain and path together are longer than
    /// [`NAME_TOTAL_LENGTH_MAX`].
    NameTooLong { input: String, length: usize },
    /// `ErrNameNotCanonical`: [`Named::parse_canonical`] of a name that
    /// normalises to something else.
    NameNotCanonical { input: String, canonical: String },
    /// 64 lowercase hex characters, which Docker reads as an image ID,
    /// given where a name is expected.
    ImageId { input: String },
    /// `ErrTagInvalidFormat`: a tag given on its own ([`Named::with_tag`])
    /// does not match the tag grammar.
    InvalidTag { tag: String },
    /// The digest has the grammar's shape but is not one ferry accepts
    /// (go-digest's errors: unknown algorithm, wrong length, not hex).
    InvalidDigest { input: String, error: DigestError },
    /// `docker-archive:` names images by tag, and a digest was given.
    DigestNotAllowed { input: String },
    /// `PATH[:…]` with nothing before the first colon.
    EmptyPath { input: String },
    /// `PATH:@N` where `N` is not an image number; `selector` is `@N`.
    InvalidIndex { selector: String },
    /// An `oci:` or `oci-archive:` image name that is not an OCI
    /// reference name.
    InvalidImageName { name: String },
    /// A `docker-daemon:` image ID with another algorithm than sha256,
    /// the only one the daemon names images by.
    DaemonIdAlgorithm { input: String },
    /// A `docker-daemon:` name whose repository is `sha256`, which
    /// containers/image keeps for image IDs (`sha256:<64 hex>`).
    DaemonReservedName { input: String },
    /// A `docker-daemon:` name with neither tag nor digest, which the
    /// daemon would read as every tag of the repository.
    DaemonNameOnly { input: String },
    /// A `docker-daemon:` name with a tag and a digest.
    DaemonTagAndDigest { input: String },
    /// A `docker-daemon:` destination that is not `NAME:TAG` (an image ID
    /// or a digest): `docker load` can only tag.
    DaemonDestinationNotTagged { input: String },
}

impl fmt::Display for ReferenceError {
    /// Most messages are the input quoted and text, written by
    /// [`crate::write_quoted`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (before, quoted, after) = match self {
            ReferenceError::NameEmpty => {
                return f.write_str("\"\": repository name must have at least one component");
            }
            ReferenceError::InvalidFormat { input } => ("", input, ": invalid reference format"),
            ReferenceError::NameContainsUppercase { input } => (
                "",
                input,
                ": invalid reference format: repository name must be lowercase",
            ),
            ReferenceError::NameTooLong { input, length } => {
                return write!(
                    f,
                    "{input}: repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters (it has {length})",
                    input = crate::Quoted(input)
                );
            }
            ReferenceError::NameNotCanonical { input, canonical } => {
                return write!(
                    f,
                    "{input}: repository name must be canonical ({canonical})",
                    input = crate::Quoted(input),
                    canonical = crate::Quoted(canonical)
                );
            }
            ReferenceError::ImageId { input } => (
                "",
                input,
                ": invalid repository name, cannot specify 64-byte hexadecimal strings (an image ID)",
            ),
            ReferenceError::InvalidTag { tag } => (
                "",
                tag,
                ": invalid tag format (letters, digits, _ . -, not starting with . or -, at most 128)",
            ),
            ReferenceError::InvalidDigest { input, error } => {
                return write!(f, "{input}: {error}", input = crate::Quoted(input));
            }
            ReferenceError::DigestNotAllowed { input } => (
                "",
                input,
                ": docker-archive names images by tag, not by digest",
            ),
            ReferenceError::EmptyPath { input } => {
                ("", input, ": the path before the first colon is empty")
            }
            ReferenceError::InvalidIndex { selector } => {
                ("", selector, " is not @ followed by an image number")
            }
            ReferenceError::InvalidImageName { name } => (
                "invalid image name ",
                name,
                ": components of letters and digits joined by one of - . _ : @ + or by --, separated by /",
            ),
            ReferenceError::DaemonIdAlgorithm { input } => (
                "invalid docker-daemon: reference ",
                input,
                ": only digest algorithm sha256 accepted",
            ),
            ReferenceError::DaemonReservedName { input } => (
                "invalid docker-daemon: reference ",
                input,
                ": the sha256 repository name is reserved for (non-shortened) digest references",
            ),
            ReferenceError::DaemonNameOnly { input } => (
                "docker-daemon: reference ",
                input,
                " has neither a tag nor a digest",
            ),
            ReferenceError::DaemonTagAndDigest { input } => (
                "docker-daemon: reference ",
                input,
                " has both a tag and a digest, which is not supported",
            ),
            ReferenceError::DaemonDestinationNotTagged { input } => (
                "invalid destination docker-daemon:",
                input,
                ": a destination must be a name:tag",
            ),
        };
        crate::write_quoted(f, before, quoted, after)
    }
}

impl core::error::Error for ReferenceError {}

impl Named {
    /// Reads `[DOMAIN/]PATH[:TAG][@DIGEST]` as written, like
    /// distribution's `Parse`: a first component is the domain whenever
    /// it has a domain's form, and there is no default domain.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        Self::parse_as(input, input)
    }

    /// Reads what people type, like distribution's `ParseNormalizedNamed`:
    /// `busybox` is `docker.io/library/busybox`, `index.docker.io/x/y` is
    /// `docker.io/x/y`, `localhost/x` and `host.name/x` keep their domain.
    /// Adds no tag (see [`Named::with_default_tag`]).
    pub fn parse_normalized(input: &str) -> Result<Self, ReferenceError> {
        if is_image_id(input) {
            return Err(ReferenceError::ImageId {
                input: input.to_string(),
            });
        }
        let (domain, remainder) = split_docker_domain(input);
        let path_end = remainder.find(':').unwrap_or(remainder.len());
        let library = domain == DEFAULT_DOMAIN && !remainder.contains('/');
        // As in Go, the repository path is checked for upper case before
        // the grammar, up to the first colon.
        if remainder[..path_end]
            .bytes()
            .any(|b| b.is_ascii_uppercase())
        {
            return Err(ReferenceError::NameContainsUppercase {
                input: truncate_for_error(input),
            });
        }
        let prefix = if library { OFFICIAL_REPO_PREFIX } else { "" };
        Self::parse_as(&format!("{domain}/{prefix}{remainder}"), input)
    }

    /// Reads a reference that must already be in normalised form, like
    /// distribution's `ParseNamed`: `docker.io/library/busybox`, not
    /// `busybox`.
    pub fn parse_canonical(input: &str) -> Result<Self, ReferenceError> {
        let named = Self::parse_normalized(input)?;
        let canonical = named.to_string();
        if canonical != input {
            return Err(ReferenceError::NameNotCanonical {
                input: truncate_for_error(input),
                canonical,
            });
        }
        Ok(named)
    }

    /// Parses `text`, naming `shown` (what the caller was given) in errors.
    fn parse_as(text: &str, shown: &str) -> Result<Self, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::NameEmpty);
        }
        let Some(parts) = split(text) else {
            let input = truncate_for_error(shown);
            return Err(if split(&text.to_ascii_lowercase()).is_some() {
                ReferenceError::NameContainsUppercase { input }
            } else {
                ReferenceError::InvalidFormat { input }
            });
        };
        if parts.name.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong {
                input: truncate_for_error(shown),
                length: parts.name.len(),
            });
        }
        let digest = match parts.digest {
            Some(d) => Some(
                Digest::parse(d).map_err(|error| ReferenceError::InvalidDigest {
                    input: truncate_for_error(shown),
                    error,
                })?,
            ),
            None => None,
        };
        Ok(Named {
            name: parts.name.to_string(),
            domain_len: parts.domain_len,
            tag: parts.tag.map(str::to_string),
            digest,
        })
    }

    /// This reference with `tag` (replacing any), keeping the digest, like
    /// distribution's `WithTag`.
    pub fn with_tag(self, tag: &str) -> Result<Self, ReferenceError> {
        if !is_tag(tag) {
            return Err(ReferenceError::InvalidTag {
                tag: truncate_for_error(tag),
            });
        }
        Ok(Named {
            tag: Some(tag.to_string()),
            ..self
        })
    }

    /// Tagged [`DEFAULT_TAG`] when it has neither tag nor digest, like
    /// distribution's `TagNameOnly`.
    pub fn with_default_tag(self) -> Self {
        if self.is_name_only() {
            Named {
                tag: Some(DEFAULT_TAG.to_string()),
                ..self
            }
        } else {
            self
        }
    }

    /// `domain/path` (or `path` without a domain).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `host[:port]`; empty only for a [`Named::parse`] of a name without one.
    pub fn domain(&self) -> &str {
        &self.name[..self.domain_len]
    }

    /// The repository path, `library/busybox`.
    pub fn path(&self) -> &str {
        if self.domain_len == 0 {
            &self.name
        } else {
            &self.name[self.domain_len + 1..]
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Neither tag nor digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The name as Docker shows it: without `docker.io/`, and without
    /// `library/` for an official image (`busybox`).
    pub fn familiar_name(&self) -> &str {
        if self.domain() != DEFAULT_DOMAIN {
            return &self.name;
        }
        let path = self.path();
        match path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest,
            _ => path,
        }
    }

    /// The whole reference as Docker shows it: [`Named::familiar_name`]
    /// with the tag and digest.
    pub fn familiar_string(&self) -> String {
        let mut out = self.familiar_name().to_string();
        self.push_tag_and_digest(&mut out);
        out
    }

    fn push_tag_and_digest(&self, out: &mut String) {
        if let Some(t) = &self.tag {
            out.push(':');
            out.push_str(t);
        }
        if let Some(d) = &self.digest {
            out.push('@');
            out.push_str(d.as_str());
        }
    }
}

/// `name[:tag][@digest]`, as distribution's `String()`.
impl fmt::Display for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// The facade's form (`parseReference`): every part, then the whole as
/// written out and as Docker shows it.
impl serde::Serialize for Named {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct as _;
        let mut s = serializer.serialize_struct("Named", 7)?;
        s.serialize_field("name", self.name())?;
        s.serialize_field("domain", self.domain())?;
        s.serialize_field("path", self.path())?;
        s.serialize_field("tag", &self.tag)?;
        s.serialize_field("digest", &self.digest)?;
        s.serialize_field("string", &self.to_string())?;
        s.serialize_field("familiar", &self.familiar_string())?;
        s.end()
    }
}

/// The pieces of a reference that matched the grammar, before the name's
/// length and the digest's algorithm are checked.
struct Parts<'a> {
    name: &'a str,
    domain_len: usize,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

/// Matches the whole grammar. No piece can hold an `@`, so a digest
/// follows the first one; a path component cannot hold a `:`, so a tag
/// follows the first colon after the last slash; a domain cannot hold a
/// slash, so it is all before the first slash, when that has a domain's
/// form (as Go's leftmost-first regular expression prefers).
fn split(text: &str) -> Option<Parts<'_>> {
    let (rest, digest) = match text.split_once('@') {
        Some((rest, digest)) => (rest, Some(digest)),
        None => (text, None),
    };
    if digest.is_some_and(|d| !is_digest_shaped(d)) {
        return None;
    }
    let last_component = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_component..].find(':') {
        Some(i) => (
            &rest[..last_component + i],
            Some(&rest[last_component + i + 1..]),
        ),
        None => (rest, None),
    };
    if tag.is_some_and(|t| !is_tag(t)) {
        return None;
    }
    let domain_len = match name.split_once('/') {
        Some((domain, path)) if is_domain(domain) && is_path(path) => domain.len(),
        _ if is_path(name) => 0,
        _ => return None,
    };
    Some(Parts {
        name,
        domain_len,
        tag,
        digest,
    })
}

/// A `remapIdentity` prefix in a policy: a whole domain (`example.com`),
/// or a name whose first component is a domain (`example.com/ns`), as
/// containers/image checks it against distribution's domain and name
/// grammars. Its domain grammar admits single-label hosts, so `ns/repo`
/// is accepted too, as there.
pub fn is_remap_prefix(prefix: &str) -> bool {
    if is_domain(prefix) {
        return true;
    }
    let name_only = split(prefix).is_some_and(|p| p.tag.is_none() && p.digest.is_none());
    name_only
        && prefix
            .split_once('/')
            .is_some_and(|(domain, _)| is_domain(domain))
}

/// distribution's `splitDockerDomain`: the first component is a domain
/// when it is `localhost` or has a `.` or `:`.
fn split_docker_domain(input: &str) -> (&str, &str) {
    let (domain, remainder) = match input.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (first, rest),
        _ => (DEFAULT_DOMAIN, input),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        (DEFAULT_DOMAIN, remainder)
    } else {
        (domain, remainder)
    }
}

/// `[a-f0-9]{64}`: an image ID, refused as a name.
fn is_image_id(input: &str) -> bool {
    input.len() == 64
        && input
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    bytes.len() <= 128
        && bytes.first().is_some_and(|b| word(*b))
        && bytes.iter().all(|b| word(*b) || *b == b'.' || *b == b'-')
}

/// `path-component { "/" path-component }`.
fn is_path(path: &str) -> bool {
    path.split('/').all(is_path_component)
}

/// `[a-z0-9]+ { ("." | "_" | "__" | "-"+) [a-z0-9]+ }`.
fn is_path_component(component: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = component.as_bytes();
    let mut i = 0;
    loop {
        let run = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == run {
            // Empty component, or a separator not followed by [a-z0-9].
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        match bytes[i] {
            b'.' => i += 1,
            b'_' => {
                i += if bytes.get(i + 1) == Some(&b'_') {
                    2
                } else {
                    1
                }
            }
            b'-' => {
                while bytes.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `host [":" port]`, where a host is dot-separated labels or a
/// bracketed IPv6 address (`[a-fA-F0-9:]+`, no zone).
fn is_domain(domain: &str) -> bool {
    let (host_ok, port) = match domain.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((address, port)) => (
                !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
                port,
            ),
            None => return false,
        },
        None => {
            let host_end = domain.find(':').unwrap_or(domain.len());
            (is_host_name(&domain[..host_end]), &domain[host_end..])
        }
    };
    host_ok
        && (port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
}

/// `label { "." label }`, a label being letters, digits and inner `-`.
fn is_host_name(host: &str) -> bool {
    host.split('.').all(|label| {
        let bytes = label.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    })
}

/// `[A-Za-z][A-Za-z0-9]* { [-_+.] [A-Za-z][A-Za-z0-9]* } ":" [0-9a-fA-F]{32,}`:
/// the grammar's digest, before [`Digest::parse`] decides whether it is
/// one ferry accepts.
fn is_digest_shaped(digest: &str) -> bool {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphabetic)
            && bytes.iter().all(u8::is_ascii_alphanumeric)
    };
    hex.len() >= 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && algorithm.split(['-', '_', '+', '.']).all(component_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_component_takes_one_dot_one_or_two_underscores_or_any_dashes() {
        for good in ["a", "a.b", "a_b", "a__b", "a---b", "a1.b2_c3"] {
            assert!(is_path_component(good), "{good}");
        }
        for bad in ["", "a..b", "a___b", "a_.b", "a-", "-a", ".a", "A", "a/b"] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn a_domain_is_labels_or_a_bracketed_ipv6_address_with_an_optional_port() {
        for good in ["a", "A-1.b", "a:5000", "[::1]", "[2001:db8::1]:5000"] {
            assert!(is_domain(good), "{good}");
        }
        for bad in [
            "",
            "a-",
            "a..b",
            "a:",
            "a:x",
            "[]",
            "[::1",
            "[::1]x",
            "[fe80::1%eth0]",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
    }
}
