//! A destination that records what it is asked to do, and the contract
//! its calls must follow.

use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use ferry_core::media_type as mt;
use ferry_core::{Digest, List, Manifest};

use crate::transport::{
    BlobInfo, BlobStream, Capabilities, ImageDestination, ManifestToStore, Mount, TransportError,
};

/// One call a destination received, with its outcome: `refused` is `None`
/// when the call succeeded, else the error's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// [`ImageDestination::has_blob`] and its answer.
    HasBlob { digest: Digest, found: bool },
    /// [`ImageDestination::mount_blob`] and whether the blob was mounted.
    MountBlob { digest: Digest, mounted: bool },
    /// [`ImageDestination::put_blob`].
    PutBlob {
        digest: Digest,
        refused: Option<String>,
    },
    /// [`ImageDestination::put_manifest`]: the manifest's digest, and
    /// the digests it names (an image's config and layers, a list's
    /// entries).
    PutManifest {
        digest: Digest,
        media_type: String,
        instance: Option<Digest>,
        names: Names,
        refused: Option<String>,
    },
    /// [`ImageDestination::put_signatures`].
    PutSignatures {
        instance: Option<Digest>,
        count: usize,
        refused: Option<String>,
    },
    /// [`ImageDestination::commit`], with the top-level manifest's digest.
    Commit {
        digest: Digest,
        media_type: String,
        refused: Option<String>,
    },
}

/// What a manifest names: the blobs an image needs in place, or the
/// instances a list leads to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub blobs: Vec<String>,
    pub instances: Vec<String>,
}

impl Names {
    /// Reads them from a manifest; a manifest that does not parse names
    /// nothing (the destination will refuse it itself).
    fn of(manifest: &[u8], media_type: &str) -> Names {
        let media_type = if media_type.is_empty() {
            ferry_core::manifest::guess_media_type(manifest)
        } else {
            media_type.to_string()
        };
        if mt::is_list(&media_type) {
            let instances = List::from_blob(manifest, &media_type)
                .map(|l| l.entries.into_iter().map(|e| e.digest_text).collect())
                .unwrap_or_default();
            return Names {
                blobs: Vec::new(),
                instances,
            };
        }
        let Ok(image) = Manifest::from_blob(manifest, &media_type) else {
            return Names::default();
        };
        let config = image.config();
        // Layers with URLs are foreign: fetched from elsewhere, not copied.
        let layers = image
            .layers()
            .into_iter()
            .map(|l| l.descriptor)
            .filter(|d| d.urls.is_empty());
        let blobs = std::iter::once(config)
            .chain(layers)
            .map(|d| d.digest_text)
            .filter(|d| !d.is_empty())
            .collect();
        Names {
            blobs,
            instances: Vec::new(),
        }
    }
}

impl Call {
    /// Whether the call succeeded (for queries: was answered).
    pub fn succeeded(&self) -> bool {
        match self {
            Call::HasBlob { .. } | Call::MountBlob { .. } => true,
            Call::PutBlob { refused, .. }
            | Call::PutManifest { refused, .. }
            | Call::PutSignatures { refused, .. }
            | Call::Commit { refused, .. } => refused.is_none(),
        }
    }

    /// Whether the call asks the destination to store something.
    pub fn is_write(&self) -> bool {
        !matches!(self, Call::HasBlob { .. })
    }

    fn refuse(&mut self, reason: String) {
        match self {
            Call::HasBlob { .. } | Call::MountBlob { .. } => {}
            Call::PutBlob { refused, .. }
            | Call::PutManifest { refused, .. }
            | Call::PutSignatures { refused, .. }
            | Call::Commit { refused, .. } => *refused = Some(reason),
        }
    }
}

fn instance_text(instance: &Option<Digest>) -> String {
    match instance {
        Some(d) => format!("instance {d}"),
        None => "top level".into(),
    }
}

