//! `ferry sync`: which images a mirror run copies, and where each goes.
//!
//! The native side lists tags and walks directories; everything it then
//! needs decided is here: the YAML source ([`config`]), which tags a
//! regex or semver constraint selects ([`TagFilter`]), how a source
//! reference names its destination, exactly as skopeo sync names it
//! ([`destination_suffix`], [`join`]), the deterministic partition of a
//! run into shards ([`Shard`]), the plan that puts these together
//! ([`plan`]), and the report that shards merge ([`report`]).
//!
//! Everything is bounded: a run names at most [`MAX_IMAGES`] images, a tag
//! regex is compiled by a finite-automaton engine (no backtracking; time
//! linear in the tag) under a size limit, and a semver constraint is at
//! most [`semver::MAX_CONSTRAINT_LEN`] bytes.

pub mod config;
pub mod report;
pub mod semver;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::reference::{Named, ReferenceError};

/// The most images one run plans (after listing tags): far beyond the
/// largest mirror we know of per run, and what keeps a registry whose tag
/// list never ends, or a file of a million tags, from exhausting memory.
/// Larger mirrors are split across runs or shards of several files.
pub const MAX_IMAGES: usize = 100_000;
/// The longest tag regex accepted.
pub const MAX_REGEX_LEN: usize = 1024;
/// The most memory a compiled tag regex may take.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// An `images-by-tag-regex` pattern. skopeo compiles it with Go's
/// `regexp` (RE2: no backreferences, linear time) and selects the tags it
/// matches anywhere (`MatchString`, unanchored); this is the same family
/// of engine, with Go's ASCII meaning of `\d`, `\w` and `\s`.
#[derive(Debug, Clone)]
pub struct TagRegex {
    pattern: String,
    regex: regex_automata::meta::Regex,
}

impl TagRegex {
    /// Compiles `pattern`; the error says why it is refused.
    pub fn new(pattern: &str) -> Result<TagRegex, String> {
        if pattern.len() > MAX_REGEX_LEN {
            return Err(alloc::format!(
                "{} bytes long, more than {MAX_REGEX_LEN}",
                pattern.len()
            ));
        }
        let regex = regex_automata::meta::Regex::builder()
            .syntax(
                regex_automata::util::syntax::Config::new()
                    .unicode(false)
                    .utf8(false)
                    .nest_limit(64),
            )
            .configure(
                regex_automata::meta::Config::new()
                    .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
                    .onepass_size_limit(Some(REGEX_SIZE_LIMIT))
                    .hybrid_cache_capacity(REGEX_SIZE_LIMIT)
                    .utf8_empty(false),
            )
            .build(pattern)
            .map_err(|e| e.to_string())?;
        Ok(TagRegex {
            pattern: pattern.to_string(),
            regex,
        })
    }

    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// Whether the pattern matches somewhere in `tag`.
    pub fn selects(&self, tag: &str) -> bool {
        self.regex.is_match(tag)
    }
}

/// Which of a repository's tags a sync takes.
#[derive(Debug, Clone)]
pub enum TagFilter {
    /// Every tag (`images: {repo: []}`, or a repository given without a
    /// tag on the command line).
    All,
    /// `images-by-tag-regex`.
    Regex(alloc::boxed::Box<TagRegex>),
    /// `images-by-semver`.
    Semver(semver::Constraint),
}

impl TagFilter {
    pub fn selects(&self, tag: &str) -> bool {
        match self {
            TagFilter::All => true,
            TagFilter::Regex(r) => r.selects(tag),
            TagFilter::Semver(c) => c.selects(tag),
        }
    }
}

/// `--shard K/N`: this run copies the images whose source reference hashes
/// to K of N (K counts from 0, as a Kubernetes Indexed Job's
/// `JOB_COMPLETION_INDEX` does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

/// Why a `--shard` value is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardError {
    pub input: String,
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "--shard {}: expected K/N with 0 <= K < N, e.g. 0/4",
            crate::Quoted(&self.input)
        )
    }
}

impl core::error::Error for ShardError {}

impl core::str::FromStr for Shard {
    type Err = ShardError;

