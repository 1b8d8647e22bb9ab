//! A whole copy as a state machine that performs no I/O.
//!
//! [`Copy`] holds every decision of `ferry copy` (and of its dry run, and
//! of the facade's `planCopy`): which lists and instances to read, what
//! the top level means, which blobs move and in which form, each once,
//! which manifest type to try after the destination refuses one, when a
//! list form that would invent platforms is refused, what schema 1 is
//! written as, where signatures go and what the summary says. A driver
//! asks it what it needs next ([`Copy::poll`]), performs that (reads,
//! writes, transfers), and hands the result back ([`Copy::handle`]), as
//! quinn's `Connection` is driven by its endpoint. The native engine
//! drives it with transports; a dry run is the same machine fed with
//! answers instead of I/O, and stops once the transfers are settled
//! ([`Copy::summary`]).
//!
//! The conversation follows the destination contract: nested lists and
//! their signatures; the top level's signatures (unless one instance is
//! taken out of the list); the instances and their signatures; a refusal
//! of signatures the destination cannot store, before anything is
//! written; every blob transfer at once ([`Need::Transfer`], answered per
//! blob in any order, so the driver may run them concurrently); then each
//! image manifest (with the small reads and writes a conversion needs, and
//! its signatures), the nested lists, the top-level list, the top level's
//! signatures, and the commit.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::digest::Digest;
use crate::list::{AddedInstance, ConvertOptions, InstanceUpdate, List, LossKind, Tree};
use crate::manifest::convert::{self, Schema1Inputs};
use crate::manifest::edit::{self, LayerUpdate};
use crate::manifest::schema1::{GZIPPED_EMPTY_LAYER, GZIPPED_EMPTY_LAYER_DIGEST};
use crate::manifest::{self, Descriptor, Manifest, ManifestError};
use crate::media_type as mt;
use crate::plan::compression::{self, BlobOperation, Wish};
use crate::plan::{
    self, BlobTransfer, CopiedInstance, CopyOptions, CopyPlan, ImageContext, ImagePlan,
    ListCandidate, PlanError, Top, TopPlan,
};

mod conversation;
mod error;

pub use conversation::{
    Answer, BlobOutcome, BlobTask, Destination, Judged, Mode, Need, Role, Tally, Written,
};
pub use error::Error;

/// The list form that would invent platforms for entries without one:
/// written only if the user says so (`--format` keeps the list's type).
fn invented_platforms(candidate: &ListCandidate) -> Option<String> {
    let entries: Vec<String> = candidate
        .losses
        .iter()
        .filter(|l| l.kind == LossKind::Defaulted)
        .map(|l| l.pointer.clone())
        .collect();
    (!entries.is_empty()).then(|| {
        format!(
            "{}: converting the list to {} would invent platforms for entries without one ({}); keep the list's type",
            candidate.media_type,
            candidate.media_type,
            crate::join(&entries, ", ")
        )
    })
}

/// One image to copy: the top level, the chosen instance, or an instance
/// of a list.
#[derive(Debug, Clone)]
struct Job {
    /// The source instance digest, for lists and chosen instances.
    instance: Option<Digest>,
    bytes: Vec<u8>,
    signatures: Vec<Vec<u8>>,
}

/// An image the copy reads, as its list names it.
#[derive(Debug, Clone)]
struct Wanted {
    entry: Descriptor,
    /// Which entry of which list, for errors.
    what: String,
    list_digest: Option<String>,
    in_list: bool,
}

/// Where the conversation is.
#[derive(Debug, Clone)]
enum Phase {
    /// Reading nested lists; `reading` is the one asked for.
    NestedLists {
        reading: Option<String>,
    },
    /// The signatures of the nested list just read.
    NestedSignatures {
        digest: String,
    },
    TopSignatures,
    /// Reading `wanted[index]`; its manifest once read.
    Instance {
        index: usize,
        read: Option<(Vec<u8>, String)>,
    },
    /// The images are read; the policy judges them.
    Judge,
    Refusals {
        next: usize,
    },
    /// The transfers are known; the [`Writer`] hands them out as tasks.
    StartTransfers,
    Transfers {
        outstanding: usize,
    },
    /// The transfers are settled; the manifests follow.
    StartWrites,
    /// The destination holds the top level as it is
    /// ([`Answer::Held`]): it alone is written, under the destination's
    /// reference, unless that names it already.
    HeldWrite,
    /// The destination's reference names a manifest
    /// ([`Destination::names`]): if it is the copy as it would be written
    /// ([`Copy::named_already`], decided at `index` 0), the instances'
    /// signatures are read, from `index` on, to learn whether any are to
    /// be copied; if none is, the copy ends. Otherwise the images are
    /// read as usual.
    NamedSignatures {
        index: usize,
    },
    Image(ImageWrite),
    ImageSignatures {
        job: usize,
    },
    /// Writing list `index` (the nested lists, then the top-level list).
    List(ListWrite),
    ListSignatures {
        index: usize,
    },
    TopSignaturesWrite,
    /// New signatures are being made; with them and `signatures`, the
    /// copy writes the signatures of `instance` and waits in `then`.
    Signing {
        signatures: Vec<Vec<u8>>,
        instance: Option<Digest>,
        then: Box<Phase>,
    },
    Commit,
    Final,
}

/// One image manifest being written: the forms to try, and where the
/// current one is.
#[derive(Debug, Clone)]
struct ImageWrite {
    job: usize,
    /// The manifest as the destination will hold it before conversion
    /// (naming any layers that changed form), parsed and raw.
    base: Vec<u8>,
    /// Its type: the source's, or OCI when zstd layers made it OCI.
    base_type: String,
    targets: Vec<String>,
    next: usize,
    attempts: Vec<String>,
    step: ImageStep,
}

impl ImageWrite {
    /// Records that `target` was given up because `what` could not be
    /// built as a manifest.
    fn unbuildable(&mut self, target: &str, what: &str, error: ManifestError) {
        let e = PlanError::Manifest {
            what: what.into(),
            error,
        };
        self.attempts.push(format!("{target}: {e}"));
    }
}

#[derive(Debug, Clone)]
enum ImageStep {
    /// Deciding the next form.
    Idle,
    /// A schema 1 image's new config is being stored; the manifest follows.
    ConfigStored {
        target: String,
        manifest: Vec<u8>,
    },
    /// The source config is being read, to build schema 1.
    ConfigRead {
        target: String,
    },
    /// The empty layer is being stored; the manifest is then signed.
    EmptyLayerStored {
        target: String,
        unsigned: Vec<u8>,
    },
    Signing {
        target: String,
    },
    Writing {
        target: String,
        bytes: Vec<u8>,
        digest: Digest,
    },
}

/// What trying an image's form asks for first.
enum FirstAsk {
    /// The manifest in this form, to be written.
    Write { target: String, bytes: Vec<u8> },
    /// Something to read, store or sign before it can be written.
    Other { need: Need, step: ImageStep },
}

#[derive(Debug, Clone)]
struct ListWrite {
    index: usize,
    candidates: Vec<ListCandidate>,
    next: usize,
    attempts: Vec<String>,
}

/// The copy machine. See the module documentation.
#[derive(Debug, Clone)]
pub struct Copy {
    top_bytes: Vec<u8>,
    top_type: String,
    plan_destination: plan::Destination,
    signature_storage: crate::destination::SignatureFormats,
    docker_reference: (String, String),
    options: CopyOptions,
    mode: Mode,

    tree: Option<Tree>,
    /// Nested lists answered [`Answer::Missing`].
    unavailable: Vec<String>,
    nested_signatures: Vec<(String, Vec<Vec<u8>>)>,
    top_plan: Option<TopPlan>,
    top_signatures: Vec<Vec<u8>>,
    /// Signatures read only for the policy to judge (with
    /// `remove_signatures`), by instance; never written.
    judged_signatures: Vec<(Option<Digest>, Vec<Vec<u8>>)>,
    wanted: Vec<Wanted>,
    jobs: Vec<Job>,
    /// The plan of each job, by position: kept apart so that the plans
    /// go to the planner as one slice, not cloned out of the jobs (those
    /// clones cost the npm module 784 bytes after wasm-opt).
    plans: Vec<ImagePlan>,
    missing: Vec<String>,
    refusals: Vec<(Vec<Vec<u8>>, Option<Digest>)>,
    transfers: Vec<BlobTransfer>,
    tasks: Vec<BlobTask>,
    outcomes: Vec<Option<BlobOutcome>>,
    tally: Tally,
    summary: Option<CopyPlan>,
    copied: Vec<CopiedInstance>,
    /// The compression twins to make (`--add-compression`).
    twins: Vec<plan::Twin>,
    /// The twins written, added to the top-level list.
    added: Vec<AddedInstance>,
    written: Vec<Written>,
    /// The single image as written, for a copy without a list.
    single: Option<(Vec<u8>, String)>,
    /// The top level as a destination holding it would hold it, with its
    /// digest, when the copy changes nothing ([`Copy::shortcut`]).
    shortcut: Option<(Vec<u8>, String, Digest)>,
    /// The destination holds `shortcut` ([`Answer::Held`]), and whether
    /// its reference names it already.
    held: Option<bool>,
    /// [`Destination::names`].
    names: Option<String>,
    committed: Option<(Vec<u8>, String)>,