/// One line per call, for messages: `put_manifest sha256:… (instance
/// sha256:…)`, with `refused: …` when it failed.
impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::HasBlob { digest, found } => write!(f, "has_blob {digest} -> {found}"),
            Call::MountBlob { digest, mounted } => write!(f, "mount_blob {digest} -> {mounted}"),
            Call::PutBlob { digest, .. } => write!(f, "put_blob {digest}"),
            Call::PutManifest {
                digest,
                media_type,
                instance,
                ..
            } => write!(
                f,
                "put_manifest {digest} {media_type} ({})",
                instance_text(instance)
            ),
            Call::PutSignatures {
                instance, count, ..
            } => write!(f, "put_signatures {count} ({})", instance_text(instance)),
            Call::Commit {
                digest, media_type, ..
            } => write!(f, "commit {digest} {media_type}"),
        }?;
        match self {
            Call::PutBlob {
                refused: Some(r), ..
            }
            | Call::PutManifest {
                refused: Some(r), ..
            }
            | Call::PutSignatures {
                refused: Some(r), ..
            }
            | Call::Commit {
                refused: Some(r), ..
            } => write!(f, ", refused: {r}"),
            _ => Ok(()),
        }
    }
}

/// A call the contract does not allow at the point it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The call, as [`Call`] displays it.
    pub call: String,
    /// The rule it breaks.
    pub rule: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.call, self.rule)
    }
}

/// The call order of [`crate::transport`]'s module documentation, as
/// rules over what has been written so far. Order matters per manifest,
/// as containers/image's copy writes it (an instance's signatures follow
/// that instance's manifest, before the next instance):
///
/// - a blob is in place (put, mounted, or reported present) before any
///   manifest naming it, and no blob is put or mounted after a manifest
///   naming it or after the top-level manifest;
/// - an instance manifest comes before any list naming it and before the
///   top-level manifest, and is stored under its own digest;
/// - the top-level manifest is written once;
/// - signatures follow the manifest they sign; a destination that cannot
///   store signatures may be offered some only before anything is
///   written, to refuse them (the engine asks it so before the first
///   blob);
/// - commit is last, once, and names the top-level manifest written.
///
/// Only calls that succeeded change what has been written.
#[derive(Debug, Default)]
pub struct Contract {
    supports_signatures: bool,
    /// Blobs put, mounted or reported present.
    in_place: HashSet<String>,
    /// Instance manifests written.
    instances: HashSet<String>,
    /// Every digest a written manifest names.
    named: HashSet<String>,
    top: Option<Digest>,
    wrote: bool,
    committed: bool,
}

impl Contract {
    /// The contract for a destination that does or does not store
    /// signatures.
    pub fn new(supports_signatures: bool) -> Self {
        Contract {
            supports_signatures,
            ..Contract::default()
        }
    }

    /// Whether `call` may be made now (its outcome is not looked at).
    pub fn admits(&self, call: &Call) -> Result<(), Violation> {
        let broken = |rule: &str| {
            Err(Violation {
                call: call.to_string(),
                rule: rule.to_string(),
            })
        };
        if self.committed {
            return broken("a call after commit");
        }
        match call {
            Call::HasBlob { .. } => Ok(()),
            Call::PutBlob { digest, .. } | Call::MountBlob { digest, .. } => {
                if self.named.contains(digest.as_str()) {
                    broken("a blob after a manifest naming it")
                } else if self.top.is_some() {
                    broken("a blob after the top-level manifest")
                } else {
                    Ok(())
                }
            }
            Call::PutManifest {
                digest,
                instance,
                names,
                ..
            } => {
                if let Some(missing) = names.blobs.iter().find(|b| !self.in_place.contains(*b)) {
                    return broken(&format!(
                        "a manifest naming blob {missing}, which is not in place"
                    ));
                }
                match instance {
                    Some(d) if d != digest => {
                        broken(&format!("an instance stored as {d}, not its digest"))
                    }
                    Some(d) if self.named.contains(d.as_str()) => {
                        broken("an instance manifest after a list naming it")
                    }
                    Some(_) if self.top.is_some() => {
                        broken("an instance manifest after the top-level manifest")
                    }
                    None if self.top.is_some() => broken("the top-level manifest written twice"),
                    _ => Ok(()),
                }
            }
            Call::PutSignatures {
                instance, count, ..
            } => {
                if *count == 0 {
                    Ok(())
                } else if !self.supports_signatures {
                    if self.wrote {
                        broken(
                            "signatures offered, after writing, to a destination that cannot store them",
                        )
                    } else {
                        Ok(())
                    }
                } else {
                    let signed = match instance {
                        Some(d) => self.instances.contains(d.as_str()),
                        None => self.top.is_some(),
                    };
                    if signed {
                        Ok(())
                    } else {
                        broken("signatures before the manifest they sign")
                    }
                }
            }
            Call::Commit { digest, .. } => match &self.top {
                Some(top) if top != digest => {
                    broken(&format!("commit of another manifest than {top}, written"))
                }
                _ => Ok(()),
            },
        }
    }

