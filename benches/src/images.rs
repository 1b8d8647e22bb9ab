//! Deterministic container images for the whole-copy benchmarks
//! (`benches/run.py`): OCI layouts whose layers are real `tar.gz` archives
//! of pseudo-random bytes.
//!
//! Random payload keeps compressed sizes equal to the stated sizes (gzip
//! cannot shrink it), so "64 MiB per platform" is 64 MiB on disk and on
//! the wire. Everything derives from fixed seeds and gzip headers carry no
//! timestamp, so every run on every machine writes the same bytes and the
//! same digests.

use std::fmt;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use ferry_core::Digest;
use flate2::{Compression, GzBuilder};

const MIB: usize = 1024 * 1024;

/// OCI and Docker media types the generator writes.
mod media {
    pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
    pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
    pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
    pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
    pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
    pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
}

/// Why writing a layout failed, and on which file.
#[derive(Debug)]
#[non_exhaustive]
pub enum LayoutError {
    /// A file system operation failed.
    Io {
        path: PathBuf,
        action: &'static str,
        error: std::io::Error,
    },
}

impl LayoutError {
    /// Wraps an I/O error with the path and what was being done to it.
    pub fn io(path: &Path, action: &'static str) -> impl FnOnce(std::io::Error) -> LayoutError {
        let path = path.to_path_buf();
        move |error| LayoutError::Io {
            path,
            action,
            error,
        }
    }
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::Io {
                path,
                action,
                error,
            } => write!(f, "{action} {}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LayoutError {}

/// A platform: os, architecture, variant ("" for none).
type PlatformTriple = (&'static str, &'static str, &'static str);

/// What an image looks like: its platforms and the payload size of every
/// layer.
#[derive(Debug, Clone)]
pub struct Shape {
    /// One platform means a single image, more mean a list.
    pub platforms: Vec<PlatformTriple>,
    /// The payload of the layer every platform shares (0: none).
    pub shared_layer: usize,
    /// Payloads of each platform's own layers.
    pub own_layers: Vec<usize>,
    /// Docker media types instead of OCI ones.
    pub docker: bool,
}

impl Shape {
    /// Four platforms of five layers each, 64 MiB of payload per platform:
    /// a 38 MiB base shared by all and four layers of 6.5 MiB, so the image
    /// holds 142 MiB of distinct layers (the size behind issue 9's
    /// reference timings).
    pub fn multi_platform(docker: bool) -> Shape {
        Shape {
            platforms: vec![
                ("linux", "amd64", ""),
                ("linux", "arm64", "v8"),
                ("linux", "arm", "v7"),
                ("linux", "ppc64le", ""),
            ],
            shared_layer: 38 * MIB,
            own_layers: vec![13 * MIB / 2; 4],
            docker,
        }
    }

    /// One linux/amd64 image of 200 layers of 50 KiB: per-blob overheads
    /// (requests, file creation, existence checks) dominate.
    pub fn many_small() -> Shape {
        Shape {
            platforms: vec![("linux", "amd64", "")],
            shared_layer: 0,
            own_layers: vec![50 * 1024; 200],
            docker: false,
        }
    }
}

/// An image to write under a name (the `index.json` ref name).
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub shape: Shape,
    pub name: &'static str,
}

/// What was written: counts and bytes, for the log and the results table.
#[derive(Debug, Clone, Copy, Default)]
pub struct Summary {
    pub blobs: usize,
    pub layers: usize,
    pub bytes: u64,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} blobs ({} distinct layers), {:.1} MiB",
            self.blobs,
            self.layers,
            self.bytes as f64 / MIB as f64
        )
    }
}

/// A blob written to the layout.
#[derive(Debug, Clone)]
struct Blob {
    media_type: &'static str,
    digest: Digest,
    size: usize,
}

impl Blob {
    fn descriptor(&self) -> String {
        format!(
            r#"{{"mediaType":"{}","digest":"{}","size":{}}}"#,
            self.media_type, self.digest, self.size
        )
    }
}

/// A layer: its blob and the digest of its uncompressed tar.
#[derive(Debug, Clone)]
struct Layer {
    blob: Blob,
    diff_id: Digest,
}

/// An OCI image layout being written.
#[derive(Debug)]
pub struct Layout {
    root: PathBuf,
    summary: Summary,
}