    phase: Phase,
    need: Need,
    /// The transfers' tasks and everything after the transfers, reached
    /// through a pointer so that a planner that never writes
    /// ([`Copy::plan`]) does not carry the conversion and list-writing
    /// code: the WebAssembly facade plans copies, and that code made its
    /// module 328 KiB instead of 290 KiB (after wasm-opt); handing out the
    /// transfers as tasks (`Phase::StartTransfers`) another 2,003 bytes;
    /// deciding whether a destination naming the copy already has it all
    /// (`Phase::NamedSignatures`) another 1,383.
    writer: Option<Writer>,
}

/// The half of the machine that moves and writes ([`Mode::Copy`]):
/// decides the next step of the transfers or writes, with the answer to
/// the last one (`None` to start or go on).
type Writer = fn(&mut Copy, Option<Answer>) -> Result<(), Error>;

impl Copy {
    /// A copy of the image or list `top_bytes` (of `top_type` as the source
    /// reports it; empty to guess) to `destination`.
    pub fn new(
        top_bytes: Vec<u8>,
        top_type: String,
        destination: Destination,
        options: CopyOptions,
        mode: Mode,
    ) -> Result<Copy, Error> {
        Copy::build(
            top_bytes,
            top_type,
            destination,
            options,
            mode,
            Some(Copy::write_step),
        )
    }

    /// [`Copy::new`] in [`Mode::Plan`], without the code that writes.
    /// It plans `--add-compression`'s twins with the same code as a
    /// [`Mode::DryRun`] of [`Copy::new`].
    pub fn plan(
        top_bytes: Vec<u8>,
        top_type: String,
        destination: Destination,
        options: CopyOptions,
    ) -> Result<Copy, Error> {
        Copy::build(top_bytes, top_type, destination, options, Mode::Plan, None)
    }

    fn build(
        top_bytes: Vec<u8>,
        top_type: String,
        destination: Destination,
        options: CopyOptions,
        mode: Mode,
        writer: Option<Writer>,
    ) -> Result<Copy, Error> {
        let mut copy = Copy {
            plan_destination: destination
                .capabilities
                .plan_destination(destination.reference_digest),
            signature_storage: destination.capabilities.signature_storage(),
            docker_reference: destination.docker_reference.unwrap_or_default(),
            top_bytes,
            top_type,
            options,
            mode,
            tree: None,
            unavailable: Vec::new(),
            nested_signatures: Vec::new(),
            top_plan: None,
            top_signatures: Vec::new(),
            judged_signatures: Vec::new(),
            wanted: Vec::new(),
            jobs: Vec::new(),
            plans: Vec::new(),
            missing: Vec::new(),
            refusals: Vec::new(),
            transfers: Vec::new(),
            tasks: Vec::new(),
            outcomes: Vec::new(),
            tally: Tally::default(),
            summary: None,
            copied: Vec::new(),
            twins: Vec::new(),
            added: Vec::new(),
            written: Vec::new(),
            single: None,
            shortcut: None,
            held: None,
            names: destination.names,
            committed: None,
            phase: Phase::NestedLists { reading: None },
            need: Need::Done,
            writer,
        };
        // Lists nested in the list are read before planning: a platform
        // choice reaches into them, and they are copied with it.
        copy.tree = plan::nested_lists(&copy.top(false), &copy.options)?;
        copy.advance()?;
        Ok(copy)
    }

    /// What the copy needs next. The same need until it is answered.
    pub fn poll(&self) -> Need {
        self.need.clone()
    }

    /// [`Copy::poll`], borrowed: a driver that answers from what it
    /// already holds (the facade's `planCopy`) need not clone the need.
    /// Cloning every kind of need (transfers, judgements, writes) cost
    /// the npm module 1,180 bytes after wasm-opt.
    pub fn need(&self) -> &Need {
        &self.need
    }

    /// Takes the result of the current need and decides the next.
    pub fn handle(&mut self, answer: Answer) -> Result<(), Error> {
        let phase = core::mem::replace(&mut self.phase, Phase::Final);
        match (phase, answer) {
            (
                Phase::NestedLists {
                    reading: Some(digest),
                },
                Answer::Manifest { bytes, media_type },
            ) => {
                if let Some(tree) = &mut self.tree {
                    tree.provide(&digest, &bytes, &media_type)
                        .map_err(PlanError::Nested)?;
                }
                if self.options.remove_signatures {
                    self.phase = Phase::NestedLists { reading: None };
                } else {
                    self.need = Need::Signatures {
                        instance: Some(parse(&digest, "a nested list")?),
                    };
                    self.phase = Phase::NestedSignatures { digest };
                    return Ok(());
                }
            }
            (
                Phase::NestedLists {
                    reading: Some(digest),
                },
                Answer::Missing,
            ) => {
                self.unavailable.push(digest);
                self.phase = Phase::NestedLists { reading: None };
            }
            (Phase::NestedSignatures { digest }, Answer::Signatures(signatures)) => {
                if !signatures.is_empty() {
                    self.nested_signatures.push((digest, signatures));
                }
                self.phase = Phase::NestedLists { reading: None };
            }
            (Phase::TopSignatures, Answer::Signatures(signatures))
                if self.options.remove_signatures =>
            {
                self.judged_signatures.push((None, signatures));
                self.start_instances()?;
            }
            (Phase::TopSignatures, Answer::Signatures(signatures)) => {
                self.top_signatures = signatures;
                // A signed list may not be changed: plan it again knowing
                // that.
                if !self.top_signatures.is_empty()
                    && matches!(self.top_plan, Some(TopPlan::List(_)))
                {
                    self.top_plan = Some(self.plan_top(true)?);
                }
                self.start_instances()?;
            }
            (Phase::Instance { index, read: None }, Answer::Manifest { bytes, media_type }) => {
                let wanted = &self.wanted[index];
                let digest = parse(&wanted.entry.digest_text, &wanted.what)?;
                wanted
                    .entry
                    .check_size(bytes.len() as u64)
                    .map_err(|error| Error::InstanceSize {
                        digest: digest.clone(),
                        what: wanted.what.clone(),
                        error,
                    })?;
                let media_type = if media_type.is_empty() {
                    wanted.entry.media_type.clone()
                } else {
                    media_type
                };
                if self.options.remove_signatures && !self.options.judge_signatures {
                    self.add_job(index, bytes, media_type, Vec::new())?;
                } else {
                    self.need = Need::Signatures {
                        instance: Some(digest),
                    };
                    self.phase = Phase::Instance {
                        index,
                        read: Some((bytes, media_type)),
                    };
                    return Ok(());
                }
            }
            (Phase::Instance { index, read: None }, Answer::Missing) => {
                self.missing
                    .push(self.wanted[index].entry.digest_text.clone());
                self.phase = Phase::Instance {
                    index: index + 1,
                    read: None,
                };
            }
            (
                Phase::Instance {
                    index,
                    read: Some((bytes, media_type)),
                },
                Answer::Signatures(signatures),
            ) => {
                if self.options.remove_signatures {
                    let instance = parse(
                        &self.wanted[index].entry.digest_text,
                        &self.wanted[index].what,
                    )?;
                    self.judged_signatures.push((Some(instance), signatures));
                    self.add_job(index, bytes, media_type, Vec::new())?;
                } else {
                    self.add_job(index, bytes, media_type, signatures)?;
                }
            }
            (Phase::Judge, Answer::Done) => return self.start_refusals(),
            (Phase::Refusals { next }, Answer::Done) => {
                self.phase = Phase::Refusals { next: next + 1 };
            }
            (
                phase @ (Phase::Transfers { .. }
                | Phase::StartWrites
                | Phase::HeldWrite
                | Phase::NamedSignatures { .. }
                | Phase::Image(_)
                | Phase::ImageSignatures { .. }
                | Phase::List(_)
                | Phase::ListSignatures { .. }
                | Phase::TopSignaturesWrite
                | Phase::Signing { .. }
                | Phase::Commit),
                answer,
            ) => {
                self.phase = phase;
                return self.write(Some(answer));
            }
            (phase, _) => {
                let need = self.need_name();
                self.phase = phase;
                return Err(Error::UnexpectedAnswer { need });
            }
        }
        self.advance()
    }

