//! What each transport makes of the text after its name, as
//! containers/image's transports read it.
//!
//! | transport | text | read by |
//! |---|---|---|
//! | `docker:` | `//NAME[:TAG][@DIGEST]` | [`docker`] (after the `//`) |
//! | `docker-archive:` | `PATH[:NAME[:TAG]]` or `PATH:@N` | [`PathReference`], then [`docker_archive_tag`] |
//! | `oci:`, `oci-archive:` | `PATH[:NAME]` or `PATH:@N` | [`PathReference`], then [`oci_image_name`] |
//! | `docker-daemon:` | `NAME:TAG`, `NAME@DIGEST` or `sha256:<64 hex>` | [`DaemonReference::parse`] |

use alloc::string::ToString;
use core::fmt;

use super::{Named, ReferenceError};
use crate::digest::{Algorithm, Digest, truncate_for_error};

/// What follows `docker://`: a normalised name ([`Named::parse_normalized`]),
/// tagged `latest` when it has neither tag nor digest. containers/image
/// 5.23 refuses a tag together with a digest; ferry keeps both and asks
/// the registry for the digest.
pub fn docker(input: &str) -> Result<Named, ReferenceError> {
    Named::parse_normalized(input).map(Named::with_default_tag)
}

/// The `NAME[:TAG]` of `docker-archive:PATH:NAME[:TAG]`: a normalised
/// name with a tag (`latest` when none is given) and no digest, since an
/// archive's `RepoTags` can only hold tags.
pub fn docker_archive_tag(input: &str) -> Result<Named, ReferenceError> {
    let named = Named::parse_normalized(input)?;
    if named.digest().is_some() {
        return Err(ReferenceError::DigestNotAllowed {
            input: truncate_for_error(input),
        });
    }
    Ok(named.with_default_tag())
}

/// `PATH[:IMAGE]` or `PATH:@N`, the references of the file transports.
/// As in containers/image, the path ends at the first colon, so a path
/// cannot hold one; `PATH:` is `PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathReference<'a> {
    pub path: &'a str,
    pub image: Option<Image<'a>>,
}

/// Which image of a file a [`PathReference`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Image<'a> {
    /// The text after the colon, for the transport to read
    /// ([`docker_archive_tag`], [`oci_image_name`]).
    Name(&'a str),
    /// `@N`: the N-th image (counting from 0) of the file's index.
    Index(usize),
}

impl<'a> PathReference<'a> {
    pub fn parse(input: &'a str) -> Result<Self, ReferenceError> {
        let (path, image) = match input.split_once(':') {
            Some((path, image)) => (path, image),
            None => (input, ""),
        };
        if path.is_empty() {
            return Err(ReferenceError::EmptyPath {
                input: truncate_for_error(input),
            });
        }
        let image = match image.strip_prefix('@') {
            _ if image.is_empty() => None,
            Some(number) => Some(Image::Index(number.parse().map_err(|_| {
                ReferenceError::InvalidIndex {
                    selector: truncate_for_error(image),
                }
            })?)),
            None => Some(Image::Name(image)),
        };
        Ok(PathReference { path, image })
    }
}

/// Checks an `oci:` or `oci-archive:` image name as containers/image does:
/// components of ASCII letters and digits, joined by one of `- . _ : @ +`
/// or by `--`, separated by `/` (the OCI `ref.name` annotation's form).
pub fn oci_image_name(name: &str) -> Result<(), ReferenceError> {
    if name.split('/').all(is_oci_name_component) {
        Ok(())
    } else {
        Err(ReferenceError::InvalidImageName {
            name: truncate_for_error(name),
        })
    }
}

/// `[A-Za-z0-9]+ { ([-._:@+] | "--") [A-Za-z0-9]+ }`.
fn is_oci_name_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let mut i = 0;
    loop {
        let run = i;
        while bytes.get(i).is_some_and(u8::is_ascii_alphanumeric) {
            i += 1;
        }
        if i == run {
            return false;
        }
        match bytes.get(i) {
            None => return true,
            Some(b'-') if bytes.get(i + 1) == Some(&b'-') => i += 2,
            Some(b'-' | b'.' | b'_' | b':' | b'@' | b'+') => i += 1,
            Some(_) => return false,
        }
    }
}

