//! What the registry protocol makes of a `docker://` reference (parsed by
//! [`crate::reference::transport::docker`]): the host to talk to and what
//! to ask `/manifests/` for.

use alloc::string::{String, ToString};

use crate::reference::{DEFAULT_DOMAIN, DEFAULT_TAG, Named};

/// The host Docker Hub's API actually answers on.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

impl Named {
    /// The host to talk to (Docker Hub's API lives elsewhere).
    pub fn api_host(&self) -> &str {
        if self.domain() == DEFAULT_DOMAIN {
            DOCKER_HUB_API
        } else {
            self.domain()
        }
    }

    /// What to put after `/manifests/`: the digest when there is one, else
    /// the tag.
    pub fn manifest_reference(&self) -> String {
        match (self.digest(), self.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => DEFAULT_TAG.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::reference::transport::docker;

    #[test]
    fn docker_hub_is_asked_on_its_api_host() {
        assert_eq!(
            docker("busybox").unwrap().api_host(),
            "registry-1.docker.io"
        );
        assert_eq!(
            docker("index.docker.io/busybox").unwrap().api_host(),
            "registry-1.docker.io"
        );
        assert_eq!(
            docker("127.0.0.1:5000/ns/app").unwrap().api_host(),
            "127.0.0.1:5000"
        );
    }

    #[test]
    fn a_digest_is_asked_for_before_a_tag() {
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let r = docker(&alloc::format!("quay.io/app:v1@{d}")).unwrap();
        assert_eq!(r.manifest_reference(), d);
        assert_eq!(
            docker("quay.io/app").unwrap().manifest_reference(),
            "latest"
        );
    }
}
