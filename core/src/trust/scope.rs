//! Which of a policy's scopes applies to an image.
//!
//! containers/image gives every image reference a policy identity (the
//! most specific scope) and a list of namespaces, from narrow to wide;
//! the first of them the policy names wins, then the transport's `""`
//! scope, then `default`. The identities are those of containers/image,
//! so a scope written for skopeo applies to the same images in ferry.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::policy::{Policy, Requirement};
use crate::reference::Named;

/// An image as a policy sees it: its transport, its identity and the
/// namespaces around it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageScope {
    pub transport: String,
    /// The most specific scope; empty when the transport has none.
    pub identity: String,
    /// Wider scopes, narrowest first.
    pub namespaces: Vec<String>,
}

impl ImageScope {
    /// `docker://`: `host/repo:tag` (or `@digest`), then the repository,
    /// each parent namespace, the host, and wildcard parent domains
    /// (`*.example.com`, `*.com`).
    pub fn docker(reference: &Named) -> Self {
        let mut namespaces = Vec::new();
        let mut name = reference.name();
        loop {
            namespaces.push(name.to_string());
            match name.rfind('/') {
                Some(i) => name = &name[..i],
                None => break,
            }
        }
        // `name` is now the host, possibly with a port.
        let mut host = name.split(':').next().unwrap_or(name);
        while let Some(i) = host.find('.') {
            host = &host[i + 1..];
            namespaces.push(alloc::format!("*.{host}"));
        }
        ImageScope {
            transport: "docker".to_string(),
            identity: docker_identity(reference),
            namespaces,
        }
    }

    /// `oci:` and `oci-archive:`: the layout's or archive's resolved
    /// absolute path, then the path itself and each parent directory
    /// (not `/`). The image name inside is not part of the identity, as
    /// in containers/image: `oci:dir:name` and `oci:dir` may be the same
    /// image.
    pub fn oci(transport: &str, resolved_path: &str) -> Self {
        let mut namespaces = Vec::new();
        let mut path = resolved_path;
        while let Some(i) = path.rfind('/') {
            if path == "/" {
                break;
            }
            namespaces.push(path.to_string());
            path = &path[..i];
        }
        ImageScope {
            transport: transport.to_string(),
            identity: resolved_path.to_string(),
            namespaces,
        }
    }

    /// `dir:`: the resolved absolute path, then each parent directory
    /// (not `/`).
    pub fn dir(resolved_path: &str) -> Self {
        let mut namespaces = Vec::new();
        let mut path = resolved_path;
        while let Some(i) = path.rfind('/') {
            if i == 0 {
                break;
            }
            path = &path[..i];
            namespaces.push(path.to_string());
        }
        ImageScope {
            transport: "dir".to_string(),
            identity: resolved_path.to_string(),
            namespaces,
        }
    }

    /// A transport without scopes (`docker-archive:`): only its `""`
    /// scope or the default applies.
    pub fn unscoped(transport: &str) -> Self {
        ImageScope {
            transport: transport.to_string(),
            identity: String::new(),
            namespaces: Vec::new(),
        }
    }
}

/// `name:tag` or `name@digest`; with both, as ferry's references allow,
/// the digest, which is what the image is.
fn docker_identity(reference: &Named) -> String {
    match (reference.tag(), reference.digest()) {
        (_, Some(digest)) => alloc::format!("{}@{}", reference.name(), digest.as_str()),
        (Some(tag), None) => alloc::format!("{}:{tag}", reference.name()),
        (None, None) => alloc::format!("{}:{}", reference.name(), crate::reference::DEFAULT_TAG),
    }
}

/// The part of a policy that applied to an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppliedScope {
    /// `transports.<transport>.<scope>`.
    Scope { transport: String, scope: String },
    /// `transports.<transport>.""`.
    TransportDefault { transport: String },
    /// `default`.
    Default,
}

impl fmt::Display for AppliedScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppliedScope::Scope { transport, scope } => {
                write!(
                    f,
                    "policy scope {scope} of transport {transport}",
                    scope = crate::Quoted(scope),
                    transport = crate::Quoted(transport)
                )
            }
            AppliedScope::TransportDefault { transport } => {
                write!(
                    f,
                    "the default scope \"\" of transport {transport}",
                    transport = crate::Quoted(transport)
                )
            }
            AppliedScope::Default => f.write_str("the policy's default"),
        }
    }
}

impl Policy {
    /// Whether the policy allows every image in `image`'s scope, whatever
    /// it holds (each requirement there is `insecureAcceptAnything`): a
    /// copy need read no signature, nor any image it would not read
    /// anyway, to judge it. containers/image reads nothing for that
    /// requirement either.
    pub fn accepts_anything(&self, image: &ImageScope) -> bool {
        self.requirements_for(image)
            .1
            .iter()
            .all(|r| matches!(r, Requirement::InsecureAcceptAnything))
    }

    /// The requirements for `image`, and where in the policy they are.
    pub fn requirements_for(&self, image: &ImageScope) -> (AppliedScope, &[Requirement]) {
        let Some(transport) = self
            .transports
            .iter()
            .find(|t| t.transport == image.transport)
        else {
            return (AppliedScope::Default, &self.default);
        };
        let find = |scope: &str| {
            transport
                .scopes
                .iter()
                .find(|(s, _)| s == scope)
                .map(|(_, reqs)| reqs.as_slice())
        };
        let candidates = core::iter::once(&image.identity)
            .filter(|identity| !identity.is_empty())
            .chain(image.namespaces.iter());
        for scope in candidates {
            if let Some(reqs) = find(scope) {
                let applied = AppliedScope::Scope {
                    transport: transport.transport.clone(),
                    scope: scope.clone(),
                };
                return (applied, reqs);
            }
        }
        if let Some(reqs) = find("") {
            let applied = AppliedScope::TransportDefault {
                transport: transport.transport.clone(),
            };
            return (applied, reqs);
        }
        (AppliedScope::Default, &self.default)
    }
}
