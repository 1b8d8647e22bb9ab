//! Reading trust documents the way containers/image reads them:
//! "paranoidly".
//!
//! Policy files and signature payloads decide whether an image may run,
//! so containers/image refuses anything it does not fully understand: an
//! object member it does not know, a key given twice, a member it needs
//! that is missing. Manifests are read leniently elsewhere in ferry (as
//! registries read them); these documents are not. Every refusal names
//! the JSON pointer of the offending value, so a user can find it in a
//! policy file of any size.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::json::{self, Object, Value};

/// A trust document that is not what it must be, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    /// JSON pointer to the offending value (`""` for the whole document).
    pub pointer: String,
    pub problem: Problem,
}

/// What is wrong at [`FormatError::pointer`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// Not JSON at all.
    Syntax(json::SyntaxError),
    /// A value of the wrong JSON kind.
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    /// An object member this document type does not have.
    UnknownKey(String),
    /// The same member twice.
    DuplicateKey(String),
    /// A member that must be present is not.
    MissingKey(&'static str),
    /// A requirement `type` containers/image does not know.
    UnknownRequirementType(String),
    /// A `signedIdentity` `type` containers/image does not know.
    UnknownIdentityType(String),
    /// A `keyType` other than the four containers/image names.
    UnknownKeyType(String),
    /// `signedBy` and `sigstoreSigned` take their keys from exactly one
    /// source; `found` lists the members that were given.
    KeySources {
        allowed: &'static str,
        found: Vec<&'static str>,
    },
    /// A requirement list must not be empty (it would allow everything).
    EmptyRequirements,
    /// A scope that can never match an image of its transport.
    InvalidScope { scope: String, reason: &'static str },
    /// A docker reference or repository that does not parse, or lacks
    /// the tag or digest its rule needs.
    InvalidReference { value: String, reason: String },
    /// A `remapIdentity` prefix that is neither a host nor a repository
    /// below a host.
    InvalidPrefix(String),
    /// `keyData` that is not base64.
    InvalidBase64,
    /// A number that must be an integer.
    NotInteger(String),
    /// A signature payload `type` other than the one its format uses.
    UnknownSignatureType(String),
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.pointer.is_empty() {
            f.write_str("at the top level: ")?;
        } else {
            write!(f, "at {}: ", self.pointer)?;
        }
        match &self.problem {
            Problem::Syntax(e) => write!(f, "not JSON: {e}"),
            Problem::WrongType { expected, found } => {
                write!(f, "expected {expected}, found {found}")
            }
            Problem::UnknownKey(k) => write!(f, "unknown key {k}", k = crate::Quoted(k)),
            Problem::DuplicateKey(k) => write!(f, "duplicate key {k}", k = crate::Quoted(k)),
            Problem::MissingKey(k) => write!(f, "key {k} is missing", k = crate::Quoted(k)),
            Problem::UnknownRequirementType(t) => {
                write!(
                    f,
                    "unknown policy requirement type {t}",
                    t = crate::Quoted(t)
                )
            }
            Problem::UnknownIdentityType(t) => {
                write!(
                    f,
                    "unknown policy reference match type {t}",
                    t = crate::Quoted(t)
                )
            }
            Problem::UnknownKeyType(t) => {
                write!(f, "unrecognized keyType value {t}", t = crate::Quoted(t))
            }
            Problem::KeySources { allowed, found } if found.is_empty() => {
                write!(f, "exactly one of {allowed} must be specified, none is")
            }
            Problem::KeySources { allowed, found } => write!(
                f,
                "exactly one of {allowed} must be specified, found {}",
                crate::join(found, " and ")
            ),
            Problem::EmptyRequirements => {
                f.write_str("a list of policy requirements must not be empty")
            }
            Problem::InvalidScope { scope, reason } => {
                write!(
                    f,
                    "invalid scope {scope}: {reason}",
                    scope = crate::Quoted(scope)
                )
            }
            Problem::InvalidReference { value, reason } => {
                write!(
                    f,
                    "invalid docker reference {value}: {reason}",
                    value = crate::Quoted(value)
                )
            }
            Problem::InvalidPrefix(p) => write!(
                f,
                "prefix {p} is not valid: expected a host or a repository below a host",
                p = crate::Quoted(p)
            ),
            Problem::InvalidBase64 => f.write_str("not valid base64"),
            Problem::NotInteger(n) => write!(f, "{n} is not an integer"),
            Problem::UnknownSignatureType(t) => {
                write!(f, "unrecognized signature type {t}", t = crate::Quoted(t))
            }
        }
    }
}

impl core::error::Error for FormatError {}

impl FormatError {
    pub(crate) fn at(pointer: &str, problem: Problem) -> Self {
        FormatError {
            pointer: pointer.to_string(),
            problem,
        }
    }
}

/// Parses a whole document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Value, FormatError> {
    json::parse(bytes).map_err(|e| FormatError::at("", Problem::Syntax(e)))
}

/// A JSON object being read strictly: every member must be claimed by
/// [`Members::take`] or [`Members::rest`] before [`Members::finish`].
pub(crate) struct Members<'a> {
    object: &'a Object,
    pointer: String,
    claimed: Vec<bool>,
}