    /// Takes a finished call into account.
    pub fn note(&mut self, call: &Call) {
        if !call.succeeded() {
            return;
        }
        match call {
            Call::HasBlob { digest, found } => {
                if *found {
                    self.in_place.insert(digest.to_string());
                }
            }
            Call::MountBlob { digest, mounted } => {
                if *mounted {
                    self.in_place.insert(digest.to_string());
                    self.wrote = true;
                }
            }
            Call::PutBlob { digest, .. } => {
                self.in_place.insert(digest.to_string());
                self.wrote = true;
            }
            Call::PutManifest {
                digest,
                instance,
                names,
                ..
            } => {
                self.wrote = true;
                self.named.extend(names.blobs.iter().cloned());
                self.named.extend(names.instances.iter().cloned());
                match instance {
                    Some(d) => {
                        self.instances.insert(d.to_string());
                    }
                    None => self.top = Some(digest.clone()),
                }
            }
            Call::PutSignatures { count, .. } => self.wrote |= *count > 0,
            Call::Commit { .. } => self.committed = true,
        }
    }

    /// Whether a commit succeeded.
    pub fn committed(&self) -> bool {
        self.committed
    }
}

/// Every violation in a finished sequence of calls.
pub fn check(calls: &[Call], supports_signatures: bool) -> Vec<Violation> {
    let mut contract = Contract::new(supports_signatures);
    let mut violations = Vec::new();
    for call in calls {
        if let Err(v) = contract.admits(call) {
            violations.push(v);
        }
        contract.note(call);
    }
    violations
}

/// Wraps a destination and records each call, in the order calls finish.
/// [`Recording::strict`] also enforces the [`Contract`].
pub struct Recording {
    inner: Box<dyn ImageDestination>,
    calls: Mutex<Vec<Call>>,
    /// `Some` when strict.
    contract: Option<Mutex<Contract>>,
    violations: Mutex<Vec<Violation>>,
    gathering: Option<Gathering>,
}

/// Existence checks held back until a number of them have arrived, to
/// see how many a copy sends at once ([`Recording::gathering_checks`]).
struct Gathering {
    /// What the recording answers to
    /// [`ImageDestination::checks_side_by_side`].
    side_by_side: usize,
    /// Checks are held until this many have arrived.
    until: usize,
    /// The longest a check is held: past it, fewer checks than awaited
    /// came at once.
    patience: Duration,
    arrived: AtomicUsize,
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

impl fmt::Debug for Recording {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recording")
            .field("inner", &self.inner.reference())
            .field("calls", &self.calls())
            .field("strict", &self.contract.is_some())
            .finish()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A test that panicked while holding it must not hide its calls.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Recording {
    /// Records the calls `inner` receives and passes each on.
    pub fn new(inner: impl ImageDestination + 'static) -> Self {
        Self::boxed(Box::new(inner), false)
    }

    /// As [`new`](Self::new), and refuses (without passing it on) each
    /// call the contract does not allow at that point, keeping it in
    /// [`violations`](Self::violations).
    pub fn strict(inner: impl ImageDestination + 'static) -> Self {
        Self::boxed(Box::new(inner), true)
    }

    /// For a destination already boxed, as
    /// [`Reference::open_destination`](crate::transport::reference::Reference::open_destination)
    /// returns it.
    pub fn boxed(inner: Box<dyn ImageDestination>, strict: bool) -> Self {
        let contract = strict.then(|| Mutex::new(Contract::new(inner.capabilities().signatures)));
        Recording {
            inner,
            calls: Mutex::new(Vec::new()),
            contract,
            violations: Mutex::new(Vec::new()),
            gathering: None,
        }
    }

    /// Says it takes `side_by_side` existence checks at once, and holds
    /// each check until `until` have arrived or `patience` has passed, so
    /// that [`most_checks_at_once`](Self::most_checks_at_once) is how many
    /// a copy sends together.
    pub fn gathering_checks(
        mut self,
        side_by_side: usize,
        until: usize,
        patience: Duration,
    ) -> Self {
        self.gathering = Some(Gathering {
            side_by_side,
            until,
            patience,
            arrived: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            most: AtomicUsize::new(0),
        });
        self
    }

    /// The most existence checks that were in flight together, when
    /// [gathering](Self::gathering_checks) them.
    pub fn most_checks_at_once(&self) -> usize {
        self.gathering
            .as_ref()
            .map_or(0, |g| g.most.load(Ordering::SeqCst))
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.calls).clone()
    }

