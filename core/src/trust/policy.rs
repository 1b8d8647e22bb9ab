//! `policy.json` (containers-policy.json(5)), read as containers/image
//! reads it.
//!
//! The file says, per transport and scope, which requirements an image
//! must meet. Reading is strict ([`super::strict`]): a policy ferry does
//! not fully understand is refused, never half-applied, because the
//! failure mode of a lenient reader is an image accepted that the
//! administrator meant to refuse.
//!
//! ferry reads containers/image 5.23's format plus what later versions
//! added to `sigstoreSigned` (`keyPaths`, `keyDatas`, `fulcio`,
//! `rekorPublicKey*`), so one policy file serves skopeo and ferry.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::strict::{self, FormatError, Members, Problem};
use crate::base64::{self, Alphabet};
use crate::json::{self, Value};
use crate::reference::Named;

/// A whole policy: the default requirements and, per transport name,
/// requirements per scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub default: Vec<Requirement>,
    /// In document order; transport names are unique.
    pub transports: Vec<TransportScopes>,
}

/// The scopes of one transport (`"docker": {…}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportScopes {
    pub transport: String,
    /// `(scope, requirements)` in document order; `""` is the
    /// transport's own default.
    pub scopes: Vec<(String, Vec<Requirement>)>,
}

/// One requirement an image must meet; an image is allowed when it meets
/// every requirement of the scope that applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `insecureAcceptAnything`.
    InsecureAcceptAnything,
    /// `reject`.
    Reject,
    /// `signedBy`: an OpenPGP simple signature by one of the keys.
    SignedBy {
        key_type: KeyType,
        keys: KeySource,
        signed_identity: IdentityRule,
    },
    /// `signedBaseLayer`: reserved by containers/image, which refuses
    /// every image under it; ferry does the same.
    SignedBaseLayer { base_layer_identity: IdentityRule },
    /// `sigstoreSigned`: a sigstore signature by the key, or by a
    /// Fulcio certificate.
    SigstoreSigned {
        trust: SigstoreTrust,
        rekor_public_key: Option<KeySource>,
        signed_identity: IdentityRule,
    },
}

/// `keyType` of `signedBy`. containers/image accepts four values and
/// implements one; so does ferry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    GpgKeys,
    SignedByGpgKeys,
    X509Certificates,
    SignedByX509Cas,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::GpgKeys => "GPGKeys",
            KeyType::SignedByGpgKeys => "signedByGPGKeys",
            KeyType::X509Certificates => "X509Certificates",
            KeyType::SignedByX509Cas => "signedByX509CAs",
        }
    }
}

/// Where a requirement's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `keyPath` (or `rekorPublicKeyPath`).
    Path(String),
    /// `keyPaths`: any of these files.
    Paths(Vec<String>),
    /// `keyData` (base64 in the file, decoded here).
    Data(Vec<u8>),
    /// `keyDatas`: any of these.
    Datas(Vec<Vec<u8>>),
}

/// What a `sigstoreSigned` signature must be made with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigstoreTrust {
    /// A public key.
    Key(KeySource),
    /// A certificate issued by Fulcio for this identity.
    Fulcio(Fulcio),
}

/// `fulcio`: the CA and the identity its certificate must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulcio {
    pub ca: KeySource,
    pub oidc_issuer: String,
    pub subject_email: String,
}

/// `signedIdentity`: how the reference a signature claims must relate to
/// the image's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityRule {
    /// `matchExact`: the same tagged or digested reference.
    MatchExact,
    /// `matchRepoDigestOrExact`: the same reference, or the same
    /// repository when the image is named by digest.
    MatchRepoDigestOrExact,
    /// `matchRepository`: the same repository.
    MatchRepository,
    /// `exactReference`: this reference, whatever the image's name.
    ExactReference(Named),
    /// `exactRepository`: this repository, whatever the image's name.
    ExactRepository(Named),
    /// `remapIdentity`: the image's name with `prefix` replaced by
    /// `signed_prefix`, then as `matchRepoDigestOrExact`.
    RemapIdentity {
        prefix: String,
        signed_prefix: String,
    },
}