/// An image in a Docker daemon: by name (`busybox:1`, `busybox@sha256:…`)
/// or by image ID (`sha256:<64 hex>`, the config's digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonReference {
    /// The image whose config has this sha256 digest.
    Id(Digest),
    /// A normalised name with a tag or a digest, never both.
    Named(Named),
}

impl DaemonReference {
    /// Reads what follows `docker-daemon:` as containers/image does. An
    /// `algorithm:hex` that is a digest is an image ID, sha256 only (a
    /// name `sha512:<hex>` would be the same text); anything else is a
    /// normalised name, which must have a tag or a digest, not both, and
    /// may not be the repository `sha256` (so `sha256:<short>` is refused
    /// rather than read as a tag).
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        if let Ok(id) = Digest::parse(input) {
            return if id.algorithm() == Algorithm::Sha256 {
                Ok(DaemonReference::Id(id))
            } else {
                Err(ReferenceError::DaemonIdAlgorithm {
                    input: truncate_for_error(input),
                })
            };
        }
        let named = Named::parse_normalized(input)?;
        let input = || truncate_for_error(input);
        if named.familiar_name() == "sha256" {
            return Err(ReferenceError::DaemonReservedName { input: input() });
        }
        match (named.tag(), named.digest()) {
            (None, None) => Err(ReferenceError::DaemonNameOnly { input: input() }),
            (Some(_), Some(_)) => Err(ReferenceError::DaemonTagAndDigest { input: input() }),
            _ => Ok(DaemonReference::Named(named)),
        }
    }

    /// The name and tag `docker load` is to give the image: a destination
    /// must be `NAME:TAG`, since loading can tag an image but not make an
    /// image ID or a digest what the user asked for.
    pub fn destination_tag(&self) -> Result<&Named, ReferenceError> {
        match self {
            DaemonReference::Named(named) if named.tag().is_some() => Ok(named),
            other => Err(ReferenceError::DaemonDestinationNotTagged {
                input: truncate_for_error(&other.to_string()),
            }),
        }
    }
}