    /// While the copy reads the images of a list: the instances it will
    /// ask for after the current [`Need::Instance`], in the order it will
    /// ask. A driver may start reading them all now and answer each from
    /// what arrived when it is asked: against a registry each read is a
    /// round trip, and one after another a list's instances cost one each.
    /// Empty in any other phase.
    pub fn instances_ahead(&self) -> Vec<Digest> {
        match (&self.phase, &self.need) {
            (Phase::Instance { index, read: None }, Need::Instance { .. }) => self
                .wanted
                .iter()
                .skip(index + 1)
                .filter_map(|w| w.entry.digest_text.parse().ok())
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The plan's summary: what is written and moved. Known once the
    /// transfers are settled (for a dry run: answered
    /// [`BlobOutcome::Present`] or [`BlobOutcome::Absent`]).
    pub fn summary(&self) -> Option<&CopyPlan> {
        self.summary.as_ref()
    }

    /// While the blobs move ([`Need::Transfer`]): the manifest whose
    /// presence at the destination means the copy has nothing to move or
    /// write but the top level itself ([`Answer::Held`]). It is the top
    /// level as the source has it, when the copy changes nothing about it
    /// or anything it names, and writes no signatures but the top level's.
    /// A registry accepts a manifest only once everything it names is
    /// there, so asking for it by digest answers for all the blobs at
    /// once: a push of a new tag of an image already pushed costs one
    /// request, not one per blob. containers/image's sync does as much
    /// (`OptimizeDestinationImageAlreadyExists`, comparing the tag's
    /// manifest); ferry asks by digest, so a new tag benefits too, and
    /// does it on every copy, as crane does.
    pub fn shortcut(&self) -> Option<&Digest> {
        match self.phase {
            Phase::Transfers { .. } => self.shortcut.as_ref().map(|(_, _, d)| d),
            _ => None,
        }
    }

    /// The manifest [`Copy::shortcut`] will name if nothing read until
    /// then rules it out (signatures beside the instances, twins, a
    /// conversion): a driver may ask the destination about it at once,
    /// beside the reads of the instances, and use the answer if the
    /// shortcut names the same manifest. Known from the top level alone.
    /// Not asked when the destination's reference names it already
    /// ([`Destination::names`]): that answers it.
    pub fn shortcut_ahead(&self) -> Option<Digest> {
        self.unchanged_digest()
            .filter(|d| self.names.as_deref() != Some(&*d.to_string()))
    }

    /// The digest of the top level the copy writes, when it changes
    /// nothing ([`crate::sync::unchanged_digest`] decides).
    fn unchanged_digest(&self) -> Option<Digest> {
        if self.mode != Mode::Copy || self.options.compression.force {
            return None;
        }
        crate::sync::unchanged_digest(
            &self.top_bytes,
            &self.top_type,
            &self.plan_destination,
            &self.options,
        )?
        .parse()
        .ok()
    }

    /// Whether the destination's reference names the copy as it would be
    /// written, with nothing else to do but copy signatures: no policy
    /// judges the images, no twins are added, and the top level is the
    /// image or list itself (one image taken out of a list is read
    /// first: its manifest is what the copy commits).
    fn named_already(&self) -> bool {
        self.names.is_some()
            && !self.options.judge_signatures
            && self.twins.is_empty()
            && self.nested_signatures.is_empty()
            && (self.options.remove_signatures || self.top_signatures.is_empty())
            && matches!(self.top_plan, Some(TopPlan::Image | TopPlan::List(_)))
            && self.unchanged_digest().map(|d| d.to_string()) == self.names
    }

    /// The manifests the destination held already, as the copy would
    /// have written them ([`Answer::Held`], [`Destination::names`]): the
    /// top level and a list's images, whether or not the top level was
    /// written again under the destination's reference. What refers to
    /// them is as much the copy's as what refers to a manifest written.
    /// Empty for any other copy.
    pub fn held(&self) -> Vec<Digest> {
        if self.held.is_none() {
            return Vec::new();
        }
        let top = self
            .committed
            .as_ref()
            .and_then(|(bytes, _)| manifest::digest(bytes).ok());
        let instances = self
            .wanted
            .iter()
            .filter(|_| self.in_list())
            .filter_map(|w| w.entry.digest_text.parse().ok());
        top.into_iter().chain(instances).collect()
    }

    /// What the transfers answered so far came to.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// The top-level decision, once the nested lists are read.
    pub fn top_plan(&self) -> Option<&TopPlan> {
        self.top_plan.as_ref()
    }

    /// The plans of the images read so far, in copy order.
    pub fn images(&self) -> Vec<&ImagePlan> {
        self.plans.iter().collect()
    }

    /// The manifests written so far, in order.
    pub fn written(&self) -> &[Written] {
        &self.written
    }

    /// The top-level manifest as committed, and its type.
    pub fn committed(&self) -> Option<(&[u8], &str)> {
        self.committed
            .as_ref()
            .map(|(b, t)| (b.as_slice(), t.as_str()))
    }

    fn need_name(&self) -> &'static str {
        match self.need {
            Need::NestedList { .. } => "NestedList",
            Need::Signatures { .. } => "Signatures",
            Need::Instance { .. } => "Instance",
            Need::Judge(_) => "Judge",
            Need::RefuseSignatures { .. } => "RefuseSignatures",
            Need::Transfer(_) => "Transfer",
            Need::Config { .. } => "Config",
            Need::PutBlob { .. } => "PutBlob",
            Need::Sign { .. } => "Sign",
            Need::WriteManifest { .. } => "WriteManifest",
            Need::SignManifest { .. } => "SignManifest",
            Need::WriteSignatures { .. } => "WriteSignatures",
            Need::Commit { .. } => "Commit",
            Need::Unavailable { .. } => "Unavailable",
            Need::Done => "Done",
        }
    }

    fn top(&self, has_signatures: bool) -> Top<'_> {
        Top {
            bytes: &self.top_bytes,
            media_type: &self.top_type,
            has_signatures,
        }
    }

    fn plan_top(&self, has_signatures: bool) -> Result<TopPlan, Error> {
        let signed: Vec<String> = self
            .nested_signatures
            .iter()
            .map(|(d, _)| d.clone())
            .collect();
        Ok(plan::plan_top_nested(
            &self.top(has_signatures),
            self.tree.as_ref(),
            &signed,
            &self.plan_destination,
            &self.options,
        )?)
    }

    /// Moves on from the current phase until something is needed.
    fn advance(&mut self) -> Result<(), Error> {
        loop {
            match &self.phase {
                Phase::NestedLists { .. } => {
                    let next = self.tree.as_ref().and_then(|tree| {
                        tree.wanted()
                            .iter()
                            .find(|w| !self.unavailable.contains(&w.digest))
                            .map(|w| w.digest.clone())
                    });
                    if let Some(digest) = next {
                        self.need = Need::NestedList {
                            digest: parse(&digest, "a nested list")?,
                        };
                        self.phase = Phase::NestedLists {
                            reading: Some(digest),
                        };
                        return Ok(());
                    }
                    if let Some(tree) = &self.tree
                        && !tree.is_complete()
                    {
                        let missing = tree.wanted().iter().map(|w| w.digest.clone()).collect();
                        return self.stop(Need::Unavailable { missing });
                    }
                    let top_plan = self.plan_top(false)?;
                    // The top level's own signatures are read only when the
                    // copy writes the top level: one instance taken out of a
                    // list leaves the list and its signatures behind, and
                    // containers/image does not read them then, so a broken
                    // signature source for the list cannot fail that copy.
                    let reads_signatures = (!self.options.remove_signatures
                        || self.options.judge_signatures)
                        && !matches!(top_plan, TopPlan::Instance { .. });
                    self.top_plan = Some(top_plan);
                    if reads_signatures {
                        self.need = Need::Signatures { instance: None };
                        self.phase = Phase::TopSignatures;
                        return Ok(());
                    }
                    self.start_instances()?;
                }
                Phase::Instance { index, read: None } => {
                    let index = *index;
                    if let Some(wanted) = self.wanted.get(index) {
                        match parse(&wanted.entry.digest_text, &wanted.what) {
                            Ok(digest) => {
                                self.need = Need::Instance { digest };
                                return Ok(());
                            }
                            // No manifest can be given for what is not a
                            // digest: planning names it missing.
                            Err(_) if self.mode == Mode::Plan => {
                                self.missing.push(wanted.entry.digest_text.clone());
                                self.phase = Phase::Instance {
                                    index: index + 1,
                                    read: None,
                                };
                                continue;
                            }
                            Err(e) => return Err(e),
                        }
                    }
                    if !self.missing.is_empty() {
                        let missing = self.missing.clone();
                        return self.stop(Need::Unavailable { missing });
                    }
                    if self.options.judge_signatures {
                        self.need = Need::Judge(self.to_judge());
                        self.phase = Phase::Judge;
                        return Ok(());
                    }
                    return self.start_refusals();
                }
                Phase::Refusals { next } => {
                    if let Some((signatures, instance)) = self.refusals.get(*next) {
                        self.need = Need::RefuseSignatures {
                            signatures: signatures.clone(),
                            instance: instance.clone(),
                        };
                        return Ok(());
                    }
                    self.start_transfers()?;
                }
                Phase::StartTransfers
                | Phase::StartWrites
                | Phase::HeldWrite
                | Phase::NamedSignatures { .. }
                | Phase::Image(_)
                | Phase::List(_)
                | Phase::TopSignaturesWrite
                | Phase::Commit => return self.write(None),
                Phase::Final => return Ok(()),
                // Phases that wait for an answer.
                Phase::NestedSignatures { .. }
                | Phase::TopSignatures
                | Phase::Judge
                | Phase::Instance { read: Some(_), .. }
                | Phase::Transfers { .. }
                | Phase::ImageSignatures { .. }
                | Phase::ListSignatures { .. }
                | Phase::Signing { .. } => return Ok(()),
            }
        }
    }

