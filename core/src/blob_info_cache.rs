//! What a layer became when ferry compressed it, and where that form is
//! known to exist: containers/image's blob info cache, for the one
//! question recompression asks ("has this layer, compressed this way,
//! been made before, and where is it?").
//!
//! containers/image (pkg/blobinfocache, BoltDB in 5.23) records three
//! facts per blob: its uncompressed digest, the compressor that made it,
//! and the (transport, scope) locations where it was seen. ferry keeps
//! its own small JSON file rather than writing into that database (see
//! README, "Blob info cache"); this module is the file's content and
//! every decision over it. The native crate only reads, locks and writes
//! the file.
//!
//! An entry is keyed by the source blob's digest and the compression
//! asked (format and level). It also records the source's compression
//! as detected from its bytes: the digest pins the bytes, so the
//! detection is as good as a fresh one, and the copy can decide the
//! step ([`compression::step`]) without fetching a byte.
//!
//! A cached answer is a claim, not a fact: the engine uses it only when
//! the destination proves it, by holding a blob of the cached digest and
//! size (a HEAD) or by mounting it (the registry resolves a mount by
//! digest). Otherwise the layer is compressed as if nothing were cached.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::digest::Digest;
use crate::plan::compression::{self, Format, Step, Wish};
use crate::tar::Compression;

/// The file format's version; a file of another version is ignored.
pub const VERSION: u32 = 1;

/// Entries kept; recording past it forgets the least recently recorded.
/// An entry is ~300 bytes, so the file stays under a megabyte.
pub const MAX_ENTRIES: usize = 2048;

/// Locations kept per entry, the most recent last.
pub const MAX_LOCATIONS: usize = 16;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobInfoCache {
    pub version: u32,
    /// Oldest first.
    pub entries: Vec<Entry>,
}

impl Default for BlobInfoCache {
    fn default() -> Self {
        BlobInfoCache {
            version: VERSION,
            entries: Vec::new(),
        }
    }
}

/// One compression of one source blob.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The blob as the source stores it.
    pub source: Digest,
    /// Its compression as detected from its bytes: `gzip`, `zstd` or
    /// `none`.
    #[serde(rename = "sourceCompression")]
    pub source_compression: String,
    /// The format asked (`gzip`, `zstd`) and its level.
    pub format: String,
    pub level: i32,
    /// What the compression produced.
    pub digest: Digest,
    pub size: u64,
    /// Where it was written or found, most recent last.
    pub locations: Vec<Location>,
}

/// A repository of a registry (its API host, as mounts name it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub registry: String,
    pub repository: String,
}

/// Why a cache file is not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheError {
    /// Not JSON of the expected shape (the parser's words).
    Malformed(String),
    /// Written by another version of the format.
    Version(u32),
    /// An entry names a compression ferry does not write or detect.
    Compression { entry: usize, name: String },
}

impl core::fmt::Display for CacheError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CacheError::Malformed(e) => write!(f, "malformed blob info cache: {e}"),
            CacheError::Version(v) => write!(f, "blob info cache version {v}, expected {VERSION}"),
            CacheError::Compression { entry, name } => {
                write!(
                    f,
                    "blob info cache entry {entry}: unknown compression {name}",
                    name = crate::Quoted(name)
                )
            }
        }
    }
}

/// What a lookup found: the step the layer would take, and its result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The source's compression, as once detected.
    pub detected: Option<Compression>,
    pub step: Step,
    pub digest: Digest,
    pub size: u64,
    /// Newest first.
    pub locations: Vec<Location>,
}

/// What a compression produced, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub source: Digest,
    pub detected: Option<Compression>,
    pub step: Step,
    pub digest: Digest,
    pub size: u64,
    /// Where it now is (a registry destination), if anywhere known.
    pub location: Option<Location>,
}

fn compression_name(c: Option<Compression>) -> Option<&'static str> {
    match c {
        None => Some("none"),
        Some(Compression::Gzip) => Some("gzip"),
        Some(Compression::Zstd) => Some("zstd"),
        Some(Compression::Xz | Compression::Bzip2) => None,
    }
}

fn compression_of(name: &str) -> Option<Option<Compression>> {
    match name {
        "none" => Some(None),
        "gzip" => Some(Some(Compression::Gzip)),
        "zstd" => Some(Some(Compression::Zstd)),
        _ => None,
    }
}

/// The format and level of a step that compresses: the only steps cached
/// (a decompression has one result, the diff ID, and is cheap).
fn compresses(step: Step) -> Option<(Format, i32)> {
    match step {
        Step::Compress { to, level } | Step::Recompress { to, level, .. } => Some((to, level)),
        Step::Keep | Step::Decompress { .. } => None,
    }
}

