//! `containers-storage:` references, as containers/image's storage
//! transport reads them (`storage/storage_transport.go`, c/image 5.23):
//!
//! ```text
//! containers-storage:[STORE]IMAGE
//! STORE  := "[" [ DRIVER "@" ] GRAPHROOT [ "+" RUNROOT ] [ ":" OPTION { "," OPTION } ] "]"
//! IMAGE  := NAME[:TAG][@DIGEST][@ID] | @ID | ID | ID-PREFIX
//! ```
//!
//! The store part is peeled from the outside in, as Go does it: the
//! driver before the first `@`, options after the first `:` of what
//! remains, the run root after the first `+`; the graph root and run root
//! must be absolute. In the image part, a trailing `@X` that is not a
//! digest must be a full image ID (64 lower-case hex digits). A name gains
//! the tag `latest` when it has neither tag nor digest.
//!
//! Text without `@` or `:`, at least three characters long, may be an
//! image ID or a prefix of one: containers/image asks the store. Parsing
//! cannot, so it keeps the text ([`StorageReference::id_prefix`]) beside the
//! name it may also be, and the store decides ([`StorageReference::resolve_id`]).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use super::{Named, ReferenceError};
use crate::digest::{Digest, truncate_for_error};

/// The shortest image ID prefix containers/image looks up in a store.
pub const MINIMUM_TRUNCATED_ID_LENGTH: usize = 3;

/// The `[driver@graphroot+runroot:options]` part: which store, where.
/// Empty fields are left to `storage.conf` ([`crate::storage::config`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreSpec {
    pub driver: Option<String>,
    pub graph_root: Option<String>,
    pub run_root: Option<String>,
    pub options: Vec<String>,
}

/// A parsed `containers-storage:` reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageReference {
    /// The store named in brackets, if any.
    pub store: Option<StoreSpec>,
    /// The image's name (tagged `latest` if it had neither tag nor digest).
    pub named: Option<Named>,
    /// A full image ID (`@ID`, or `NAME@ID`).
    pub id: Option<String>,
    /// Text that may be an image ID or a prefix of one, for the store to
    /// look up; `named` holds what it means as a name, if it is one.
    pub id_prefix: Option<String>,
}

/// Why a `containers-storage:` reference does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageReferenceError {
    /// Nothing after the store specifier.
    Empty { input: String },
    /// `[` without a `]`, or `[]`, or an empty driver or graph root
    /// around the `@`.
    InvalidStore { input: String },
    /// The graph root or run root is not an absolute path.
    PathNotAbsolute { path: String },
    /// A trailing `@X` where X is neither a digest nor an image ID.
    InvalidId { input: String },
    /// The name does not parse.
    Name(ReferenceError),
}

impl fmt::Display for StorageReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (before, quoted, after) = match self {
            StorageReferenceError::Empty { input } => ("", input, " is an empty reference"),
            StorageReferenceError::InvalidStore { input } => (
                "store specifier in ",
                input,
                " is not [driver@graphroot+runroot:options]",
            ),
            StorageReferenceError::PathNotAbsolute { path } => {
                ("", path, ": path name is not absolute")
            }
            StorageReferenceError::InvalidId { input } => {
                ("", input, " does not look like an image ID or digest")
            }
            StorageReferenceError::Name(e) => return e.fmt(f),
        };
        crate::write_quoted(f, before, quoted, after)
    }
}