    /// Hands the writing phases to the writer.
    fn write(&mut self, answer: Option<Answer>) -> Result<(), Error> {
        match self.writer {
            Some(writer) => writer(self, answer),
            None => self.stop(Need::Done),
        }
    }

    /// The writer of [`Copy::new`]: image manifests, nested lists, the
    /// top-level list, the top level's signatures, the commit.
    fn write_step(&mut self, answer: Option<Answer>) -> Result<(), Error> {
        let Some(answer) = answer else {
            return match &self.phase {
                Phase::StartTransfers => {
                    self.start_tasks()?;
                    self.advance()
                }
                Phase::StartWrites => {
                    self.phase = Phase::Image(self.image_write(0)?);
                    self.write_step(None)
                }
                Phase::NamedSignatures { index: 0 } if !self.named_already() => {
                    self.phase = Phase::Instance {
                        index: 0,
                        read: None,
                    };
                    self.advance()
                }
                Phase::NamedSignatures { index } => {
                    // The top level's signatures were read before (and
                    // found none): an image's are its own, a list's
                    // instances each have theirs.
                    let next = match self.options.remove_signatures {
                        true => None,
                        false => self.wanted.get(*index),
                    };
                    let Some(wanted) = next else {
                        return self.finish_named();
                    };
                    self.need = Need::Signatures {
                        instance: Some(parse(&wanted.entry.digest_text, &wanted.what)?),
                    };
                    Ok(())
                }
                Phase::HeldWrite => {
                    let (bytes, media_type, digest) =
                        self.shortcut.clone().expect("held only with a shortcut");
                    if self.held == Some(true) {
                        self.committed = Some((bytes, media_type));
                        self.phase = Phase::TopSignaturesWrite;
                        return self.write_step(None);
                    }
                    self.need = Need::WriteManifest {
                        bytes,
                        media_type,
                        digest,
                        instance: None,
                        role: if self.in_list() {
                            Role::List
                        } else {
                            Role::Image
                        },
                    };
                    Ok(())
                }
                Phase::Image(write) => {
                    let write = write.clone();
                    self.next_image_form(write)
                }
                Phase::List(write) => {
                    let write = write.clone();
                    self.next_list_form(write)
                }
                Phase::TopSignaturesWrite => {
                    let signatures = match &self.top_plan {
                        Some(TopPlan::List(_)) => self.top_signatures.clone(),
                        _ => self
                            .jobs
                            .first()
                            .map(|j| j.signatures.clone())
                            .unwrap_or_default(),
                    };
                    if self.options.sign.any() {
                        let (bytes, _) = self
                            .committed
                            .as_ref()
                            .expect("the top level is written before its signatures");
                        let digest = manifest::digest(bytes).map_err(Error::WrittenDigest)?;
                        return self.sign(signatures, digest, None, Phase::TopSignaturesWrite);
                    }
                    if self.write_signatures(signatures, None)? {
                        return Ok(());
                    }
                    self.phase = Phase::Commit;
                    self.write_step(None)
                }
                Phase::Commit => {
                    let (bytes, media_type) = self
                        .committed
                        .clone()
                        .expect("the top level is written before the commit");
                    self.need = Need::Commit { bytes, media_type };
                    Ok(())
                }
                _ => Ok(()),
            };
        };
        let phase = core::mem::replace(&mut self.phase, Phase::Final);
        match (phase, answer) {
            (Phase::Transfers { outstanding }, Answer::Blob { id, outcome }) => {
                if !matches!(self.outcomes.get(id), Some(None)) {
                    self.phase = Phase::Transfers { outstanding };
                    return Err(Error::UnexpectedAnswer { need: "Transfer" });
                }
                self.tally_outcome(&outcome);
                self.outcomes[id] = Some(outcome);
                if outstanding > 1 {
                    self.phase = Phase::Transfers {
                        outstanding: outstanding - 1,
                    };
                    return Ok(());
                }
                self.finish_transfers()?;
                self.advance()
            }
            (Phase::Transfers { outstanding }, Answer::Held { tagged })
                if self.shortcut.is_some() =>
            {
                self.held = Some(tagged);
                self.phase = Phase::Transfers { outstanding };
                Ok(())
            }
            (Phase::NamedSignatures { index }, Answer::Signatures(signatures)) => {
                // Signatures to copy: the images are read and copied as
                // usual, their signatures read again with them.
                self.phase = if signatures.is_empty() {
                    Phase::NamedSignatures { index: index + 1 }
                } else {
                    Phase::Instance {
                        index: 0,
                        read: None,
                    }
                };
                self.advance()
            }
            (Phase::HeldWrite, Answer::Written) => {
                let (bytes, media_type, digest) =
                    self.shortcut.clone().expect("held only with a shortcut");
                self.written.push(Written {
                    role: if self.in_list() { "list" } else { "image" },
                    digest: digest.to_string(),
                    media_type: media_type.clone(),
                });
                self.committed = Some((bytes, media_type));
                self.phase = Phase::TopSignaturesWrite;
                self.write_step(None)
            }
            (Phase::HeldWrite, Answer::Rejected { media_type, reason }) => {
                Err(Error::ManifestRejected {
                    attempts: alloc::vec![format!("{media_type}: {reason}")],
                })
            }
            (Phase::Image(write), answer) => self.handle_image(write, answer),
            (Phase::ImageSignatures { job }, Answer::Done) => {
                self.phase = Phase::Image(self.image_write(job + 1)?);
                self.write_step(None)
            }
            (Phase::List(write), answer) => self.handle_list(write, answer),
            (Phase::ListSignatures { index }, Answer::Done) => {
                self.phase = Phase::List(self.list_write(index + 1)?);
                self.write_step(None)
            }
            (Phase::TopSignaturesWrite, Answer::Done) => {
                self.phase = Phase::Commit;
                self.write_step(None)
            }
            (
                Phase::Signing {
                    mut signatures,
                    instance,
                    then,
                },
                Answer::Signatures(new),
            ) => {
                signatures.extend(new);
                self.phase = *then;
                if self.write_signatures(signatures, instance)? {
                    return Ok(());
                }
                // Nothing to write after all (the signer made none).
                self.write_step(Some(Answer::Done))
            }
            (Phase::Commit, Answer::Done) => {
                self.need = Need::Done;
                Ok(())
            }
            (phase, _) => {
                self.phase = phase;
                Err(Error::UnexpectedAnswer {
                    need: self.need_name(),
                })
            }
        }
    }

    fn stop(&mut self, need: Need) -> Result<(), Error> {
        self.need = need;
        self.phase = Phase::Final;
        Ok(())
    }