impl<'a> Members<'a> {
    /// `value` as an object without duplicate keys; the first key that
    /// repeats an earlier one, in document order, is refused.
    ///
    /// An ordered set of the keys seen so far makes this O(n log n): a
    /// document is untrusted input, and comparing every key with every
    /// earlier one would let 100,000 keys stall the reader for minutes.
    pub(crate) fn of(value: &'a Value, pointer: &str) -> Result<Self, FormatError> {
        let object = as_object(value, pointer)?;
        let mut seen = BTreeSet::new();
        for member in &object.members {
            if !seen.insert(member.key.as_str()) {
                return Err(FormatError::at(
                    pointer,
                    Problem::DuplicateKey(member.key.clone()),
                ));
            }
        }
        Ok(Self::claiming(object, pointer))
    }

    /// `value` as an object whose keys are among `names`, each at most
    /// once, read as containers/image's
    /// `ParanoidUnmarshalJSONObjectExactFields` reads it: in document
    /// order, so the first key that is unknown or repeated is the one
    /// refused. A name that is absent is refused when it is
    /// [`Members::require`]d.
    pub(crate) fn exactly(
        value: &'a Value,
        pointer: &str,
        names: &[&str],
    ) -> Result<Self, FormatError> {
        let object = as_object(value, pointer)?;
        let mut seen = alloc::vec![false; names.len()];
        for member in &object.members {
            let problem = match names.iter().position(|n| *n == member.key) {
                None => Problem::UnknownKey(member.key.clone()),
                Some(k) if seen[k] => Problem::DuplicateKey(member.key.clone()),
                Some(k) => {
                    seen[k] = true;
                    continue;
                }
            };
            return Err(FormatError::at(pointer, problem));
        }
        Ok(Self::claiming(object, pointer))
    }

    fn claiming(object: &'a Object, pointer: &str) -> Self {
        Members {
            object,
            pointer: pointer.to_string(),
            claimed: alloc::vec![false; object.members.len()],
        }
    }

    /// The pointer of this object.
    pub(crate) fn pointer(&self) -> &str {
        &self.pointer
    }

    /// The pointer of member `key`.
    pub(crate) fn child(&self, key: &str) -> String {
        json::child_pointer(&self.pointer, key)
    }

    /// Whether member `key` is in the document, claimed or not.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.object.members.iter().any(|m| m.key == key)
    }

    /// Member `key` (matched exactly, as Go's paranoid reader matches),
    /// if present.
    pub(crate) fn take(&mut self, key: &str) -> Option<&'a Value> {
        let i = self.object.members.iter().position(|m| m.key == key)?;
        self.claimed[i] = true;
        Some(&self.object.members[i].value)
    }

    /// Member `key`, which must be present.
    pub(crate) fn require(&mut self, key: &'static str) -> Result<&'a Value, FormatError> {
        self.take(key)
            .ok_or_else(|| FormatError::at(&self.pointer, Problem::MissingKey(key)))
    }

    /// Member `key` as a string, if present.
    pub(crate) fn string(&mut self, key: &str) -> Result<Option<&'a str>, FormatError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => as_str(v, &self.child(key)).map(Some),
        }
    }

    /// Member `key` as a string, which must be present.
    pub(crate) fn required_string(&mut self, key: &'static str) -> Result<&'a str, FormatError> {
        let value = self.require(key)?;
        as_str(value, &self.child(key))
    }

    /// Every member not yet claimed, claiming them.
    pub(crate) fn rest(&mut self) -> impl Iterator<Item = (&'a str, &'a Value)> + '_ {
        let object = self.object;
        self.claimed
            .iter_mut()
            .zip(object.members.iter())
            .filter(|(claimed, _)| !**claimed)
            .map(|(claimed, m)| {
                *claimed = true;
                (m.key.as_str(), &m.value)
            })
    }

    /// Refuses the first member nobody claimed.
    pub(crate) fn finish(self) -> Result<(), FormatError> {
        match self.claimed.iter().position(|c| !c) {
            Some(i) => Err(FormatError::at(
                &self.pointer,
                Problem::UnknownKey(self.object.members[i].key.clone()),
            )),
            None => Ok(()),
        }
    }
}

pub(crate) fn as_object<'a>(value: &'a Value, pointer: &str) -> Result<&'a Object, FormatError> {
    match value {
        Value::Object(o) => Ok(o),
        other => Err(wrong_type(other, pointer, "an object")),
    }
}

pub(crate) fn as_str<'a>(value: &'a Value, pointer: &str) -> Result<&'a str, FormatError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(wrong_type(other, pointer, "a string")),
    }
}

pub(crate) fn as_array<'a>(value: &'a Value, pointer: &str) -> Result<&'a [Value], FormatError> {
    match value {
        Value::Array(a) => Ok(a),
        other => Err(wrong_type(other, pointer, "an array")),
    }
}

fn wrong_type(value: &Value, pointer: &str, expected: &'static str) -> FormatError {
    FormatError::at(
        pointer,
        Problem::WrongType {
            expected,
            found: value.kind(),
        },
    )
}
