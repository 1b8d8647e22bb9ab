//! `demo:`, a small multi-platform image built into the binary.
//!
//! It lets the README's first command show a real copy on a fresh machine
//! without network: an OCI index of four platforms (linux/amd64,
//! linux/arm64/v8, linux/arm/v7, linux/s390x), each with a config and two
//! gzip layers, the first of which all four share. Everything is generated in memory,
//! deterministically: fixed tar headers, gzip without timestamps, fixed
//! creation times. The digests are the same on every run and machine (a
//! test pins the index digest).

use std::collections::HashMap;

use async_trait::async_trait;
use ferry_core::Digest;
use ferry_core::media_type as mt;

use crate::transport::{BlobInfo, BlobStream, ImageSource, TransportError};

/// The platforms of the demo image.
pub const PLATFORMS: [(&str, &str, &str); 4] = [
    ("linux", "amd64", ""),
    ("linux", "arm64", "v8"),
    ("linux", "arm", "v7"),
    ("linux", "s390x", ""),
];

/// The demo image, every manifest and blob in memory.
#[derive(Debug, Clone)]
pub struct Demo {
    index: Vec<u8>,
    objects: HashMap<Digest, (Vec<u8>, &'static str)>,
}

/// A tar holding `files` (path, content), with fixed metadata.
fn tar(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    let mut dirs: Vec<String> = Vec::new();
    for (path, content) in files {
        // Parent directories first, once each, as image builders write them.
        let mut prefix = String::new();
        for part in path.split('/').take(path.split('/').count() - 1) {
            prefix.push_str(part);
            prefix.push('/');
            if !dirs.contains(&prefix) {
                let mut header = tar::Header::new_ustar();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_mtime(0);
                header.set_size(0);
                // Writing to a Vec cannot fail.
                let _ = builder.append_data(&mut header, &prefix, std::io::empty());
                dirs.push(prefix.clone());
            }
        }
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_size(content.len() as u64);
        let _ = builder.append_data(&mut header, path, content.as_slice());
    }
    builder.into_inner().unwrap_or_default()
}

/// gzip, byte for byte as flate2's miniz_oxide backend wrote it at the
/// default level with mtime 0 (the demo image's digests are pinned in
/// tests and fixtures): miniz_oxide is called directly, because another
/// crate in the tree (pgp) switches flate2 to its zlib-rs backend, whose
/// deflate output differs.
fn gzip(data: &[u8]) -> Vec<u8> {
    // Magic, deflate, no flags, mtime 0, no extra flags, OS unknown (255).
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, 6));
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE: the length modulo 2^32, as gzip defines it.
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

impl Demo {
    /// Builds the demo image.
    pub fn build() -> Self {
        let mut objects = HashMap::new();
        let mut put = |bytes: Vec<u8>, media_type: &'static str| {
            let digest = Digest::sha256_of(&bytes);
            let size = bytes.len();
            objects.insert(digest.clone(), (bytes, media_type));
            (digest, size)
        };
        let readme = "This is ferry's demo image.\n\
            It exists so that `ferry copy --all demo: oci:ferry-demo` shows a real\n\
            multi-platform copy on any machine, offline.\n"
            .repeat(20);
        let base_tar = tar(&[("etc/ferry-demo/README", readme.into_bytes())]);
        let base_diff = Digest::sha256_of(&base_tar);
        let (base, base_size) = put(gzip(&base_tar), mt::OCI_LAYER_GZIP);