    fn from_str(input: &str) -> Result<Shard, ShardError> {
        let refused = || ShardError {
            input: input.to_string(),
        };
        let (k, n) = input.split_once('/').ok_or_else(refused)?;
        let index: u32 = k.trim().parse().map_err(|_| refused())?;
        let count: u32 = n.trim().parse().map_err(|_| refused())?;
        if count == 0 || index >= count {
            return Err(refused());
        }
        Ok(Shard { index, count })
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard, of `count`, that owns the image with this key: the first
    /// eight bytes of the key's SHA-256, big-endian, modulo `count`. Stable
    /// across machines, releases and runs, and even for similar names.
    pub fn of(key: &str, count: u32) -> u32 {
        use sha2::Digest as _;
        let hash = sha2::Sha256::digest(key.as_bytes());
        let mut first = [0u8; 8];
        first.copy_from_slice(&hash[..8]);
        (u64::from_be_bytes(first) % u64::from(count.max(1))) as u32
    }

    /// Whether this shard owns the image with this key.
    pub fn owns(&self, key: &str) -> bool {
        Shard::of(key, self.count) == self.index
    }
}

/// Where an image of the sync comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceImage {
    /// `docker://` (from `--src docker` or `--src yaml`): tagged or
    /// digested.
    Docker(Named),
    /// A `dir:` image found under the `--src dir` directory `base`: its
    /// path within the walk (`path` starts with `base`).
    Dir { base: String, path: String },
}

impl SourceImage {
    /// The key that shards the run and names the image in reports: the
    /// reference as skopeo prints it, without the transport; for `dir:`,
    /// the path below the source directory, so that workers mounting the
    /// source at different places agree.
    pub fn key(&self) -> String {
        match self {
            SourceImage::Docker(named) => named.to_string(),
            SourceImage::Dir { .. } => {
                let suffix = self.suffix();
                suffix.trim_start_matches('/').to_string()
            }
        }
    }

    /// What skopeo sync appends to the destination before scoping.
    fn suffix(&self) -> String {
        match self {
            SourceImage::Docker(named) => named.to_string(),
            SourceImage::Dir { base, path } => {
                let suffix = path.strip_prefix(base.as_str()).unwrap_or(path);
                if suffix.is_empty() {
                    // The source is the image itself: named after it.
                    base_name(base).to_string()
                } else {
                    suffix.to_string()
                }
            }
        }
    }

    /// For messages and reports: `docker://…` or `dir:…`.
    pub fn transport_name(&self) -> String {
        match self {
            SourceImage::Docker(named) => alloc::format!("docker://{named}"),
            SourceImage::Dir { path, .. } => alloc::format!("dir:{path}"),
        }
    }
}

/// The part of the destination that an image adds, as skopeo sync names
/// it: the whole source reference (`host/repo:tag`) with `--scoped`, its
/// last path element (`repo:tag`) without.
pub fn destination_suffix(source: &SourceImage, scoped: bool) -> String {
    let suffix = source.suffix();
    if scoped {
        suffix
    } else {
        base_name(&suffix).to_string()
    }
}

/// Go's `path.Base`: the last element, trailing slashes removed; `.` for
/// the empty string, `/` for slashes only.
pub fn base_name(path: &str) -> &str {
    if path.is_empty() {
        return ".";
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/";
    }
    match trimmed.rfind('/') {
        Some(i) => &trimmed[i + 1..],
        None => trimmed,
    }
}

/// Go's `path.Join` of two elements: joined with a slash, then cleaned
/// (`.` and `..` resolved lexically, repeated and trailing slashes
/// removed).
pub fn join(base: &str, suffix: &str) -> String {
    let joined = match (base.is_empty(), suffix.is_empty()) {
        (true, true) => return String::new(),
        (true, false) => suffix.to_string(),
        (false, true) => base.to_string(),
        (false, false) => alloc::format!("{base}/{suffix}"),
    };
    clean(&joined)
}

/// Go's `path.Clean`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = crate::join(&parts, "/");
    match (rooted, body.is_empty()) {
        (true, _) => alloc::format!("/{body}"),
        (false, true) => ".".to_string(),
        (false, false) => body,
    }
}

/// Where the sync writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationKind {
    /// `--dest docker`: a registry repository.
    Docker,
    /// `--dest dir`: a directory per image.
    Dir,
}

/// Where one image goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Docker(Named),
    /// A directory path.
    Dir(String),
}

impl Destination {
    /// For messages and reports: `docker://…` or `dir:…`.
    pub fn transport_name(&self) -> String {
        match self {
            Destination::Docker(named) => alloc::format!("docker://{named}"),
            Destination::Dir(path) => alloc::format!("dir:{path}"),
        }
    }
}

/// One image the run copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub source: SourceImage,
    pub destination: Destination,
    /// [`SourceImage::key`].
    pub key: String,
}