/// As the daemon is asked for it, and as containers/image writes it back:
/// the image ID, or the name as Docker shows it (`busybox:1`).
impl fmt::Display for DaemonReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaemonReference::Id(id) => f.write_str(id.as_str()),
            DaemonReference::Named(named) => f.write_str(&named.familiar_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_ends_at_the_first_colon() {
        let r = PathReference::parse("/tmp/x.tar:busybox:1").unwrap();
        assert_eq!(
            (r.path, r.image),
            ("/tmp/x.tar", Some(Image::Name("busybox:1")))
        );
        let r = PathReference::parse("/tmp/x.tar:@2").unwrap();
        assert_eq!(r.image, Some(Image::Index(2)));
        assert_eq!(PathReference::parse("/tmp/x.tar:").unwrap().image, None);
        assert_eq!(PathReference::parse("/tmp/x.tar").unwrap().image, None);
    }

    #[test]
    fn an_empty_path_or_a_bad_index_is_refused() {
        assert!(matches!(
            PathReference::parse(":tag"),
            Err(ReferenceError::EmptyPath { .. })
        ));
        for bad in ["x:@", "x:@x", "x:@-1", "x:@1.5"] {
            assert!(
                matches!(
                    PathReference::parse(bad),
                    Err(ReferenceError::InvalidIndex { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn oci_image_names_follow_containers_image() {
        for good in [
            "v1",
            "latest",
            "a:b",
            "a@b",
            "A.B_c+d",
            "a--b",
            "ns/app:v1.0",
        ] {
            assert_eq!(oci_image_name(good), Ok(()), "{good}");
        }
        for bad in ["-a", "a-", "a..b", "a---b", "a//b", "a/", "/a", "a b", "a!"] {
            assert!(oci_image_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_normalise_as_docker_does() {
        for (input, full) in [
            ("busybox", "docker.io/library/busybox:latest"),
            ("busybox:1.36", "docker.io/library/busybox:1.36"),
            ("user/app:v1", "docker.io/user/app:v1"),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox:latest",
            ),
            ("localhost:5000/app", "localhost:5000/app:latest"),
            ("quay.io/org/app:1.0-rc_1", "quay.io/org/app:1.0-rc_1"),
        ] {
            assert_eq!(
                docker_archive_tag(input).map(|t| t.to_string()).as_deref(),
                Ok(full),
                "{input}"
            );
        }
    }

    #[test]
    fn invalid_names_are_refused() {
        for bad in [
            "",
            "Busybox",
            "a//b",
            "app:",
            "app:-x",
            "app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "a..b",
        ] {
            assert!(docker_archive_tag(bad).is_err(), "{bad}");
        }
    }

    /// The digest of no bytes.
    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn docker_archive_names_are_tagged_and_never_digested() {
        assert_eq!(
            docker_archive_tag("busybox").unwrap().to_string(),
            "docker.io/library/busybox:latest"
        );
        for with_digest in [
            alloc::format!("busybox@{DIGEST}"),
            alloc::format!("busybox:1@{DIGEST}"),
        ] {
            assert!(
                matches!(
                    docker_archive_tag(&with_digest),
                    Err(ReferenceError::DigestNotAllowed { .. })
                ),
                "{with_digest}"
            );
        }
    }

    #[test]
    fn docker_references_default_to_latest_and_keep_a_tag_beside_a_digest() {
        assert_eq!(
            docker("busybox").unwrap().to_string(),
            "docker.io/library/busybox:latest"
        );
        let r = docker(&alloc::format!("quay.io/app@{DIGEST}")).unwrap();
        assert_eq!(r.tag(), None);
        let r = docker(&alloc::format!("quay.io/app:v1@{DIGEST}")).unwrap();
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest().map(|d| d.to_string()), Some(DIGEST.to_string()));
    }

    /// The config digest of the demo image, as an image ID.
    const ID: &str = "sha256:6b5859431f5a414c2e9d0f36c7f5cd3f0979664ef2b85cf47cf74d0beb1c5181";

    #[test]
    fn daemon_references_are_tagged_or_digested_names() {
        for (input, shown) in [
            ("busybox:1", "busybox:1"),
            ("docker.io/library/busybox:latest", "busybox:latest"),
            ("localhost:5000/app:v1", "localhost:5000/app:v1"),
            (
                &*alloc::format!("quay.io/app@{DIGEST}"),
                &*alloc::format!("quay.io/app@{DIGEST}"),
            ),
        ] {
            let parsed = DaemonReference::parse(input).unwrap();
            assert!(matches!(parsed, DaemonReference::Named(_)), "{input}");
            assert_eq!(parsed.to_string(), shown, "{input}");
        }
    }

    #[test]
    fn a_sha256_digest_is_a_daemon_image_id() {
        let parsed = DaemonReference::parse(ID).unwrap();
        assert_eq!(parsed, DaemonReference::Id(Digest::parse(ID).unwrap()));
        assert_eq!(parsed.to_string(), ID);
    }

    #[test]
    fn daemon_references_refuse_what_containers_image_refuses() {
        let sha512 = alloc::format!("sha512:{}", "ab".repeat(64));
        for (input, refused) in [
            ("busybox", "name only"),
            (&*alloc::format!("busybox:1@{DIGEST}"), "tag and digest"),
            (&*sha512, "other algorithm"),
            ("sha256:abc", "reserved"),
            ("sha256", "reserved"),
            (&ID[7..], "bare image id"),
            ("Busybox:1", "upper case"),
        ] {
            let error = DaemonReference::parse(input).unwrap_err();
            let expected = match refused {
                "name only" => matches!(error, ReferenceError::DaemonNameOnly { .. }),
                "tag and digest" => matches!(error, ReferenceError::DaemonTagAndDigest { .. }),
                "other algorithm" => matches!(error, ReferenceError::DaemonIdAlgorithm { .. }),
                "reserved" => matches!(error, ReferenceError::DaemonReservedName { .. }),
                "bare image id" => matches!(error, ReferenceError::ImageId { .. }),
                _ => matches!(error, ReferenceError::NameContainsUppercase { .. }),
            };
            assert!(expected, "{input}: {error:?}");
        }
    }

    #[test]
    fn a_daemon_destination_must_be_name_and_tag() {
        let tagged = DaemonReference::parse("busybox:1").unwrap();
        assert_eq!(
            tagged.destination_tag().unwrap().to_string(),
            "docker.io/library/busybox:1"
        );
        for untaggable in [ID.to_string(), alloc::format!("busybox@{DIGEST}")] {
            let parsed = DaemonReference::parse(&untaggable).unwrap();
            assert!(
                matches!(
                    parsed.destination_tag(),
                    Err(ReferenceError::DaemonDestinationNotTagged { .. })
                ),
                "{untaggable}"
            );
        }
    }
}