/// Whether a layer copied with `wish` may be compressed, whatever its
/// source compression: only then can the cache save work, and only then
/// is it worth reading.
pub fn may_compress(wish: &Wish) -> bool {
    [None, Some(Compression::Gzip), Some(Compression::Zstd)]
        .into_iter()
        .any(|detected| compresses(compression::step(detected, wish)).is_some())
}

impl BlobInfoCache {
    /// Reads a file's content; any flaw refuses the whole file, which is
    /// then ignored (never partly trusted).
    pub fn parse(bytes: &[u8]) -> Result<Self, CacheError> {
        let cache: BlobInfoCache =
            serde_json::from_slice(bytes).map_err(|e| CacheError::Malformed(e.to_string()))?;
        if cache.version != VERSION {
            return Err(CacheError::Version(cache.version));
        }
        for (i, e) in cache.entries.iter().enumerate() {
            let bad = |name: &str| CacheError::Compression {
                entry: i,
                name: name.into(),
            };
            compression_of(&e.source_compression).ok_or_else(|| bad(&e.source_compression))?;
            Format::parse(&e.format).map_err(|_| bad(&e.format))?;
        }
        Ok(cache)
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// What compressing `source` as `wish` asks made before, if that was
    /// recorded and the step is a compression.
    pub fn lookup(&self, source: &Digest, wish: &Wish) -> Option<Hit> {
        self.entries.iter().rev().find_map(|e| {
            if e.source != *source {
                return None;
            }
            let detected = compression_of(&e.source_compression)?;
            let step = compression::step(detected, wish);
            let (to, level) = compresses(step)?;
            (e.format == to.name() && e.level == level).then(|| Hit {
                detected,
                step,
                digest: e.digest.clone(),
                size: e.size,
                locations: e.locations.iter().rev().cloned().collect(),
            })
        })
    }

    /// Records a compression's result (a step that is not a compression,
    /// or a source compression ferry does not detect, records nothing).
    /// The entry becomes the newest; past [`MAX_ENTRIES`] the oldest go.
    pub fn record(&mut self, record: Record) {
        let Some((to, level)) = compresses(record.step) else {
            return;
        };
        let Some(source_compression) = compression_name(record.detected) else {
            return;
        };
        let same =
            |e: &Entry| e.source == record.source && e.format == to.name() && e.level == level;
        let mut locations = match self.entries.iter().position(same) {
            // A different result for the same key (another encoder
            // version) replaces the old one, and its locations with it.
            Some(i) => {
                let old = self.entries.remove(i);
                if old.digest == record.digest {
                    old.locations
                } else {
                    Vec::new()
                }
            }
            None => Vec::new(),
        };
        if let Some(location) = record.location {
            locations.retain(|l| *l != location);
            locations.push(location);
        }
        if locations.len() > MAX_LOCATIONS {
            locations.drain(..locations.len() - MAX_LOCATIONS);
        }
        self.entries.push(Entry {
            source: record.source,
            source_compression: source_compression.into(),
            format: to.name().into(),
            level,
            digest: record.digest,
            size: record.size,
            locations,
        });
        if self.entries.len() > MAX_ENTRIES {
            let excess = self.entries.len() - MAX_ENTRIES;
            self.entries.drain(..excess);
        }
    }
}

impl Hit {
    /// Whether a blob the destination reports holding (its length, when
    /// the destination says) is the cached one: the digest was asked, the
    /// size must agree too.
    pub fn is_proven_by(&self, present_size: Option<u64>) -> bool {
        present_size.is_none_or(|s| s == self.size)
    }

    /// The repositories to try a mount from, newest first: those of the
    /// destination's registry other than the destination itself.
    pub fn mount_sources<'a>(
        &'a self,
        registry: &'a str,
        repository: &'a str,
    ) -> impl Iterator<Item = &'a Location> + 'a {
        self.locations
            .iter()
            .filter(move |l| l.registry == registry && l.repository != repository)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::compression::Desired;

    fn digest(c: char) -> Digest {
        Digest::parse(&alloc::format!("sha256:{}", c.to_string().repeat(64))).unwrap()
    }

    fn zstd_wish() -> Wish {
        Wish {
            desired: Desired::Compress,
            format: Some(Format::Zstd),
            level: None,
            force: false,
        }
    }

    fn gzip_to_zstd(location: Option<(&str, &str)>) -> Record {
        Record {
            source: digest('a'),
            detected: Some(Compression::Gzip),
            step: compression::step(Some(Compression::Gzip), &zstd_wish()),
            digest: digest('b'),
            size: 42,
            location: location.map(|(r, p)| Location {
                registry: r.into(),
                repository: p.into(),
            }),
        }
    }

    #[test]
    fn a_recorded_recompression_is_found_for_the_same_wish() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/one"))));
        let hit = cache.lookup(&digest('a'), &zstd_wish()).unwrap();
        assert_eq!(hit.digest, digest('b'));
        assert_eq!(hit.size, 42);
        assert_eq!(hit.detected, Some(Compression::Gzip));
        assert_eq!(hit.locations[0].repository, "a/one");
    }