    /// The images to read, as the top-level decision names them.
    fn start_instances(&mut self) -> Result<(), Error> {
        self.start_twins()?;
        let top_plan = self.top_plan.as_ref().expect("planned");
        let mut wanted = Vec::new();
        match top_plan {
            TopPlan::Image => {
                let plan = plan::plan_image(
                    &self.top_bytes,
                    &self.top_type,
                    !self.top_signatures.is_empty(),
                    &self.plan_destination,
                    &self.options,
                    ImageContext {
                        list_digest: None,
                        in_list: false,
                    },
                )?;
                self.jobs.push(Job {
                    instance: None,
                    bytes: self.top_bytes.clone(),
                    signatures: self.top_signatures.clone(),
                });
                self.plans.push(plan);
            }
            TopPlan::Instance {
                list_digest, entry, ..
            } => {
                // The chosen image's entry: in the list itself, or in a
                // list nested in it.
                let position = List::from_blob(&self.top_bytes, &self.top(false).media_type())
                    .ok()
                    .and_then(|l| {
                        l.entries
                            .iter()
                            .position(|e| e.digest_text == entry.digest_text)
                    });
                let what = match position {
                    Some(i) => format!("entry {i} of list {list_digest}"),
                    None => format!(
                        "the entry of {} in a list nested in list {list_digest}",
                        entry.digest_text
                    ),
                };
                wanted.push(Wanted {
                    entry: (**entry).clone(),
                    what,
                    list_digest: Some(list_digest.to_string()),
                    in_list: false,
                });
            }
            TopPlan::List(list_plan) => {
                let list_digest = Digest::sha256_of(&self.top_bytes);
                for entry in list_plan.instances_to_copy() {
                    // Which list names the entry, and where: the top-level
                    // list or one nested in it.
                    let what = core::iter::once(&**list_plan)
                        .chain(&list_plan.nested)
                        .find_map(|plan| {
                            let i = plan
                                .list
                                .entries
                                .iter()
                                .position(|e| core::ptr::eq(e, entry))?;
                            let digest = if core::ptr::eq(plan, &**list_plan) {
                                list_digest.to_string()
                            } else {
                                plan.digest.clone()
                            };
                            Some(format!("entry {i} of list {digest}"))
                        })
                        .unwrap_or_else(|| format!("the list entry of {}", entry.digest_text));
                    wanted.push(Wanted {
                        entry: entry.clone(),
                        what,
                        list_digest: None,
                        in_list: true,
                    });
                }
            }
        }
        self.wanted = wanted;
        // Whether the destination has it all is the writer's to decide.
        self.phase = if self.names.is_some() && self.mode == Mode::Copy {
            Phase::NamedSignatures { index: 0 }
        } else {
            Phase::Instance {
                index: 0,
                read: None,
            }
        };
        Ok(())
    }

    /// The copy of a top level the destination's reference names already,
    /// with no signatures to copy: it commits the top level as it is.
    fn finish_named(&mut self) -> Result<(), Error> {
        // The same top level the shortcut names ([`Copy::unchanged_top`]);
        // were it not, the images are read and copied as usual.
        let Some((bytes, media_type, _)) = self.unchanged_top() else {
            self.phase = Phase::Instance {
                index: 0,
                read: None,
            };
            return self.advance();
        };
        self.committed = Some((bytes, media_type));
        self.held = Some(true);
        self.phase = Phase::Commit;
        self.write(None)
    }

    fn add_job(
        &mut self,
        index: usize,
        bytes: Vec<u8>,
        media_type: String,
        signatures: Vec<Vec<u8>>,
    ) -> Result<(), Error> {
        let wanted = &self.wanted[index];
        let plan = plan::plan_image(
            &bytes,
            &media_type,
            !signatures.is_empty(),
            &self.plan_destination,
            &self.options,
            ImageContext {
                list_digest: wanted.list_digest.as_deref(),
                in_list: wanted.in_list,
            },
        )?;
        self.jobs.push(Job {
            instance: Some(parse(&wanted.entry.digest_text, &wanted.what)?),
            bytes,
            signatures,
        });
        self.plans.push(plan);
        self.add_twins(self.jobs.len() - 1)?;
        self.phase = Phase::Instance {
            index: index + 1,
            read: None,
        };
        Ok(())
    }

    /// `--add-compression`: refused unless the whole list is copied; the
    /// twins the list needs ([`plan::compression_twins`]).
    fn start_twins(&mut self) -> Result<(), Error> {
        let Some(format) = self.options.add_compression.iter().next() else {
            return Ok(());
        };
        let copies = match self.top_plan.as_ref().expect("planned") {
            TopPlan::Image => "copies a single image",
            TopPlan::Instance { .. } => "copies one image out of the list",
            TopPlan::List(_) if self.options.selection != plan::Selection::All => {
                "copies only some of the list's images"
            }
            TopPlan::List(list_plan) => {
                self.twins = plan::compression_twins(list_plan, self.options.add_compression);
                return Ok(());
            }
        };
        Err(Error::Plan(PlanError::AddCompressionNeedsList {
            format,
            copies,
        }))
    }

    /// Adds the twins of image `job` after it, each planned as the image
    /// with its layers forced into the twin's format. An image that may
    /// not change (signed, or not an image with compressible layers)
    /// cannot have a twin.
    fn add_twins(&mut self, job: usize) -> Result<(), Error> {
        let Some(instance) = self.jobs[job].instance.clone() else {
            return Ok(());
        };
        let digest = instance.to_string();
        let formats: compression::Formats = self
            .twins
            .iter()
            .filter(|t| t.source_digest == digest)
            .map(|t| t.format)
            .collect();
        // The copy's options with the twin's format forced, set in place
        // and put back: a clone of the options cost the npm module about
        // a kilobyte after wasm-opt.
        let requested = self.options.compression;
        for format in formats.iter() {
            self.options.compression = compression::Requested {
                format: Some(format),
                level: None,
                force: true,
                ..requested
            };
            let source = &self.jobs[job];
            let planned = plan::plan_image(
                &source.bytes,
                &self.plans[job].source_media_type,
                !source.signatures.is_empty(),
                &self.plan_destination,
                &self.options,
                ImageContext {
                    list_digest: None,
                    in_list: true,
                },
            );
            self.options.compression = requested;
            let mut twin_plan = planned?;
            if twin_plan.layer_wish.is_none() {
                let reason = match twin_plan.cannot_modify {
                    Some(reason) => reason.to_string(),
                    None => "it is not an image whose layers can be compressed".into(),
                };
                return Err(Error::Plan(PlanError::TwinUnmodifiable {
                    digest,
                    format,
                    reason,
                }));
            }
            twin_plan.twin = Some(format);
            let bytes = self.jobs[job].bytes.clone();
            self.jobs.push(Job {
                instance: Some(instance.clone()),
                bytes,
                signatures: Vec::new(),
            });
            self.plans.push(twin_plan);
        }
        Ok(())
    }

    /// Before anything moves: a copy that would sign and cannot store
    /// signatures fails, and signatures the destination cannot store are
    /// offered to it so that it refuses them saying why.
    fn start_refusals(&mut self) -> Result<(), Error> {
        if !self.signature_storage.covers(self.options.sign) {
            return Err(Error::SigningUnsupported);
        }
        self.refusals = self.signatures_to_refuse();
        self.phase = Phase::Refusals { next: 0 };
        self.advance()
    }

    /// The images the policy judges: the list when it is written, then
    /// every image copied, with the signatures read for them.
    fn to_judge(&self) -> Vec<Judged> {
        let signatures_of = |instance: Option<&Digest>, kept: &[Vec<u8>]| {
            self.judged_signatures
                .iter()
                .find(|(i, _)| i.as_ref() == instance)
                .map_or_else(|| kept.to_vec(), |(_, s)| s.clone())
        };
        let mut out = Vec::new();
        if matches!(self.top_plan, Some(TopPlan::List(_))) {
            out.push(Judged {
                instance: None,
                manifest: self.top_bytes.clone(),
                signatures: signatures_of(None, &self.top_signatures),
            });
        }
        // A twin is the image it twins, judged once.
        for (job, _) in self
            .jobs
            .iter()
            .zip(&self.plans)
            .filter(|(_, p)| p.twin.is_none())
        {
            let kept = if job.instance.is_none() {
                &self.top_signatures
            } else {
                &job.signatures
            };
            out.push(Judged {
                instance: job.instance.clone(),
                manifest: job.bytes.clone(),
                signatures: signatures_of(job.instance.as_ref(), kept),
            });
        }
        out
    }

    /// Signatures the destination cannot store fail the copy before
    /// anything is written, as in containers/image. Only what this copy
    /// writes counts: a list's own signatures go with the list, not with
    /// one instance taken out of it, and nested lists are written only
    /// with their parent.
    fn signatures_to_refuse(&self) -> Vec<(Vec<Vec<u8>>, Option<Digest>)> {
        let writes_lists = matches!(self.top_plan, Some(TopPlan::List(_)));
        let mut out = Vec::new();
        if writes_lists {
            out.push((self.top_signatures.clone(), None));
        }
        for job in &self.jobs {
            out.push((job.signatures.clone(), job.instance.clone()));
        }
        if writes_lists {
            for (digest, signatures) in &self.nested_signatures {
                out.push((signatures.clone(), Digest::parse(digest).ok()));
            }
        }
        out.retain(|(s, _)| !s.is_empty() && !self.signature_storage.accepts(s));
        out
    }