/// Transports whose scopes containers/image checks when it reads a
/// policy; scopes of other transports are kept unchecked, as there.
fn check_scope(transport: &str, scope: &str) -> Result<(), &'static str> {
    match transport {
        "dir" | "oci" | "oci-archive" => check_path_scope(scope),
        "docker-archive" | "docker-daemon" => {
            Err("this transport supports no scope except the default \"\"")
        }
        _ => Ok(()),
    }
}

/// A path scope must be absolute and canonical (`filepath.Clean`), and
/// not `/`, which would shadow `""`.
fn check_path_scope(scope: &str) -> Result<(), &'static str> {
    if !scope.starts_with('/') {
        return Err("must be an absolute path");
    }
    if scope == "/" {
        return Err("use the transport's default scope \"\" instead of \"/\"");
    }
    let canonical = !scope.ends_with('/')
        && scope[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if canonical {
        Ok(())
    } else {
        Err("not in canonical form (no \"//\", \".\", \"..\" or trailing \"/\")")
    }
}

impl Policy {
    /// Reads a policy file's contents.
    pub fn parse(bytes: &[u8]) -> Result<Policy, FormatError> {
        let document = strict::parse(bytes)?;
        let mut top = Members::of(&document, "")?;
        let default = match top.take("default") {
            Some(v) => requirements(v, &top.child("default"))?,
            None => return Err(FormatError::at("", Problem::MissingKey("default"))),
        };
        let mut transports = Vec::new();
        if let Some(value) = top.take("transports") {
            let pointer = top.child("transports");
            let mut names = Members::of(value, &pointer)?;
            for (transport, scopes_value) in names.rest() {
                let transport_pointer = json::child_pointer(&pointer, transport);
                let mut scope_members = Members::of(scopes_value, &transport_pointer)?;
                let mut scopes = Vec::new();
                for (scope, reqs) in scope_members.rest() {
                    let scope_pointer = json::child_pointer(&transport_pointer, scope);
                    if !scope.is_empty() {
                        check_scope(transport, scope).map_err(|reason| {
                            FormatError::at(
                                &scope_pointer,
                                Problem::InvalidScope {
                                    scope: scope.to_string(),
                                    reason,
                                },
                            )
                        })?;
                    }
                    scopes.push((scope.to_string(), requirements(reqs, &scope_pointer)?));
                }
                transports.push(TransportScopes {
                    transport: transport.to_string(),
                    scopes,
                });
            }
        }
        top.finish()?;
        Ok(Policy {
            default,
            transports,
        })
    }
}

fn requirements(value: &Value, pointer: &str) -> Result<Vec<Requirement>, FormatError> {
    let items = strict::as_array(value, pointer)?;
    if items.is_empty() {
        return Err(FormatError::at(pointer, Problem::EmptyRequirements));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| requirement(item, &json::index_pointer(pointer, i)))
        .collect()
}

fn requirement(value: &Value, pointer: &str) -> Result<Requirement, FormatError> {
    let mut m = Members::of(value, pointer)?;
    let kind = m.required_string("type")?;
    let requirement = match kind {
        "insecureAcceptAnything" => Requirement::InsecureAcceptAnything,
        "reject" => Requirement::Reject,
        "signedBy" => {
            let key_type = match m.required_string("keyType")? {
                "GPGKeys" => KeyType::GpgKeys,
                "signedByGPGKeys" => KeyType::SignedByGpgKeys,
                "X509Certificates" => KeyType::X509Certificates,
                "signedByX509CAs" => KeyType::SignedByX509Cas,
                other => {
                    return Err(FormatError::at(
                        &m.child("keyType"),
                        Problem::UnknownKeyType(other.to_string()),
                    ));
                }
            };
            let keys = key_source(&mut m, KEY_MEMBERS_SIGNED_BY)?;
            let keys = keys
                .ok_or_else(|| key_sources_error(&m, allowed_list(KEY_MEMBERS_SIGNED_BY), &[]))?;
            Requirement::SignedBy {
                key_type,
                keys,
                signed_identity: signed_identity(&mut m, "signedIdentity")?,
            }
        }
        "signedBaseLayer" => {
            let pointer = m.child("baseLayerIdentity");
            let value = m.require("baseLayerIdentity")?;
            Requirement::SignedBaseLayer {
                base_layer_identity: identity_rule(value, &pointer)?,
            }
        }
        "sigstoreSigned" => {
            let key = key_source(&mut m, KEY_MEMBERS_SIGSTORE)?;
            let fulcio = match m.take("fulcio") {
                Some(v) => Some(fulcio(v, &m.child("fulcio"))?),
                None => None,
            };
            let trust = match (key, fulcio) {
                (Some(key), None) => SigstoreTrust::Key(key),
                (None, Some(f)) => SigstoreTrust::Fulcio(f),
                (key, _) => {
                    let mut found = present(&m, KEY_MEMBERS_SIGSTORE);
                    if key.is_some() {
                        found.push("fulcio");
                    }
                    return Err(key_sources_error(&m, SIGSTORE_SOURCES, &found));
                }
            };
            let rekor_public_key = key_source(&mut m, KEY_MEMBERS_REKOR)?;
            Requirement::SigstoreSigned {
                trust,
                rekor_public_key,
                signed_identity: signed_identity(&mut m, "signedIdentity")?,
            }
        }
        other => {
            return Err(FormatError::at(
                &m.child("type"),
                Problem::UnknownRequirementType(other.to_string()),
            ));
        }
    };
    m.finish()?;
    Ok(requirement)
}

