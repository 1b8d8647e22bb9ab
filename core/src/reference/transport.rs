//! What each transport makes of the text after its name, as
//! containers/image's transports read it.
//!
//! | transport | text | read by |
//! |---|---|---|
//! | `docker:` | `//NAME[:TAG][@DIGEST]` | [`docker`] (after the `//`) |
//! | `docker-archive:` | `PATH[:NAME[:TAG]]` or `PATH:@N` | [`PathReference`], then [`docker_archive_tag`] |
//! | `oci:`, `oci-archive:` | `PATH[:NAME]` or `PATH:@N` | [`PathReference`], then [`oci_image_name`] |

use super::{Named, ReferenceError};
use crate::digest::truncate_for_error;

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

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

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
}