        let mut entries = Vec::new();
        for (os, arch, variant) in PLATFORMS {
            let platform = if variant.is_empty() {
                format!("{os}/{arch}")
            } else {
                format!("{os}/{arch}/{variant}")
            };
            let text = format!("built for {platform}\n").repeat(64);
            let own_tar = tar(&[("etc/ferry-demo/platform", text.into_bytes())]);
            let own_diff = Digest::sha256_of(&own_tar);
            let (own, own_size) = put(gzip(&own_tar), mt::OCI_LAYER_GZIP);
            let variant_field = if variant.is_empty() {
                String::new()
            } else {
                format!(r#","variant":"{variant}""#)
            };
            let config = format!(
                r#"{{"created":"2026-01-01T00:00:00Z","architecture":"{arch}","os":"{os}"{variant_field},"config":{{"Env":["PATH=/usr/bin:/bin"],"Cmd":["cat","/etc/ferry-demo/platform"]}},"rootfs":{{"type":"layers","diff_ids":["{base_diff}","{own_diff}"]}},"history":[{{"created":"2026-01-01T00:00:00Z","created_by":"ferry demo: shared base"}},{{"created":"2026-01-01T00:00:00Z","created_by":"ferry demo: {platform}"}}]}}"#
            );
            let (config, config_size) = put(config.into_bytes(), mt::OCI_CONFIG);
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"{}","digest":"{base}","size":{base_size}}},{{"mediaType":"{}","digest":"{own}","size":{own_size}}}],"annotations":{{"org.opencontainers.image.title":"ferry demo"}}}}"#,
                mt::OCI_MANIFEST,
                mt::OCI_CONFIG,
                mt::OCI_LAYER_GZIP,
                mt::OCI_LAYER_GZIP
            );
            let (manifest, manifest_size) = put(manifest.into_bytes(), mt::OCI_MANIFEST);
            entries.push(format!(
                r#"{{"mediaType":"{}","digest":"{manifest}","size":{manifest_size},"platform":{{"architecture":"{arch}","os":"{os}"{variant_field}}}}}"#,
                mt::OCI_MANIFEST
            ));
        }
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{}],"annotations":{{"org.opencontainers.image.description":"ferry's built-in demo image"}}}}"#,
            mt::OCI_INDEX,
            entries.join(",")
        )
        .into_bytes();
        Demo { index, objects }
    }

    /// The index's bytes.
    pub fn index(&self) -> &[u8] {
        &self.index
    }
}

#[async_trait]
impl ImageSource for Demo {
    fn reference(&self) -> String {
        "demo:".into()
    }

    async fn manifest(
        &self,
        instance: Option<&Digest>,
    ) -> Result<(Vec<u8>, Option<String>), TransportError> {
        match instance {
            None => Ok((self.index.clone(), Some(mt::OCI_INDEX.into()))),
            Some(d) => match self.objects.get(d) {
                Some((bytes, media_type)) => Ok((bytes.clone(), Some((*media_type).into()))),
                None => Err(TransportError::NotFound {
                    what: format!("manifest {d}"),
                    location: self.reference(),
                }),
            },
        }
    }

    async fn blob(&self, info: &BlobInfo) -> Result<(BlobStream, Option<u64>), TransportError> {
        match self.objects.get(&info.digest) {
            Some((bytes, _)) => Ok((
                Box::pin(std::io::Cursor::new(bytes.clone())),
                Some(bytes.len() as u64),
            )),
            None => Err(TransportError::NotFound {
                what: format!("blob {}", info.digest),
                location: self.reference(),
            }),
        }
    }

    async fn signatures(&self, _instance: Option<&Digest>) -> Result<Vec<Vec<u8>>, TransportError> {
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_image_is_the_same_every_time() {
        let a = Demo::build();
        let b = Demo::build();
        assert_eq!(a.index(), b.index());
        assert_eq!(
            Digest::sha256_of(a.index()).to_string(),
            "sha256:dceb5d4a6bad3eb2dd02f10a6b6a19a36cce7e0850d937fb68b81dfae2811111"
        );
    }

    #[test]
    fn the_demo_index_is_valid_and_shares_its_base_layer() {
        let demo = Demo::build();
        assert!(ferry_core::validate::validate(demo.index()).is_valid());
        let list = ferry_core::List::parse(demo.index()).unwrap();
        assert_eq!(list.entries.len(), 4);
        let mut layers = Vec::new();
        for entry in &list.entries {
            let (bytes, _) = &demo.objects[&entry.digest().unwrap()];
            let report = ferry_core::validate::validate(bytes);
            assert!(report.is_valid(), "{:?}", report.diagnostics);
            let m = ferry_core::Manifest::parse(bytes).unwrap();
            layers.push(m.layers()[0].descriptor.digest_text.clone());
        }
        assert!(layers.windows(2).all(|w| w[0] == w[1]));
    }
}