/// The members that name keys, in the order [`KeySource`] lists them:
/// path, paths, data, datas.
type KeyMembers = [&'static str; 4];
const KEY_MEMBERS_SIGNED_BY: KeyMembers = ["keyPath", "keyPaths", "keyData", ""];
const KEY_MEMBERS_SIGSTORE: KeyMembers = ["keyPath", "keyPaths", "keyData", "keyDatas"];
const KEY_MEMBERS_REKOR: KeyMembers = [
    "rekorPublicKeyPath",
    "rekorPublicKeyPaths",
    "rekorPublicKeyData",
    "rekorPublicKeyDatas",
];
const KEY_MEMBERS_FULCIO: KeyMembers = ["caPath", "", "caData", ""];
const SIGSTORE_SOURCES: &str = "keyPath, keyPaths, keyData, keyDatas and fulcio";

fn present(m: &Members<'_>, names: KeyMembers) -> Vec<&'static str> {
    // `Members::take` has already claimed them; look at the document.
    names
        .iter()
        .copied()
        .filter(|n| !n.is_empty() && m.has(n))
        .collect()
}

fn key_sources_error(
    m: &Members<'_>,
    allowed: &'static str,
    found: &[&'static str],
) -> FormatError {
    FormatError::at(
        m.pointer(),
        Problem::KeySources {
            allowed,
            found: found.to_vec(),
        },
    )
}

fn allowed_list(names: KeyMembers) -> &'static str {
    match names[0] {
        "keyPath" if names[3].is_empty() => "keyPath, keyPaths and keyData",
        "keyPath" => "keyPath, keyPaths, keyData and keyDatas",
        "caPath" => "caPath and caData",
        _ => "rekorPublicKeyPath, rekorPublicKeyPaths, rekorPublicKeyData and rekorPublicKeyDatas",
    }
}

/// At most one of the four members; `None` when none is present.
fn key_source(m: &mut Members<'_>, names: KeyMembers) -> Result<Option<KeySource>, FormatError> {
    let found = present(m, names);
    if found.len() > 1 {
        return Err(key_sources_error(m, allowed_list(names), &found));
    }
    let [path, paths, data, datas] = names;
    if let Some(v) = m.string(path)? {
        return Ok(Some(KeySource::Path(v.to_string())));
    }
    if !paths.is_empty()
        && let Some(v) = m.take(paths)
    {
        let pointer = m.child(paths);
        let items = strict::as_array(v, &pointer)?;
        let list = items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                strict::as_str(item, &json::index_pointer(&pointer, i)).map(ToString::to_string)
            })
            .collect::<Result<_, _>>()?;
        return Ok(Some(KeySource::Paths(list)));
    }
    if let Some(v) = m.take(data) {
        return Ok(Some(KeySource::Data(base64_bytes(v, &m.child(data))?)));
    }
    if !datas.is_empty()
        && let Some(v) = m.take(datas)
    {
        let pointer = m.child(datas);
        let items = strict::as_array(v, &pointer)?;
        let list = items
            .iter()
            .enumerate()
            .map(|(i, item)| base64_bytes(item, &json::index_pointer(&pointer, i)))
            .collect::<Result<_, _>>()?;
        return Ok(Some(KeySource::Datas(list)));
    }
    Ok(None)
}