    fn start_transfers(&mut self) -> Result<(), Error> {
        self.transfers = plan::blob_transfers(&self.plans);
        if self.mode == Mode::Plan {
            return self.finish_transfers();
        }
        self.phase = Phase::StartTransfers;
        Ok(())
    }

    /// The transfers as tasks for the driver (by the [`Writer`], in
    /// [`Phase::StartTransfers`]).
    fn start_tasks(&mut self) -> Result<(), Error> {
        let mut tasks = Vec::with_capacity(self.transfers.len());
        for (id, t) in self.transfers.iter().enumerate() {
            let source = t.used_by.first().map(String::as_str).unwrap_or_default();
            tasks.push(BlobTask {
                id,
                digest: parse(&t.digest, &format!("a blob of {source}"))?,
                size: (t.size != manifest::UNKNOWN_SIZE).then_some(t.size),
                media_type: t.media_type.clone(),
                what: format!(
                    "the {} of manifest {source}",
                    if t.config { "config" } else { "layer" }
                ),
                operation: t.operation,
                wish: t.wish,
                check: t.check,
                diff_id: t.diff_id,
            });
        }
        self.outcomes = alloc::vec![None; tasks.len()];
        self.tasks = tasks;
        self.shortcut = self.unchanged_top();
        let named = self.shortcut.as_ref().map(|(_, _, d)| d.to_string());
        if named.is_some() && named == self.names {
            // The destination's reference names it: it holds it all.
            self.outcomes = alloc::vec![Some(BlobOutcome::Present); self.tasks.len()];
            self.tally.skipped += self.tasks.len();
            self.held = Some(true);
            return self.finish_transfers();
        }
        if self.tasks.is_empty() {
            self.finish_transfers()?;
        } else {
            self.phase = Phase::Transfers {
                outstanding: self.tasks.len(),
            };
            self.need = Need::Transfer(self.tasks.clone());
        }
        Ok(())
    }

    /// [`Copy::shortcut`]'s manifest, its type and its digest, if the copy
    /// leaves the top level and everything it names as they are: no
    /// forced format or compression, no twins, no layer whose diff ID a
    /// conversion needs, no signatures made, and none to write but the
    /// top level's ([`crate::sync::unchanged_digest`] decides the rest).
    fn unchanged_top(&self) -> Option<(Vec<u8>, String, Digest)> {
        if !self.twins.is_empty() || self.tasks.iter().any(|t| t.diff_id) {
            return None;
        }
        let unchanged = self.unchanged_digest()?;
        let (bytes, media_type) = match self.top_plan.as_ref()? {
            TopPlan::List(_) => {
                // An instance's or nested list's signatures are written
                // beside it.
                if self.jobs.iter().any(|j| !j.signatures.is_empty())
                    || !self.nested_signatures.is_empty()
                {
                    return None;
                }
                (self.top_bytes.clone(), self.top(false).media_type())
            }
            TopPlan::Image | TopPlan::Instance { .. } => (
                self.jobs.first()?.bytes.clone(),
                self.plans.first()?.source_media_type.clone(),
            ),
        };
        let digest = manifest::digest(&bytes).ok()?;
        (digest == unchanged).then_some((bytes, media_type, digest))
    }

    fn tally_outcome(&mut self, outcome: &BlobOutcome) {
        let tally = &mut self.tally;
        match outcome {
            BlobOutcome::Present => {
                tally.skipped += 1;
                // The task is looked up by the caller; sizes are added in
                // `finish_transfers`.
            }
            BlobOutcome::Absent => {}
            BlobOutcome::Mounted { refetched } => {
                tally.mounted += 1;
                tally.refetched += refetched;
            }
            BlobOutcome::Reused { mounted: true, .. } => tally.mounted += 1,
            BlobOutcome::Reused { mounted: false, .. } => tally.skipped += 1,
            BlobOutcome::Copied {
                size, refetched, ..
            } => {
                tally.copied += 1;
                tally.bytes_copied += size;
                tally.refetched += refetched;
            }
        }
    }

    /// With every transfer answered: the summary, then the manifests (or
    /// the end, for a dry run).
    fn finish_transfers(&mut self) -> Result<(), Error> {
        let skip: Vec<bool> = (0..self.transfers.len())
            .map(|i| matches!(self.outcomes.get(i), Some(Some(BlobOutcome::Present))))
            .collect();
        self.tally.bytes_skipped = self
            .tasks
            .iter()
            .zip(&skip)
            .filter(|(_, s)| **s)
            .map(|(t, _)| t.size.map_or(0, |s| s.max(0) as u64))
            .sum();
        let top_plan = self.top_plan.as_ref().expect("planned");
        self.summary = Some(plan::summarize_transfers(
            top_plan,
            &self.top_bytes,
            &self.plans,
            &self.transfers,
            &skip,
        ));
        if self.mode == Mode::Copy {
            self.phase = if self.held.is_some() {
                Phase::HeldWrite
            } else {
                Phase::StartWrites
            };
        } else {
            self.need = Need::Done;
            self.phase = Phase::Final;
        }
        Ok(())
    }

    fn in_list(&self) -> bool {
        matches!(self.top_plan, Some(TopPlan::List(_)))
    }

    /// The layer's new form, if its transfer changed it.
    fn changed(
        &self,
        digest: &str,
        operation: BlobOperation,
        wish: Option<Wish>,
    ) -> Option<&LayerUpdate> {
        self.transfers
            .iter()
            .zip(&self.outcomes)
            .find(|(t, _)| t.digest == digest && t.operation == operation && t.wish == wish)
            .and_then(|(_, o)| match o {
                Some(BlobOutcome::Copied { changed, .. }) => changed.as_ref(),
                Some(BlobOutcome::Reused { changed, .. }) => Some(changed),
                _ => None,
            })
    }

    /// The size and diff ID computed while copying a layer.
    fn diff_id(&self, digest: &str) -> Option<(i64, Digest)> {
        self.transfers
            .iter()
            .zip(&self.outcomes)
            .find_map(|(t, o)| match o {
                Some(BlobOutcome::Copied {
                    size,
                    diff_id: Some(d),
                    ..
                }) if t.digest == digest => Some((*size as i64, d.clone())),
                _ => None,
            })
    }

    /// Starts writing image `job`, or the lists after the last image.
    fn image_write(&self, job: usize) -> Result<ImageWrite, Error> {
        let Some(j) = self.jobs.get(job) else {
            // Not reached when there are no more images: see `advance`.
            return Ok(ImageWrite {
                job,
                base: Vec::new(),
                base_type: String::new(),
                targets: Vec::new(),
                next: 0,
                attempts: Vec::new(),
                step: ImageStep::Idle,
            });
        };
        let plan = &self.plans[job];
        let mut base = j.bytes.clone();
        let mut base_type = plan.source_media_type.clone();
        let mut zstd_refusals = Vec::new();
        let mut targets: Vec<String> = core::iter::once(&plan.conversion.preferred)
            .chain(&plan.conversion.fallbacks)
            .cloned()
            .collect();
        if let Some(wish) = plan.layer_wish {
            // Layers may have changed form in transit: the manifest names
            // the new blobs (the same bytes when none did).
            let mut parsed = self.parse_job(job, &base)?;
            let updates: Vec<LayerUpdate> = plan
                .blobs
                .iter()
                .zip(&plan.operations)
                .filter(|(b, _)| !b.config)
                .map(|(b, op)| {
                    let wish = compression::layer_compression(&b.media_type).map(|_| wish);
                    self.changed(&b.digest, *op, wish)
                        .cloned()
                        .unwrap_or_else(|| LayerUpdate {
                            digest: b.digest.clone(),
                            size: b.size,
                            media_type: b.media_type.clone(),
                        })
                })
                .collect();
            if updates
                .iter()
                .any(|u| compression::needs_oci(&u.media_type))
                && matches!(parsed, Manifest::Schema2(_))
            {
                // Docker schema 2 cannot name zstd layers
                // (containers/image: "zstd compression is not supported
                // for type …"): the image becomes OCI, the one form that
                // can, and the forms that cannot are given up.
                let oci = convert::convert(&parsed, mt::OCI_MANIFEST).map_err(|error| {
                    Error::Convert {
                        target: mt::OCI_MANIFEST.into(),
                        error,
                    }
                })?;
                parsed = Manifest::parse(&oci).map_err(|error| {
                    Error::Plan(PlanError::Manifest {
                        what: "the manifest converted for zstd layers".into(),
                        error,
                    })
                })?;
                base_type = mt::OCI_MANIFEST.into();
                let accepts_oci = self.plan_destination.supported_types.is_empty()
                    || self
                        .plan_destination
                        .supported_types
                        .iter()
                        .any(|t| t == mt::OCI_MANIFEST);
                for t in targets.iter().filter(|t| *t != mt::OCI_MANIFEST) {
                    zstd_refusals.push(format!(
                        "{t}: zstd compression is not supported for its layer types"
                    ));
                }
                targets.retain(|t| t == mt::OCI_MANIFEST);
                if targets.is_empty() && accepts_oci {
                    targets.push(mt::OCI_MANIFEST.into());
                }
            }
            base = edit::with_layers(&parsed, &updates).map_err(Error::Edit)?;
        }
        Ok(ImageWrite {
            job,
            base,
            base_type,
            targets,
            next: 0,
            attempts: zstd_refusals,
            step: ImageStep::Idle,
        })
    }

