//! `images-by-semver`: which tags a semantic-version constraint selects,
//! as skopeo decides it with Masterminds/semver v3 (`NewVersion`, which
//! accepts `v1`, `1.2` and `1.2.3-rc.1+build`; `NewConstraint`, with `||`,
//! commas, hyphen ranges, `x` wildcards, `~` and `^`).
//!
//! A tag that is not a version is not selected. As in Masterminds, a
//! pre-release version (`1.2.0-rc.1`) is only selected by a constraint
//! that names a pre-release itself.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

/// The longest constraint accepted: far beyond any real one, and a bound
/// on the work each tag costs.
pub const MAX_CONSTRAINT_LEN: usize = 1024;

/// A version, as Masterminds' non-strict `NewVersion` reads a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The pre-release part, without its `-`; empty when none.
    pub pre: String,
}

impl Version {
    /// Reads `v?MAJOR(.MINOR(.PATCH)?)?(-PRE)?(+META)?`; `None` for anything
    /// else.
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.strip_prefix('v').unwrap_or(text);
        let (text, meta) = match text.split_once('+') {
            Some((t, m)) => (t, Some(m)),
            None => (text, None),
        };
        let (core, pre) = match text.split_once('-') {
            Some((c, p)) => (c, Some(p)),
            None => (text, None),
        };
        if let Some(meta) = meta
            && !identifiers(meta)
        {
            return None;
        }
        let pre = match pre {
            None => String::new(),
            Some(p) if identifiers(p) && p.split('.').all(no_leading_zero) => p.to_string(),
            Some(_) => return None,
        };
        let mut numbers = core.split('.');
        let major = number(numbers.next()?)?;
        let minor = numbers.next().map_or(Some(0), number)?;
        let patch = numbers.next().map_or(Some(0), number)?;
        if numbers.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
            pre,
        })
    }

    fn compare(&self, other: &Version) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| compare_pre(&self.pre, &other.pre))
    }
}

/// Dot-separated, non-empty identifiers of `[0-9A-Za-z-]`.
fn identifiers(text: &str) -> bool {
    text.split('.')
        .all(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// A numeric pre-release identifier may not start with 0 (semver 2.0.0).
fn no_leading_zero(identifier: &str) -> bool {
    !(identifier.len() > 1
        && identifier.starts_with('0')
        && identifier.bytes().all(|b| b.is_ascii_digit()))
}

fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Pre-release precedence (semver 2.0.0 §11): none is higher than any;
/// numeric identifiers compare as numbers and below alphanumeric ones.
fn compare_pre(a: &str, b: &str) -> Ordering {
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Greater,
        (false, true) => return Ordering::Less,
        _ => {}
    }
    let mut left = a.split('.');
    let mut right = b.split('.');
    loop {
        match (left.next(), right.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let order = match (number(x), number(y)) {
                    (Some(m), Some(n)) => m.cmp(&n),
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => x.cmp(y),
                };
                if order != Ordering::Equal {
                    return order;
                }
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

/// One comparison: an operator and a version that may have wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comparison {
    op: Op,
    version: Version,
    /// The minor part was a wildcard (or absent in `~1`, `1.x`, `*`).
    minor_dirty: bool,
    /// The patch part was a wildcard or absent.
    patch_dirty: bool,
    /// Any part was a wildcard.
    dirty: bool,
    /// The whole version was a wildcard (`*`, `x`): any release.
    any: bool,
}

/// A constraint: alternatives (`||`) of comparisons that must all hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    alternatives: Vec<Vec<Comparison>>,
}

/// Why a constraint does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConstraintError {
    /// Longer than [`MAX_CONSTRAINT_LEN`].
    TooLong { length: usize },
    /// A part is not `OP VERSION`.
    Improper { part: String },
    /// Nothing to compare with.
    Empty,
}

impl fmt::Display for ConstraintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConstraintError::TooLong { length } => write!(
                f,
                "the semver constraint is {length} bytes long, more than {MAX_CONSTRAINT_LEN}"
            ),
            ConstraintError::Improper { part } => {
                write!(f, "improper constraint: {part}")
            }
            ConstraintError::Empty => f.write_str("the semver constraint is empty"),
        }
    }
}

impl core::error::Error for ConstraintError {}

impl Constraint {
    /// Reads a Masterminds v3 constraint (`>= 1.2, < 2 || ^3.1`).
    pub fn parse(text: &str) -> Result<Constraint, ConstraintError> {
        if text.len() > MAX_CONSTRAINT_LEN {
            return Err(ConstraintError::TooLong { length: text.len() });
        }
        let mut alternatives = Vec::new();
        for alternative in text.split("||") {
            let mut comparisons = Vec::new();
            for part in split_and(alternative)? {
                comparisons.extend(part);
            }
            if comparisons.is_empty() {
                return Err(ConstraintError::Empty);
            }
            alternatives.push(comparisons);
        }
        Ok(Constraint { alternatives })
    }

    /// Whether `tag` is a version this constraint selects.
    pub fn selects(&self, tag: &str) -> bool {
        Version::parse(tag).is_some_and(|v| self.check(&v))
    }