    /// The calls that stored something, in order (queries left out).
    pub fn writes(&self) -> Vec<Call> {
        self.calls().into_iter().filter(Call::is_write).collect()
    }

    /// What the strict contract refused.
    pub fn violations(&self) -> Vec<Violation> {
        lock(&self.violations).clone()
    }

    /// Panics unless the calls kept the contract and ended in a commit.
    pub fn assert_contract_kept(&self) {
        let calls = self.calls();
        // A strict recording refused its violations as they came; a
        // plain one is checked now.
        let violations = if self.contract.is_some() {
            self.violations()
        } else {
            check(&calls, self.inner.capabilities().signatures)
        };
        let listing = || {
            calls
                .iter()
                .map(|c| format!("  {c}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert!(
            violations.is_empty(),
            "the contract was broken:\n{}\ncalls:\n{}",
            violations
                .iter()
                .map(|v| format!("  {v}"))
                .collect::<Vec<_>>()
                .join("\n"),
            listing()
        );
        assert!(
            calls
                .iter()
                .any(|c| matches!(c, Call::Commit { refused: None, .. })),
            "no commit succeeded; calls:\n{}",
            listing()
        );
    }

    /// Checks `call` against the contract if strict: `Err` refuses it.
    fn admit(&self, call: &Call) -> Result<(), TransportError> {
        let Some(contract) = &self.contract else {
            return Ok(());
        };
        let verdict = lock(contract).admits(call);
        verdict.map_err(|violation| {
            let error = TransportError::Unsupported {
                location: self.inner.reference(),
                reason: format!("contract violation: {violation}"),
            };
            lock(&self.violations).push(violation);
            let mut refused = call.clone();
            refused.refuse(error.to_string());
            self.finish(refused);
            error
        })
    }

    fn finish(&self, call: Call) {
        if let Some(contract) = &self.contract {
            lock(contract).note(&call);
        }
        lock(&self.calls).push(call);
    }

    fn finish_with<T>(
        &self,
        mut call: Call,
        result: Result<T, TransportError>,
    ) -> Result<T, TransportError> {
        if let Err(e) = &result {
            call.refuse(e.to_string());
        }
        self.finish(call);
        result
    }
}

fn manifest_digest(manifest: &[u8]) -> Digest {
    ferry_core::manifest::digest(manifest).unwrap_or_else(|_| Digest::sha256_of(manifest))
}

#[async_trait]
impl ImageDestination for Recording {
    fn reference(&self) -> String {
        self.inner.reference()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn reference_digest(&self) -> Option<String> {
        self.inner.reference_digest()
    }

    fn docker_reference(&self) -> Option<(String, String)> {
        self.inner.docker_reference()
    }

    fn writes_instances_side_by_side(&self) -> bool {
        self.inner.writes_instances_side_by_side()
    }

    fn checks_side_by_side(&self) -> Option<usize> {
        match &self.gathering {
            Some(g) => Some(g.side_by_side),
            None => self.inner.checks_side_by_side(),
        }
    }

    fn registry_location(&self) -> Option<(String, String)> {
        self.inner.registry_location()
    }

    async fn named_digest(&self) -> Option<Digest> {
        self.inner.named_digest().await
    }

    async fn has_manifest(&self, digest: &Digest) -> bool {
        self.inner.has_manifest(digest).await
    }

    async fn has_blob(&self, info: &BlobInfo) -> Result<Option<u64>, TransportError> {
        let call = Call::HasBlob {
            digest: info.digest.clone(),
            found: false,
        };
        self.admit(&call)?;
        if let Some(g) = &self.gathering {
            let now = g.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            g.most.fetch_max(now, Ordering::SeqCst);
            g.arrived.fetch_add(1, Ordering::SeqCst);
            let start = std::time::Instant::now();
            while g.arrived.load(Ordering::SeqCst) < g.until && start.elapsed() < g.patience {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            g.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
        let result = self.inner.has_blob(info).await;
        if let Ok(found) = &result {
            self.finish(Call::HasBlob {
                digest: info.digest.clone(),
                found: found.is_some(),
            });
        }
        result
    }

    async fn mount_blob(
        &self,
        info: &BlobInfo,
        from: &(String, String),
    ) -> Result<Mount, TransportError> {
        let call = Call::MountBlob {
            digest: info.digest.clone(),
            mounted: false,
        };
        self.admit(&call)?;
        let result = self.inner.mount_blob(info, from).await;
        if let Ok(mount) = &result {
            self.finish(Call::MountBlob {
                digest: info.digest.clone(),
                mounted: *mount == Mount::Mounted,
            });
        }
        result
    }

    async fn put_blob(&self, stream: BlobStream, info: &BlobInfo) -> Result<(), TransportError> {
        let call = Call::PutBlob {
            digest: info.digest.clone(),
            refused: None,
        };
        self.admit(&call)?;
        let result = self.inner.put_blob(stream, info).await;
        self.finish_with(call, result)
    }

    async fn store_manifest(&self, manifest: ManifestToStore<'_>) -> Result<(), TransportError> {
        let call = Call::PutManifest {
            digest: manifest_digest(manifest.bytes),
            media_type: manifest.media_type.to_string(),
            instance: manifest.instance.cloned(),
            names: Names::of(manifest.bytes, manifest.media_type),
            refused: None,
        };
        self.admit(&call)?;
        let result = self.inner.store_manifest(manifest).await;
        self.finish_with(call, result)
    }

    async fn put_signatures(
        &self,
        signatures: &[Vec<u8>],
        instance: Option<&Digest>,
    ) -> Result<(), TransportError> {
        let call = Call::PutSignatures {
            instance: instance.cloned(),
            count: signatures.len(),
            refused: None,
        };
        self.admit(&call)?;
        let result = self.inner.put_signatures(signatures, instance).await;
        self.finish_with(call, result)
    }

    async fn commit(&self, top: &[u8], media_type: &str) -> Result<(), TransportError> {
        let call = Call::Commit {
            digest: manifest_digest(top),
            media_type: media_type.to_string(),
            refused: None,
        };
        self.admit(&call)?;
        let result = self.inner.commit(top, media_type).await;
        self.finish_with(call, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(name: &str) -> Digest {
        Digest::sha256_of(name.as_bytes())
    }

    fn blob(name: &str) -> Call {
        Call::PutBlob {
            digest: digest(name),
            refused: None,
        }
    }

    fn present(name: &str) -> Call {
        Call::HasBlob {
            digest: digest(name),
            found: true,
        }
    }

    fn digests(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| digest(n).to_string()).collect()
    }

    /// A manifest `name` of `media_type` naming `names`, as an instance or
    /// the top.
    fn manifest(name: &str, media_type: &str, names: Names, instance: bool) -> Call {
        Call::PutManifest {
            digest: digest(name),
            media_type: media_type.into(),
            instance: instance.then(|| digest(name)),
            names,
            refused: None,
        }
    }

    /// An image manifest `name` naming blobs, as an instance or the top.
    fn image(name: &str, blobs: &[&str], instance: bool) -> Call {
        let names = Names {
            blobs: digests(blobs),
            instances: Vec::new(),
        };
        manifest(name, mt::OCI_MANIFEST, names, instance)
    }

    fn list(name: &str, instances: &[&str], instance: bool) -> Call {
        let names = Names {
            blobs: Vec::new(),
            instances: digests(instances),
        };
        manifest(name, mt::OCI_INDEX, names, instance)
    }

    fn signatures(instance: Option<&str>) -> Call {
        Call::PutSignatures {
            instance: instance.map(digest),
            count: 1,
            refused: None,
        }
    }

    fn commit(name: &str) -> Call {
        Call::Commit {
            digest: digest(name),
            media_type: mt::OCI_INDEX.into(),
            refused: None,
        }
    }

    /// The rules broken by `calls`, for a destination storing signatures
    /// or not.
    fn broken(calls: &[Call], supports_signatures: bool) -> Vec<String> {
        check(calls, supports_signatures)
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_signed_nested_list_written_as_the_engine_writes_it_keeps_the_contract() {
        let calls = [
            blob("c1"),
            present("l1"),
            blob("c2"),
            image("a", &["c1", "l1"], true),
            signatures(Some("a")),
            image("b", &["c2", "l1"], true),
            list("child", &["a", "b"], true),
            list("top", &["child"], false),
            signatures(None),
            commit("top"),
        ];
        assert_eq!(broken(&calls, true), Vec::<String>::new());
    }

    #[test]
    fn each_rule_is_enforced() {
        let unplaced = "a manifest naming blob ".to_string()
            + digest("c").as_str()
            + ", which is not in place";
        let cases: Vec<(Vec<Call>, bool, &str)> = vec![
            (vec![image("a", &["c"], false)], true, &unplaced),
            (
                vec![blob("c"), image("a", &["c"], true), blob("c")],
                true,
                "a blob after a manifest naming it",
            ),
            (
                vec![blob("c"), image("a", &["c"], false), blob("d")],
                true,
                "a blob after the top-level manifest",
            ),
            (
                vec![list("top", &["a"], false), image("a", &[], true)],
                true,
                "an instance manifest after a list naming it",
            ),
            (
                vec![image("top", &[], false), image("a", &[], true)],
                true,
                "an instance manifest after the top-level manifest",
            ),
            (
                vec![image("top", &[], false), image("top", &[], false)],
                true,
                "the top-level manifest written twice",
            ),
            (
                vec![signatures(Some("a")), image("a", &[], true)],
                true,
                "signatures before the manifest they sign",
            ),
            (
                vec![blob("c"), signatures(None)],
                false,
                "signatures offered, after writing, to a destination that cannot store them",
            ),
            (
                vec![image("top", &[], false), commit("top"), blob("c")],
                true,
                "a call after commit",
            ),
        ];
        let another = format!("commit of another manifest than {}, written", digest("top"));
        let cases = cases.into_iter().chain([(
            vec![image("top", &[], false), commit("other")],
            true,
            another.as_str(),
        )]);
        for (calls, supports_signatures, rule) in cases {
            assert_eq!(
                broken(&calls, supports_signatures),
                [rule.to_string()],
                "{calls:#?}"
            );
        }
    }

    #[test]
    fn signatures_may_be_offered_to_refuse_before_anything_is_written() {
        let refused = Call::PutSignatures {
            instance: None,
            count: 1,
            refused: Some("cannot store signatures".into()),
        };
        assert_eq!(broken(&[refused], false), Vec::<String>::new());
    }

    #[test]
    fn a_refused_manifest_type_writes_nothing_and_another_may_follow() {
        let mut rejected = image("top", &[], false);
        rejected.refuse("manifest type refused".into());
        let calls = [rejected, image("top", &[], false), commit("top")];
        assert_eq!(broken(&calls, true), Vec::<String>::new());
    }
}