impl Layout {
    /// Writes `spec` as a complete OCI layout at `root` (which must not
    /// exist yet or be empty).
    pub fn write(root: &Path, spec: &ImageSpec) -> Result<Summary, LayoutError> {
        let blobs = root.join("blobs").join("sha256");
        fs::create_dir_all(&blobs).map_err(LayoutError::io(&blobs, "create"))?;
        let mut layout = Layout {
            root: root.to_path_buf(),
            summary: Summary::default(),
        };
        let shape = &spec.shape;
        let (layer_type, config_type, manifest_type, list_type) = if shape.docker {
            (
                media::DOCKER_LAYER,
                media::DOCKER_CONFIG,
                media::DOCKER_MANIFEST,
                media::DOCKER_LIST,
            )
        } else {
            (
                media::OCI_LAYER,
                media::OCI_CONFIG,
                media::OCI_MANIFEST,
                media::OCI_INDEX,
            )
        };
        let shared = if shape.shared_layer > 0 {
            Some(layout.layer(layer_type, "shared base", shape.shared_layer)?)
        } else {
            None
        };
        let mut entries = Vec::new();
        for (p, platform) in shape.platforms.iter().enumerate() {
            let mut layers: Vec<Layer> = shared.iter().cloned().collect();
            for (l, size) in shape.own_layers.iter().enumerate() {
                layers.push(layout.layer(layer_type, &format!("platform {p} layer {l}"), *size)?);
            }
            let config = layout.put(config_type, config_json(platform, &layers).as_bytes())?;
            let layer_descriptors: Vec<String> =
                layers.iter().map(|l| l.blob.descriptor()).collect();
            let manifest = format!(
                r#"{{"schemaVersion":2,"mediaType":"{manifest_type}","config":{},"layers":[{}]}}"#,
                config.descriptor(),
                layer_descriptors.join(",")
            );
            let manifest = layout.put(manifest_type, manifest.as_bytes())?;
            entries.push((manifest, *platform));
        }
        let top = if let [(single, _)] = entries.as_slice() {
            single.clone()
        } else {
            let listed: Vec<String> = entries
                .iter()
                .map(|(m, (os, arch, variant))| {
                    let variant = if variant.is_empty() {
                        String::new()
                    } else {
                        format!(r#","variant":"{variant}""#)
                    };
                    format!(
                        r#"{{"mediaType":"{}","digest":"{}","size":{},"platform":{{"architecture":"{arch}","os":"{os}"{variant}}}}}"#,
                        m.media_type, m.digest, m.size
                    )
                })
                .collect();
            let list = format!(
                r#"{{"schemaVersion":2,"mediaType":"{list_type}","manifests":[{}]}}"#,
                listed.join(",")
            );
            layout.put(list_type, list.as_bytes())?
        };
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{}","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"{}"}}}}]}}"#,
            top.media_type, top.digest, top.size, spec.name
        );
        layout.file("index.json", index.as_bytes())?;
        layout.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(layout.summary)
    }

    /// Writes a `tar.gz` layer holding one file of `payload` random bytes
    /// seeded by `seed`.
    fn layer(
        &mut self,
        media_type: &'static str,
        seed: &str,
        payload: usize,
    ) -> Result<Layer, LayoutError> {
        let tar = tar_of_random(seed, payload);
        let diff_id = Digest::sha256_of(&tar);
        let mut gz = GzBuilder::new()
            .mtime(0)
            .write(Vec::with_capacity(tar.len() + 4096), Compression::fast());
        let gz_path = self.root.join("(gzip)");
        gz.write_all(&tar)
            .map_err(LayoutError::io(&gz_path, "compress"))?;
        let compressed = gz.finish().map_err(LayoutError::io(&gz_path, "compress"))?;
        let blob = self.put(media_type, &compressed)?;
        self.summary.layers += 1;
        Ok(Layer { blob, diff_id })
    }

    /// Stores a blob under its digest.
    fn put(&mut self, media_type: &'static str, bytes: &[u8]) -> Result<Blob, LayoutError> {
        let digest = Digest::sha256_of(bytes);
        let path = self
            .root
            .join("blobs")
            .join("sha256")
            .join(digest.encoded());
        fs::write(&path, bytes).map_err(LayoutError::io(&path, "write"))?;
        self.summary.blobs += 1;
        self.summary.bytes += bytes.len() as u64;
        Ok(Blob {
            media_type,
            digest,
            size: bytes.len(),
        })
    }

    fn file(&self, name: &str, bytes: &[u8]) -> Result<(), LayoutError> {
        let path = self.root.join(name);
        fs::write(&path, bytes).map_err(LayoutError::io(&path, "write"))
    }
}

/// An image config naming the platform and the layers' diff IDs.
fn config_json((os, arch, variant): &PlatformTriple, layers: &[Layer]) -> String {
    let diff_ids: Vec<String> = layers
        .iter()
        .map(|l| format!(r#""{}""#, l.diff_id))
        .collect();
    let history: Vec<&str> = layers
        .iter()
        .map(|_| r#"{"created":"2026-01-01T00:00:00Z","created_by":"ferry bench generator"}"#)
        .collect();
    let variant = if variant.is_empty() {
        String::new()
    } else {
        format!(r#","variant":"{variant}""#)
    };
    format!(
        r#"{{"architecture":"{arch}","os":"{os}"{variant},"created":"2026-01-01T00:00:00Z","config":{{"Env":["PATH=/usr/bin"]}},"rootfs":{{"type":"layers","diff_ids":[{}]}},"history":[{}]}}"#,
        diff_ids.join(","),
        history.join(",")
    )
}

/// A tar archive with one regular file, `data`, of `payload` random bytes.
fn tar_of_random(seed: &str, payload: usize) -> Vec<u8> {
    let mut data = vec![0u8; payload];
    Prng::new(seed).fill(&mut data);
    let mut header = tar::Header::new_ustar();
    header
        .set_path("data")
        .expect("a four-letter relative path fits a ustar header");
    header.set_size(payload as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    let mut out = Vec::with_capacity(payload + 2048);
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&data);
    out.resize(out.len().next_multiple_of(512), 0);
    // Two zero blocks end the archive.
    out.resize(out.len() + 1024, 0);
    out
}

/// xoshiro256** seeded through splitmix64 from a string's sha256: fast,
/// and the same bytes everywhere.
#[derive(Debug)]
struct Prng([u64; 4]);

impl Prng {
    fn new(seed: &str) -> Prng {
        let digest = Digest::sha256_of(seed.as_bytes());
        let hex = digest.encoded();
        let mut x = u64::from_str_radix(&hex[..16], 16).expect("sha256 hex is hex");
        let mut state = [0u64; 4];
        for s in &mut state {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *s = z ^ (z >> 31);
        }
        Prng(state)
    }

    fn next(&mut self) -> u64 {
        let s = &mut self.0;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn fill(&mut self, out: &mut [u8]) {
        let mut chunks = out.chunks_exact_mut(8);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next().to_le_bytes();
        rest.copy_from_slice(&last[..rest.len()]);
    }
}