    /// Whether `version` satisfies the constraint.
    pub fn check(&self, version: &Version) -> bool {
        self.alternatives
            .iter()
            .any(|all| all.iter().all(|c| c.check(version)))
    }
}

/// The comparisons of one `||` alternative: separated by commas or
/// spaces, where `A - B` is a range and an operator may stand apart from
/// its version (`>= 1.2`).
fn split_and(text: &str) -> Result<Vec<Vec<Comparison>>, ConstraintError> {
    let words: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let word = words[i];
        // An operator alone: joined to the next word.
        if word.bytes().all(|b| b"=!<>~^".contains(&b)) {
            let Some(next) = words.get(i + 1) else {
                return Err(ConstraintError::Improper {
                    part: word.to_string(),
                });
            };
            out.push(alloc::vec![comparison(word, next)?]);
            i += 2;
            continue;
        }
        if words.get(i + 1) == Some(&"-") {
            let Some(upper) = words.get(i + 2) else {
                return Err(ConstraintError::Improper {
                    part: word.to_string(),
                });
            };
            out.push(alloc::vec![
                comparison(">=", word)?,
                comparison("<=", upper)?
            ]);
            i += 3;
            continue;
        }
        let split = word
            .find(|c: char| !"=!<>~^".contains(c))
            .unwrap_or(word.len());
        out.push(alloc::vec![comparison(&word[..split], &word[split..])?]);
        i += 1;
    }
    Ok(out)
}

fn comparison(op: &str, version: &str) -> Result<Comparison, ConstraintError> {
    let improper = || ConstraintError::Improper {
        part: alloc::format!("{op}{version}"),
    };
    let op = match op {
        "" | "=" => Op::Equal,
        "!=" => Op::NotEqual,
        ">" => Op::Greater,
        "<" => Op::Less,
        ">=" | "=>" => Op::GreaterEqual,
        "<=" | "=<" => Op::LessEqual,
        "~" | "~>" => Op::Tilde,
        "^" => Op::Caret,
        _ => return Err(improper()),
    };
    let text = version.strip_prefix('v').unwrap_or(version);
    let (text, _meta) = text.split_once('+').unwrap_or((text, ""));
    let (core, pre) = text.split_once('-').unwrap_or((text, ""));
    if !pre.is_empty() && !identifiers(pre) {
        return Err(improper());
    }
    let wild = |p: &str| matches!(p, "x" | "X" | "*");
    let mut parts = core.split('.');
    let major = parts.next().ok_or_else(improper)?;
    let minor = parts.next();
    let patch = parts.next();
    if parts.next().is_some() {
        return Err(improper());
    }
    let value = |p: Option<&str>| -> Result<(u64, bool), ConstraintError> {
        match p {
            None => Ok((0, true)),
            Some(p) if wild(p) => Ok((0, true)),
            Some(p) => number(p).map(|n| (n, false)).ok_or_else(improper),
        }
    };
    let (major, minor_dirty, patch_dirty, minor, patch) = if wild(major) {
        (0, true, true, 0, 0)
    } else {
        let major = number(major).ok_or_else(improper)?;
        let (minor, minor_dirty) = value(minor)?;
        let (patch, patch_dirty) = value(patch)?;
        (major, minor_dirty, patch_dirty || minor_dirty, minor, patch)
    };
    // Masterminds counts an absent part as a wildcard only for the
    // operators that widen with it; `>= 1` is `>= 1.0.0`.
    let dirty = minor_dirty || patch_dirty;
    Ok(Comparison {
        op,
        version: Version {
            major,
            minor,
            patch,
            pre: pre.to_string(),
        },
        minor_dirty,
        patch_dirty,
        dirty,
        any: wild(core),
    })
}

impl Comparison {
    fn check(&self, v: &Version) -> bool {
        let c = &self.version;
        // Pre-releases are only in reach of a constraint that names one.
        if !v.pre.is_empty() && c.pre.is_empty() {
            return false;
        }
        if self.any {
            return !matches!(self.op, Op::NotEqual | Op::Greater | Op::Less);
        }
        match self.op {
            Op::Equal => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::NotEqual => {
                if self.dirty {
                    if v.major != c.major {
                        return true;
                    }
                    if self.minor_dirty {
                        return false;
                    }
                    if v.minor != c.minor {
                        return true;
                    }
                    false
                } else {
                    v.compare(c) != Ordering::Equal
                }
            }
            Op::Greater => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major > c.major;
                }
                if self.minor_dirty {
                    return false;
                }
                v.minor > c.minor
            }
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                if v.major != c.major {
                    return v.major < c.major;
                }
                self.minor_dirty || v.minor <= c.minor
            }
            Op::Tilde => self.tilde(v),
            Op::Caret => {
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    v.major == c.major
                } else if c.minor > 0 || self.patch_dirty {
                    v.major == 0 && v.minor == c.minor
                } else {
                    v.major == 0 && v.minor == 0 && v.patch == c.patch
                }
            }
        }
    }

    /// `~1.2.3`: at least it, same major and minor; `~1`: same major.
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.version;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        // `~0.0.0` matches any release.
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        self.minor_dirty || v.minor == c.minor
    }
}