impl StorageReference {
    /// Parses the text after `containers-storage:`.
    pub fn parse(input: &str) -> Result<Self, StorageReferenceError> {
        let (store, image) = match input.strip_prefix('[') {
            Some(rest) => {
                let invalid = || StorageReferenceError::InvalidStore {
                    input: truncate_for_error(input),
                };
                let close = rest.find(']').ok_or_else(invalid)?;
                (
                    Some(StoreSpec::parse(&rest[..close], input)?),
                    &rest[close + 1..],
                )
            }
            None => (None, input),
        };
        if image.is_empty() {
            return Err(StorageReferenceError::Empty {
                input: truncate_for_error(input),
            });
        }
        let mut rest = image;
        let mut id = None;
        if let Some(at) = rest.rfind('@') {
            let possible = &rest[at + 1..];
            if possible.is_empty() {
                return Err(StorageReferenceError::InvalidId {
                    input: truncate_for_error(image),
                });
            }
            if Digest::parse(possible).is_err() {
                if !is_image_id(possible) {
                    return Err(StorageReferenceError::InvalidId {
                        input: truncate_for_error(possible),
                    });
                }
                id = Some(possible.to_string());
                rest = &rest[..at];
            }
        }
        let id_prefix = (id.is_none()
            && rest.len() >= MINIMUM_TRUNCATED_ID_LENGTH
            && !rest.contains(['@', ':'])
            && rest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        .then(|| rest.to_string());
        let named = if rest.is_empty() {
            None
        } else {
            match Named::parse_normalized(rest) {
                Ok(named) => Some(named.with_default_tag()),
                // A full ID without `@`: a name it cannot be.
                Err(_) if id_prefix.is_some() => None,
                Err(e) => return Err(StorageReferenceError::Name(e)),
            }
        };
        if named.is_none() && id.is_none() && id_prefix.is_none() {
            return Err(StorageReferenceError::Empty {
                input: truncate_for_error(input),
            });
        }
        Ok(StorageReference {
            store,
            named,
            id,
            id_prefix,
        })
    }

    /// The image the reference names among images with `ids`: an ID
    /// prefix that exactly one image's ID starts with is that image (as
    /// containers/storage's truncated index finds it); otherwise `None`,
    /// and the name, if any, decides.
    pub fn resolve_id<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> Option<String> {
        if let Some(id) = &self.id {
            return Some(id.clone());
        }
        let prefix = self.id_prefix.as_deref()?;
        let mut found = None;
        for id in ids {
            if id.starts_with(prefix) {
                if found.is_some() {
                    return None;
                }
                found = Some(id.to_string());
            }
        }
        found
    }
}

impl StoreSpec {
    /// `driver@graphroot+runroot:options`, the text inside the brackets
    /// of `input`.
    fn parse(spec: &str, input: &str) -> Result<Self, StorageReferenceError> {
        let invalid = || StorageReferenceError::InvalidStore {
            input: truncate_for_error(input),
        };
        let (driver, rest) = match spec.split_once('@') {
            Some((driver, rest)) => {
                if driver.is_empty() || rest.is_empty() {
                    return Err(invalid());
                }
                (Some(driver.to_string()), rest)
            }
            None if spec.is_empty() => return Err(invalid()),
            None => (None, spec),
        };
        let (rest, options) = match rest.split_once(':') {
            Some((rest, options)) => (rest, options.split(',').map(String::from).collect()),
            None => (rest, Vec::new()),
        };
        let (graph_root, run_root) = match rest.split_once('+') {
            Some((graph, run)) => (graph, run),
            None => (rest, ""),
        };
        let absolute = |path: &str| -> Result<Option<String>, StorageReferenceError> {
            match path {
                "" => Ok(None),
                p if p.starts_with('/') => Ok(Some(p.to_string())),
                p => Err(StorageReferenceError::PathNotAbsolute {
                    path: truncate_for_error(p),
                }),
            }
        };
        Ok(StoreSpec {
            driver,
            graph_root: absolute(graph_root)?,
            run_root: absolute(run_root)?,
            options,
        })
    }
}

/// Whether `text` is a full image ID: what `sha256:` + it would be a
/// valid digest of.
pub fn is_image_id(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for StorageReference {
    /// containers/image's `StringWithinTransport` of the parts given.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(store) = &self.store {
            f.write_str("[")?;
            if let Some(driver) = &store.driver {
                write!(f, "{driver}@")?;
            }
            f.write_str(store.graph_root.as_deref().unwrap_or_default())?;
            if let Some(run) = &store.run_root {
                write!(f, "+{run}")?;
            }
            if !store.options.is_empty() {
                write!(f, ":{}", crate::join(&store.options, ","))?;
            }
            f.write_str("]")?;
        }
        match (&self.named, &self.id, &self.id_prefix) {
            (Some(named), _, _) => write!(f, "{named}")?,
            (None, None, Some(prefix)) => f.write_str(prefix)?,
            _ => {}
        }
        if let Some(id) = &self.id {
            write!(f, "@{id}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const ID: &str = "6b5859431f5a414c2e9d0f36c7f5cd3f0979664ef2b85cf47cf74d0beb1c5181";
    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn store(input: &str) -> StoreSpec {
        StorageReference::parse(input).unwrap().store.unwrap()
    }

    #[test]
    fn the_store_specifier_is_driver_at_graphroot_plus_runroot_colon_options() {
        assert_eq!(
            store("[vfs@/var/lib/s+/run/s:vfs.ignore_chown_errors=true,x=y]busybox"),
            StoreSpec {
                driver: Some("vfs".into()),
                graph_root: Some("/var/lib/s".into()),
                run_root: Some("/run/s".into()),
                options: alloc::vec!["vfs.ignore_chown_errors=true".into(), "x=y".into()],
            }
        );
        assert_eq!(
            store("[/var/lib/s]busybox"),
            StoreSpec {
                graph_root: Some("/var/lib/s".into()),
                ..StoreSpec::default()
            }
        );
        assert_eq!(store("[overlay@/g]a").driver.as_deref(), Some("overlay"));
        assert_eq!(store("[/g+/r]a").run_root.as_deref(), Some("/r"));
    }

    #[test]
    fn malformed_store_specifiers_are_refused() {
        for bad in ["[vfs@/g", "[]busybox", "[@/g]busybox", "[vfs@]busybox"] {
            assert!(
                matches!(
                    StorageReference::parse(bad),
                    Err(StorageReferenceError::InvalidStore { .. })
                ),
                "{bad}"
            );
        }
        for bad in ["[vfs@relative]busybox", "[/g+run]busybox"] {
            assert!(
                matches!(
                    StorageReference::parse(bad),
                    Err(StorageReferenceError::PathNotAbsolute { .. })
                ),
                "{bad}"
            );
        }
        assert!(matches!(
            StorageReference::parse("[vfs@/g+/r]"),
            Err(StorageReferenceError::Empty { .. })
        ));
    }

    #[test]
    fn names_are_normalised_and_tagged_latest() {
        let r = StorageReference::parse("busybox").unwrap();
        assert_eq!(
            r.named.unwrap().to_string(),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(r.id, None);
        let r = StorageReference::parse(&format!("quay.io/a/b@{DIGEST}")).unwrap();
        assert_eq!(r.named.as_ref().unwrap().tag(), None);
        assert_eq!(
            r.named.unwrap().digest().map(|d| d.to_string()).as_deref(),
            Some(DIGEST)
        );
    }

    #[test]
    fn a_trailing_id_is_peeled_off_and_a_digest_kept() {
        let r = StorageReference::parse(&format!("busybox:1@{ID}")).unwrap();
        assert_eq!(r.id.as_deref(), Some(ID));
        assert_eq!(r.named.unwrap().to_string(), "docker.io/library/busybox:1");
        let r = StorageReference::parse(&format!("@{ID}")).unwrap();
        assert_eq!((r.named, r.id.as_deref()), (None, Some(ID)));
        let r = StorageReference::parse(&format!("busybox@{DIGEST}@{ID}")).unwrap();
        assert_eq!(r.id.as_deref(), Some(ID));
        assert!(r.named.unwrap().digest().is_some());
    }

    #[test]
    fn a_trailing_at_that_is_neither_digest_nor_id_is_refused() {
        for bad in ["busybox@", "busybox@abc", "busybox@sha256:12"] {
            assert!(
                matches!(
                    StorageReference::parse(bad),
                    Err(StorageReferenceError::InvalidId { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn hex_text_may_be_an_id_prefix_the_store_resolves() {
        let r = StorageReference::parse(ID).unwrap();
        assert_eq!((r.named.as_ref(), r.id_prefix.as_deref()), (None, Some(ID)));
        assert_eq!(r.resolve_id([ID]).as_deref(), Some(ID));
        let r = StorageReference::parse("6b58").unwrap();
        assert!(r.named.is_some(), "6b58 is also a valid name");
        assert_eq!(r.resolve_id(["ffff", ID]).as_deref(), Some(ID));
        assert_eq!(r.resolve_id(["ffff"]), None);
        assert_eq!(r.resolve_id([ID, "6b58aa"]), None, "ambiguous");
        assert_eq!(StorageReference::parse("busybox").unwrap().id_prefix, None);
    }

    #[test]
    fn references_are_written_back_as_parsed() {
        for text in [
            "[vfs@/g+/r:a=b]docker.io/library/busybox:latest",
            "[/g]docker.io/library/busybox:1",
        ] {
            assert_eq!(StorageReference::parse(text).unwrap().to_string(), text);
        }
        assert_eq!(
            StorageReference::parse(&format!("@{ID}"))
                .unwrap()
                .to_string(),
            format!("@{ID}")
        );
    }
}
