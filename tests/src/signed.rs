//! An image with referrers, for the tests of `--referrers`: an image
//! with no layers, a signature whose subject is the image, and a
//! countersignature whose subject is the signature.

use std::path::{Path, PathBuf};

use ferry_core::Digest;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const SIG_TYPE: &str = "application/vnd.example.signature.v1";
pub const COUNTER_TYPE: &str = "application/vnd.example.countersignature.v1";

/// A blob or manifest: its bytes and digest.
#[derive(Debug, Clone)]
pub struct Content {
    pub bytes: Vec<u8>,
    pub digest: Digest,
}

impl Content {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Content {
        let bytes = bytes.into();
        let digest = Digest::sha256_of(&bytes);
        Content { bytes, digest }
    }

    pub fn descriptor(&self, media_type: &str) -> String {
        format!(
            r#"{{"mediaType":"{media_type}","digest":"{}","size":{}}}"#,
            self.digest,
            self.bytes.len()
        )
    }
}

/// An image with no layers, a signature whose subject is the image, and a
/// countersignature whose subject is the signature.
#[derive(Debug)]
pub struct Signed {
    pub config: Content,
    pub empty: Content,
    pub payload: Content,
    pub image: Content,
    pub signature: Content,
    pub counter: Content,
}

pub fn artifact(
    artifact_type: &str,
    empty: &Content,
    layer: &Content,
    subject: &Content,
) -> Content {
    Content::new(format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","artifactType":"{artifact_type}","config":{},"layers":[{}],"subject":{},"annotations":{{"org.example.made-by":"ferry tests"}}}}"#,
        empty.descriptor(EMPTY),
        layer.descriptor("application/vnd.example.payload"),
        subject.descriptor(OCI_MANIFEST)
    ))
}

impl Signed {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Signed {
        let config = Content::new(
            r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        );
        let empty = Content::new("{}");
        let payload = Content::new("a signature, for the tests");
        let image = Content::new(format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_MANIFEST}","config":{},"layers":[]}}"#,
            config.descriptor("application/vnd.oci.image.config.v1+json")
        ));
        let signature = artifact(SIG_TYPE, &empty, &payload, &image);
        let counter = artifact(COUNTER_TYPE, &empty, &payload, &signature);
        Signed {
            config,
            empty,
            payload,
            image,
            signature,
            counter,
        }
    }

    pub fn blobs(&self) -> [&Content; 6] {
        [
            &self.config,
            &self.empty,
            &self.payload,
            &self.image,
            &self.signature,
            &self.counter,
        ]
    }

    /// An OCI layout holding the image as `img` and both referrers as
    /// unnamed entries.
    pub fn layout(&self, root: &Path) {
        self.layout_with(root, &[]);
    }

    /// [`layout`](Self::layout), with more entries: `(name, manifest)`.
    pub fn layout_with(&self, root: &Path, named: &[(&str, &Content)]) {
        std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        std::fs::write(
            root.join("oci-layout"),
            r#"{"imageLayoutVersion": "1.0.0"}"#,
        )
        .unwrap();
        for c in self.blobs() {
            std::fs::write(root.join("blobs/sha256").join(c.digest.encoded()), &c.bytes).unwrap();
        }
        let entry = |name: &str, c: &Content| {
            format!(
                r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{name}"}}}}"#,
                c.digest,
                c.bytes.len()
            )
        };
        let mut entries = vec![
            entry("img", &self.image),
            self.signature.descriptor(OCI_MANIFEST),
            self.counter.descriptor(OCI_MANIFEST),
        ];
        entries.extend(named.iter().map(|(name, c)| entry(name, c)));
        std::fs::write(
            root.join("index.json"),
            format!(
                r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
                entries.join(",")
            ),
        )
        .unwrap();
    }
}

/// [`Signed`] as an OCI layout ([`Signed::layout`]) in a temporary
/// directory of its own, removed when this is dropped.
#[derive(Debug)]
pub struct SignedLayout {
    pub signed: Signed,
    dir: tempfile::TempDir,
}

impl SignedLayout {
    #[allow(clippy::new_without_default)]
    pub fn new() -> SignedLayout {
        let layout = SignedLayout {
            signed: Signed::new(),
            dir: tempfile::tempdir().unwrap(),
        };
        layout.signed.layout(&layout.path());
        layout
    }

    /// The layout's directory.
    pub fn path(&self) -> PathBuf {
        self.beside("layout")
    }

    /// The image, as ferry names it: `oci:<layout>:img`.
    pub fn image(&self) -> String {
        format!("oci:{}:img", self.path().display())
    }

    /// `name` in the temporary directory, beside the layout.
    pub fn beside(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