    #[test]
    fn another_level_is_not_a_hit() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(None));
        let wish = Wish {
            level: Some(19),
            ..zstd_wish()
        };
        assert_eq!(cache.lookup(&digest('a'), &wish), None);
    }

    #[test]
    fn a_wish_that_keeps_the_layer_is_not_a_hit() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(None));
        let gzip = Wish {
            format: Some(Format::Gzip),
            ..zstd_wish()
        };
        assert_eq!(cache.lookup(&digest('a'), &gzip), None);
    }

    #[test]
    fn a_decompression_records_nothing() {
        let mut cache = BlobInfoCache::default();
        cache.record(Record {
            step: Step::Decompress { from: Format::Gzip },
            ..gzip_to_zstd(None)
        });
        assert!(cache.entries.is_empty());
    }

    #[test]
    fn recording_again_adds_the_location_newest_first() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/one"))));
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/two"))));
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/one"))));
        assert_eq!(cache.entries.len(), 1);
        let hit = cache.lookup(&digest('a'), &zstd_wish()).unwrap();
        let repos: Vec<_> = hit
            .locations
            .iter()
            .map(|l| l.repository.as_str())
            .collect();
        assert_eq!(repos, ["a/one", "a/two"]);
    }

    #[test]
    fn mounts_come_from_other_repositories_of_the_same_registry() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(Some(("other:5000", "a/one"))));
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/one"))));
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/two"))));
        let hit = cache.lookup(&digest('a'), &zstd_wish()).unwrap();
        let from: Vec<_> = hit
            .mount_sources("reg:5000", "a/two")
            .map(|l| l.repository.as_str())
            .collect();
        assert_eq!(from, ["a/one"]);
    }

    #[test]
    fn a_present_blob_of_another_size_does_not_prove_a_hit() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(None));
        let hit = cache.lookup(&digest('a'), &zstd_wish()).unwrap();
        assert!(hit.is_proven_by(Some(42)));
        assert!(hit.is_proven_by(None));
        assert!(!hit.is_proven_by(Some(41)));
    }

    #[test]
    fn the_oldest_entries_are_forgotten_past_the_bound() {
        let mut cache = BlobInfoCache::default();
        for i in 0..MAX_ENTRIES + 2 {
            let source = Digest::parse(&alloc::format!("sha256:{:064x}", i)).unwrap();
            cache.record(Record {
                source,
                ..gzip_to_zstd(None)
            });
        }
        assert_eq!(cache.entries.len(), MAX_ENTRIES);
        let first = Digest::parse(&alloc::format!("sha256:{:064x}", 0)).unwrap();
        assert_eq!(cache.lookup(&first, &zstd_wish()), None);
    }

    #[test]
    fn a_file_round_trips() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(Some(("reg:5000", "a/one"))));
        assert_eq!(BlobInfoCache::parse(&cache.to_bytes()), Ok(cache));
    }

    #[test]
    fn a_truncated_file_is_refused() {
        let mut cache = BlobInfoCache::default();
        cache.record(gzip_to_zstd(None));
        let bytes = cache.to_bytes();
        assert!(matches!(
            BlobInfoCache::parse(&bytes[..bytes.len() / 2]),
            Err(CacheError::Malformed(_))
        ));
    }

    #[test]
    fn a_bad_digest_refuses_the_file() {
        let text = r#"{"version":1,"entries":[{"source":"sha256:zz","sourceCompression":"gzip",
            "format":"zstd","level":3,"digest":"sha256:zz","size":1,"locations":[]}]}"#;
        assert!(matches!(
            BlobInfoCache::parse(text.as_bytes()),
            Err(CacheError::Malformed(_))
        ));
    }

    #[test]
    fn another_version_is_refused() {
        assert_eq!(
            BlobInfoCache::parse(br#"{"version":2,"entries":[]}"#),
            Err(CacheError::Version(2))
        );
    }

    #[test]
    fn an_unknown_compression_refuses_the_file() {
        let a = "a".repeat(64);
        let text = alloc::format!(
            r#"{{"version":1,"entries":[{{"source":"sha256:{a}","sourceCompression":"lz4",
            "format":"zstd","level":3,"digest":"sha256:{a}","size":1,"locations":[]}}]}}"#
        );
        assert!(matches!(
            BlobInfoCache::parse(text.as_bytes()),
            Err(CacheError::Compression { entry: 0, .. })
        ));
    }
}