/// Go's `[]byte` in JSON: standard base64 with padding.
fn base64_bytes(value: &Value, pointer: &str) -> Result<Vec<u8>, FormatError> {
    let text = strict::as_str(value, pointer)?;
    base64::decode_padded(text, Alphabet::Standard)
        .map_err(|_| FormatError::at(pointer, Problem::InvalidBase64))
}

fn fulcio(value: &Value, pointer: &str) -> Result<Fulcio, FormatError> {
    let mut m = Members::of(value, pointer)?;
    let ca = key_source(&mut m, KEY_MEMBERS_FULCIO)?
        .ok_or_else(|| key_sources_error(&m, allowed_list(KEY_MEMBERS_FULCIO), &[]))?;
    let oidc_issuer = m.required_string("oidcIssuer")?.to_string();
    let subject_email = m.required_string("subjectEmail")?.to_string();
    m.finish()?;
    Ok(Fulcio {
        ca,
        oidc_issuer,
        subject_email,
    })
}

/// `signedIdentity`, `matchRepoDigestOrExact` when absent.
fn signed_identity(m: &mut Members<'_>, key: &str) -> Result<IdentityRule, FormatError> {
    let pointer = m.child(key);
    match m.take(key) {
        None => Ok(IdentityRule::MatchRepoDigestOrExact),
        Some(v) => identity_rule(v, &pointer),
    }
}

fn identity_rule(value: &Value, pointer: &str) -> Result<IdentityRule, FormatError> {
    let mut m = Members::of(value, pointer)?;
    let kind = m.required_string("type")?;
    let rule = match kind {
        "matchExact" => IdentityRule::MatchExact,
        "matchRepoDigestOrExact" => IdentityRule::MatchRepoDigestOrExact,
        "matchRepository" => IdentityRule::MatchRepository,
        "exactReference" => {
            let pointer = m.child("dockerReference");
            let text = m.required_string("dockerReference")?;
            let named = docker_reference(text, &pointer)?;
            if named.is_name_only() {
                return Err(FormatError::at(
                    &pointer,
                    Problem::InvalidReference {
                        value: text.to_string(),
                        reason: "it has neither a tag nor a digest".to_string(),
                    },
                ));
            }
            IdentityRule::ExactReference(named)
        }
        "exactRepository" => {
            let pointer = m.child("dockerRepository");
            let text = m.required_string("dockerRepository")?;
            IdentityRule::ExactRepository(docker_reference(text, &pointer)?)
        }
        "remapIdentity" => {
            let mut prefix = |key: &'static str| -> Result<String, FormatError> {
                let pointer = m.child(key);
                let text = m.required_string(key)?;
                if crate::reference::is_remap_prefix(text) {
                    Ok(text.to_string())
                } else {
                    Err(FormatError::at(
                        &pointer,
                        Problem::InvalidPrefix(text.to_string()),
                    ))
                }
            };
            let p = prefix("prefix")?;
            let signed_prefix = prefix("signedPrefix")?;
            IdentityRule::RemapIdentity {
                prefix: p,
                signed_prefix,
            }
        }
        other => {
            return Err(FormatError::at(
                &m.child("type"),
                Problem::UnknownIdentityType(other.to_string()),
            ));
        }
    };
    m.finish()?;
    Ok(rule)
}

fn docker_reference(text: &str, pointer: &str) -> Result<Named, FormatError> {
    Named::parse_normalized(text).map_err(|e| {
        FormatError::at(
            pointer,
            Problem::InvalidReference {
                value: text.to_string(),
                reason: e.to_string(),
            },
        )
    })
}

impl fmt::Display for IdentityRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdentityRule::MatchExact => f.write_str("matchExact"),
            IdentityRule::MatchRepoDigestOrExact => f.write_str("matchRepoDigestOrExact"),
            IdentityRule::MatchRepository => f.write_str("matchRepository"),
            IdentityRule::ExactReference(r) => write!(f, "exactReference {r}"),
            IdentityRule::ExactRepository(r) => write!(f, "exactRepository {}", r.name()),
            IdentityRule::RemapIdentity {
                prefix,
                signed_prefix,
            } => write!(f, "remapIdentity {prefix} → {signed_prefix}"),
        }
    }
}