/// Why a sync cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// More than [`MAX_IMAGES`] images.
    TooManyImages { limit: usize },
    /// A destination name is not a reference (skopeo fails the same
    /// way, e.g. `--scoped` with a source registry that has a port).
    Destination {
        source: String,
        name: String,
        error: ReferenceError,
    },
    /// Two source images would be written to one destination (without
    /// `--scoped`, `a/busybox:1` and `b/busybox:1` both become
    /// `DEST/busybox:1`): which one wins would depend on timing.
    Collision {
        first: String,
        second: String,
        destination: String,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::TooManyImages { limit } => write!(
                f,
                "more than {limit} images to sync; split the source and run sync once per part"
            ),
            PlanError::Destination {
                source,
                name,
                error,
            } => write!(
                f,
                "{source}: the destination {name} is not a valid reference: {error}",
                name = crate::Quoted(name)
            ),
            PlanError::Collision {
                first,
                second,
                destination,
            } => write!(
                f,
                "{first} and {second} would both be written to {destination}; use --scoped"
            ),
        }
    }
}

impl core::error::Error for PlanError {}

/// Plans a run: names each source image's destination under `base` (a
/// registry `host[/path]` or a directory), drops repeated sources, refuses
/// collisions, and with a shard keeps only the images it owns. The
/// images keep the order they were found in.
pub fn plan(
    sources: Vec<SourceImage>,
    base: &str,
    kind: DestinationKind,
    scoped: bool,
    shard: Option<Shard>,
) -> Result<Vec<Planned>, PlanError> {
    if sources.len() > MAX_IMAGES {
        return Err(PlanError::TooManyImages { limit: MAX_IMAGES });
    }
    let mut seen = alloc::collections::BTreeMap::<String, ()>::new();
    let mut destinations = alloc::collections::BTreeMap::<String, String>::new();
    let mut planned = Vec::new();
    for source in sources {
        let key = source.key();
        if seen.insert(key.clone(), ()).is_some() {
            continue;
        }
        let name = join(base, &destination_suffix(&source, scoped));
        let destination = match kind {
            DestinationKind::Docker => {
                Destination::Docker(crate::reference::transport::docker(&name).map_err(
                    |error| PlanError::Destination {
                        source: source.transport_name(),
                        name: name.clone(),
                        error,
                    },
                )?)
            }
            DestinationKind::Dir => Destination::Dir(name),
        };
        let shown = destination.transport_name();
        if let Some(first) = destinations.insert(shown.clone(), source.transport_name()) {
            return Err(PlanError::Collision {
                first,
                second: source.transport_name(),
                destination: shown,
            });
        }
        if shard.is_none_or(|s| s.owns(&key)) {
            planned.push(Planned {
                source,
                destination,
                key,
            });
        }
    }
    Ok(planned)
}

/// The digest the destination would hold after copying this top-level
/// manifest unchanged, when the copy is certain to write it: then a
/// destination that already has a manifest of that digest has the image
/// (a registry accepts a list only once its instances are there), and
/// the sync skips it after one request, as containers/image's
/// `OptimizeDestinationImageAlreadyExists` does for skopeo sync.
///
/// `None` when the copy would write something new: a forced format, new
/// signatures, a conversion, or a list with entries dropped.
pub fn unchanged_digest(
    top: &[u8],
    media_type: &str,
    destination: &crate::plan::Destination,
    options: &crate::plan::CopyOptions,
) -> Option<String> {
    use crate::plan::{EntryAction, Top, TopPlan};
    // A destination's wish for other layer compression is not a change:
    // containers/image compares digests before it plans any layer, and a
    // manifest already there, with its layers, is as good as a new one.
    if options.forced.is_some() || options.sign.any() {
        return None;
    }
    let top = Top {
        bytes: top,
        media_type,
        has_signatures: false,
    };
    let accepted = |t: &str| {
        destination.supported_types.is_empty() || destination.supported_types.iter().any(|s| s == t)
    };
    match crate::plan::plan_top(&top, destination, options).ok()? {
        TopPlan::Image => {
            let digest = crate::manifest::digest(top.bytes).ok()?;
            accepted(&top.media_type()).then(|| digest.to_string())
        }
        TopPlan::Instance { entry, .. } => {
            accepted(&entry.media_type).then(|| entry.digest_text.clone())
        }
        TopPlan::List(plan) => {
            let unchanged = plan.conversion.selected == top.media_type()
                && plan.entries.iter().all(|a| *a != EntryAction::Drop)
                && plan.nested.is_empty();
            unchanged.then(|| plan.digest.clone())
        }
    }
}