    fn parse_job(&self, job: usize, bytes: &[u8]) -> Result<Manifest, Error> {
        let plan = &self.plans[job];
        Manifest::from_blob(bytes, &plan.source_media_type).map_err(|error| {
            Error::Plan(PlanError::Manifest {
                what: format!("manifest {}", plan.source_digest),
                error,
            })
        })
    }

    /// The manifest as the destination will hold it before conversion.
    fn parse_base(&self, write: &ImageWrite) -> Result<Manifest, Error> {
        Manifest::from_blob(&write.base, &write.base_type).map_err(|error| {
            Error::Plan(PlanError::Manifest {
                what: format!("manifest {}", self.plans[write.job].source_digest),
                error,
            })
        })
    }

    /// Tries the image's next form: decides it, and asks for the first
    /// thing writing it needs.
    fn next_image_form(&mut self, mut write: ImageWrite) -> Result<(), Error> {
        if write.job >= self.jobs.len() {
            self.phase = Phase::List(self.list_write(0)?);
            return self.advance();
        }
        match self.decide_form(&mut write)? {
            FirstAsk::Write { target, bytes } => self.write_image(write, target, bytes),
            FirstAsk::Other { need, step } => {
                self.need = need;
                write.step = step;
                self.phase = Phase::Image(write);
                Ok(())
            }
        }
    }

    /// Decides the image's next form (moving `write` past the forms that
    /// cannot be built), and what writing it asks for first.
    fn decide_form(&self, write: &mut ImageWrite) -> Result<FirstAsk, Error> {
        let parsed = self.parse_base(write)?;
        let conversion = &self.plans[write.job].conversion;
        while let Some(target) = write.targets.get(write.next).cloned() {
            write.next += 1;
            if !conversion.needs_conversion
                && target == conversion.preferred
                && write.base_type == self.plans[write.job].source_media_type
            {
                let bytes = write.base.clone();
                return Ok(FirstAsk::Write { target, bytes });
            }
            if let Manifest::Schema1(schema1) = &parsed
                && matches!(target.as_str(), mt::DOCKER_V2S2 | mt::OCI_MANIFEST)
            {
                // Schema 1 to schema 2 (and on to OCI), with the diff IDs
                // computed while its layers were copied; the new config
                // is stored first.
                let mut layers = Vec::new();
                for info in schema1.layer_infos() {
                    let layer = info.descriptor.digest_text;
                    let found = self.diff_id(&layer).ok_or(Error::MissingDiffId { layer })?;
                    layers.push(found);
                }
                let (config, manifest) = match schema1.to_schema2(&layers) {
                    Ok(built) => built,
                    Err(error) => {
                        write.unbuildable(&target, "the schema 1 history", error);
                        continue;
                    }
                };
                return Ok(FirstAsk::Other {
                    need: Need::PutBlob {
                        digest: Digest::sha256_of(&config),
                        media_type: mt::DOCKER_CONFIG.into(),
                        bytes: config,
                        what: "the converted config",
                    },
                    step: ImageStep::ConfigStored { target, manifest },
                });
            }
            if !matches!(parsed, Manifest::Schema1(_))
                && matches!(target.as_str(), mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED)
            {
                // Schema 1 is built from the source's config.
                let config = parsed.config();
                return Ok(FirstAsk::Other {
                    need: Need::Config {
                        digest: parse(&config.digest_text, "the config")?,
                        size: config.size,
                        media_type: config.media_type,
                    },
                    step: ImageStep::ConfigRead { target },
                });
            }
            match convert::convert(&parsed, &target) {
                Ok(bytes) => return Ok(FirstAsk::Write { target, bytes }),
                Err(e) => write.attempts.push(format!("{target}: {e}")),
            }
        }
        Err(Error::ManifestRejected {
            attempts: write.attempts.clone(),
        })
    }

    /// While the copy writes the images of a list: the instance manifests
    /// it will ask to be written after the current
    /// [`Need::WriteManifest`], each exactly as it will ask, in order.
    /// Only those known now are named: an instance whose first form needs
    /// something read, stored or signed first is left out, and so is a
    /// later form tried after a refusal. None depends on how another
    /// instance's write ends, so a driver may write them all now, beside
    /// the current one, and answer each from its write when asked:
    /// against a registry each write is a round trip, and one after
    /// another a list's instances cost one each. The list that names them
    /// is asked for only once every one is answered. Empty in any other
    /// phase.
    pub fn writes_ahead(&self) -> Vec<Need> {
        let Phase::Image(write) = &self.phase else {
            return Vec::new();
        };
        if !matches!(
            self.need,
            Need::WriteManifest {
                role: Role::Instance,
                ..
            }
        ) {
            return Vec::new();
        }
        (write.job + 1..self.jobs.len())
            .filter_map(|job| {
                let mut next = self.image_write(job).ok()?;
                match self.decide_form(&mut next).ok()? {
                    FirstAsk::Write { target, bytes } => self
                        .write_need(job, &target, bytes)
                        .ok()
                        .map(|(need, _)| need),
                    FirstAsk::Other { .. } => None,
                }
            })
            .collect()
    }

    /// Asks for the image's manifest in this form to be written.
    fn write_image(
        &mut self,
        mut write: ImageWrite,
        target: String,
        bytes: Vec<u8>,
    ) -> Result<(), Error> {
        let (need, digest) = self.write_need(write.job, &target, bytes.clone())?;
        self.need = need;
        write.step = ImageStep::Writing {
            target,
            bytes,
            digest,
        };
        self.phase = Phase::Image(write);
        Ok(())
    }

    /// The need that writes image `job`'s manifest in this form, and the
    /// manifest's digest.
    fn write_need(
        &self,
        job: usize,
        target: &str,
        bytes: Vec<u8>,
    ) -> Result<(Need, Digest), Error> {
        let digest = manifest::digest(&bytes).map_err(Error::WrittenDigest)?;
        let media_type = self.image_media_type(job, target);
        let in_list = self.in_list();
        let need = Need::WriteManifest {
            bytes,
            media_type,
            digest: digest.clone(),
            instance: in_list.then(|| digest.clone()),
            role: if in_list { Role::Instance } else { Role::Image },
        };
        Ok((need, digest))
    }

    /// The type a manifest converted to `target` is written as: schema 1
    /// keeps its own (signed or not); what ferry converts to schema 1 it
    /// signs.
    fn image_media_type(&self, job: usize, target: &str) -> String {
        if !matches!(target, mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED) {
            return target.to_string();
        }
        match Manifest::from_blob(&self.jobs[job].bytes, &self.plans[job].source_media_type) {
            Ok(source @ Manifest::Schema1(_)) => source.media_type().to_string(),
            _ => mt::DOCKER_V2S1_SIGNED.to_string(),
        }
    }

    fn handle_image(&mut self, mut write: ImageWrite, answer: Answer) -> Result<(), Error> {
        let step = core::mem::replace(&mut write.step, ImageStep::Idle);
        match (step, answer) {
            (ImageStep::ConfigStored { target, manifest }, Answer::Done) => {
                if target == mt::DOCKER_V2S2 {
                    return self.write_image(write, target, manifest);
                }
                let schema2 = match Manifest::parse(&manifest) {
                    Ok(m) => m,
                    Err(error) => {
                        write.unbuildable(&target, "the converted manifest", error);
                        return self.next_image_form(write);
                    }
                };
                let bytes =
                    convert::convert(&schema2, &target).map_err(|error| Error::Convert {
                        target: target.clone(),
                        error,
                    })?;
                self.write_image(write, target, bytes)
            }
            (ImageStep::ConfigRead { target }, Answer::Config(config)) => {
                let source = self.parse_job(write.job, &self.jobs[write.job].bytes)?;
                let written = self.parse_base(&write)?;
                let written_layers: Vec<String> = written
                    .layers()
                    .into_iter()
                    .map(|l| l.descriptor.digest_text)
                    .collect();
                let (name, tag) = &self.docker_reference;
                let built = match convert::to_schema1(
                    &source,
                    &Schema1Inputs {
                        config: &config,
                        written_layers: &written_layers,
                        name,
                        tag,
                    },
                ) {
                    Ok(built) => built,
                    Err(e) => {
                        write.attempts.push(format!("{target}: {e}"));
                        return self.next_image_form(write);
                    }
                };
                if built.uses_empty_layer {
                    // Stored during the conversion, as containers/image does.
                    self.need = Need::PutBlob {
                        digest: Digest::parse(GZIPPED_EMPTY_LAYER_DIGEST)
                            .expect("the empty layer's digest is well formed"),
                        media_type: mt::DOCKER_LAYER_GZIP.into(),
                        bytes: GZIPPED_EMPTY_LAYER.to_vec(),
                        what: "the empty layer",
                    };
                    write.step = ImageStep::EmptyLayerStored {
                        target,
                        unsigned: built.unsigned,
                    };
                } else {
                    self.need = Need::Sign {
                        unsigned: built.unsigned,
                    };
                    write.step = ImageStep::Signing { target };
                }
                self.phase = Phase::Image(write);
                Ok(())
            }
            (ImageStep::EmptyLayerStored { target, unsigned }, Answer::Done) => {
                self.need = Need::Sign { unsigned };
                write.step = ImageStep::Signing { target };
                self.phase = Phase::Image(write);
                Ok(())
            }
            (ImageStep::Signing { target }, Answer::Signed(bytes)) => {
                self.write_image(write, target, bytes)
            }
            (
                ImageStep::Writing {
                    target,
                    bytes,
                    digest,
                },
                Answer::Written,
            ) => {
                let media_type = self.image_media_type(write.job, &target);
                let in_list = self.in_list();
                let job = &self.jobs[write.job];
                self.written.push(Written {
                    role: if in_list { "instance" } else { "image" },
                    digest: digest.to_string(),
                    media_type: media_type.clone(),
                });
                if let (Some(source), Some(format)) = (&job.instance, self.plans[write.job].twin) {
                    self.added.push(AddedInstance {
                        source_digest: source.to_string(),
                        written: InstanceUpdate {
                            digest: digest.to_string(),
                            size: bytes.len() as i64,
                            media_type: media_type.clone(),
                        },
                        zstd: format == compression::Format::Zstd,
                    });
                } else if let Some(source) = &job.instance {
                    self.copied.push(CopiedInstance {
                        source_digest: source.to_string(),
                        written: InstanceUpdate {
                            digest: digest.to_string(),
                            size: bytes.len() as i64,
                            media_type: media_type.clone(),
                        },
                    });
                }
                let signatures = job.signatures.clone();
                if !in_list {
                    self.single = Some((bytes, media_type));
                }
                let job = write.job;
                if in_list && self.options.sign.any() {
                    return self.sign(
                        signatures,
                        digest.clone(),
                        Some(digest),
                        Phase::ImageSignatures { job },
                    );
                }
                if in_list && self.write_signatures(signatures, Some(digest))? {
                    self.phase = Phase::ImageSignatures { job };
                    return Ok(());
                }
                self.phase = Phase::Image(self.image_write(job + 1)?);
                self.advance()
            }
            (ImageStep::Writing { .. }, Answer::Rejected { media_type, reason }) => {
                write.attempts.push(format!("{media_type}: {reason}"));
                self.next_image_form(write)
            }
            (step, _) => {
                write.step = step;
                self.phase = Phase::Image(write);
                Err(Error::UnexpectedAnswer {
                    need: self.need_name(),
                })
            }
        }
    }

    /// Asks for new signatures of the manifest written as `digest`, to be
    /// written with `signatures` before going on in `then`.
    fn sign(
        &mut self,
        signatures: Vec<Vec<u8>>,
        digest: Digest,
        instance: Option<Digest>,
        then: Phase,
    ) -> Result<(), Error> {
        self.need = Need::SignManifest {
            digest,
            instance: instance.clone(),
        };
        self.phase = Phase::Signing {
            signatures,
            instance,
            then: Box::new(then),
        };
        Ok(())
    }

    /// Asks for signatures to be written; false when there are none.
    fn write_signatures(
        &mut self,
        signatures: Vec<Vec<u8>>,
        instance: Option<Digest>,
    ) -> Result<bool, Error> {
        if signatures.is_empty() {
            return Ok(false);
        }
        if !self.signature_storage.accepts(&signatures) {
            return Err(Error::SignaturesUnsupported);
        }
        self.need = Need::WriteSignatures {
            signatures,
            instance,
        };
        Ok(true)
    }

    /// The lists to write: the nested lists (`index` below their count),
    /// then the top-level list; past those, the top level is done.
    fn list_write(&mut self, index: usize) -> Result<ListWrite, Error> {
        let candidates = match &self.top_plan {
            Some(TopPlan::List(list_plan)) => {
                let plan = match list_plan.nested.get(index) {
                    Some(nested) => Some(nested),
                    None if index == list_plan.nested.len() => Some(&**list_plan),
                    None => None,
                };
                match plan {
                    Some(plan) => {
                        let added = if index == list_plan.nested.len() {
                            &self.added[..]
                        } else {
                            &[]
                        };
                        plan::finish_list(plan, &self.copied, added, &ConvertOptions::default())?
                    }
                    None => Vec::new(),
                }
            }
            _ => Vec::new(),
        };
        Ok(ListWrite {
            index,
            candidates,
            next: 0,
            attempts: Vec::new(),
        })
    }

    fn nested_count(&self) -> Option<usize> {
        match &self.top_plan {
            Some(TopPlan::List(list_plan)) => Some(list_plan.nested.len()),
            _ => None,
        }
    }

    /// Tries the list's next form.
    fn next_list_form(&mut self, mut write: ListWrite) -> Result<(), Error> {
        let Some(nested) = self.nested_count().filter(|n| write.index <= *n) else {
            // No list left: the top level is the single image.
            if self.committed.is_none() {
                self.committed = self.single.clone();
            }
            self.phase = Phase::TopSignaturesWrite;
            return self.advance();
        };
        while let Some(candidate) = write.candidates.get(write.next) {
            write.next += 1;
            if let Some(refusal) = invented_platforms(candidate) {
                write.attempts.push(refusal);
                continue;
            }
            let is_nested = write.index < nested;
            self.need = Need::WriteManifest {
                bytes: candidate.bytes.clone(),
                media_type: candidate.media_type.clone(),
                digest: candidate.digest.clone(),
                instance: is_nested.then(|| candidate.digest.clone()),
                role: if is_nested {
                    Role::NestedList
                } else {
                    Role::List
                },
            };
            self.phase = Phase::List(write);
            return Ok(());
        }
        Err(Error::ManifestRejected {
            attempts: write.attempts,
        })
    }

    fn handle_list(&mut self, mut write: ListWrite, answer: Answer) -> Result<(), Error> {
        let nested = self.nested_count().unwrap_or_default();
        let Some(candidate) = write
            .next
            .checked_sub(1)
            .map(|i| write.candidates[i].clone())
        else {
            self.phase = Phase::List(write);
            return Err(Error::UnexpectedAnswer {
                need: self.need_name(),
            });
        };
        match answer {
            Answer::Written => {
                self.written.push(Written {
                    role: "list",
                    digest: candidate.digest.to_string(),
                    media_type: candidate.media_type.clone(),
                });
                let index = write.index;
                if index < nested {
                    let source = match &self.top_plan {
                        Some(TopPlan::List(p)) => p.nested[index].digest.clone(),
                        _ => unreachable!("lists are written for list plans"),
                    };
                    self.copied.push(CopiedInstance {
                        source_digest: source.clone(),
                        written: InstanceUpdate {
                            digest: candidate.digest.to_string(),
                            size: candidate.bytes.len() as i64,
                            media_type: candidate.media_type.clone(),
                        },
                    });
                    let signatures = self
                        .nested_signatures
                        .iter()
                        .find(|(d, _)| *d == source)
                        .map(|(_, s)| s.clone())
                        .unwrap_or_default();
                    if self.write_signatures(signatures, Some(candidate.digest))? {
                        self.phase = Phase::ListSignatures { index };
                        return Ok(());
                    }
                } else {
                    self.committed = Some((candidate.bytes, candidate.media_type));
                }
                self.phase = Phase::List(self.list_write(index + 1)?);
                self.advance()
            }
            Answer::Rejected { media_type, reason } => {
                write.attempts.push(format!("{media_type}: {reason}"));
                self.next_list_form(write)
            }
            _ => {
                self.phase = Phase::List(write);
                Err(Error::UnexpectedAnswer {
                    need: self.need_name(),
                })
            }
        }
    }
}

fn parse(text: &str, what: &str) -> Result<Digest, Error> {
    Digest::parse(text).map_err(|error| Error::Digest {
        what: what.to_string(),
        error,
    })
}
