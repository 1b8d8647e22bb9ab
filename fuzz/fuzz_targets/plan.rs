//! Copy planning: `plan_top` for the top-level manifest and `plan_image`
//! for one image, with arbitrary options and destinations.
//!
//! Header (before the first newline), byte by byte:
//! 0. flags: bits 0-1 the selection (system, all, instances by platform,
//!    instances by digest), bit 2 strip unselected, bit 3
//!    `--remove-signatures`, bit 4 `--preserve-digests`, bit 5 the source
//!    has signatures, bit 6 the image is in a list, bit 7 the destination
//!    reference names the document's own digest;
//! 1. the destination's accepted types, one bit per `MANIFEST_TYPES` entry
//!    (none set: anything);
//! 2. `--format`: 0 none, else a media type (`ferry_fuzz::media_type`);
//! 3. the type the source reports (`ferry_fuzz::media_type`);
//! 4. choose options (`ferry_fuzz::choose_options`) and layer compression
//!    (bits 4-5: preserve, compress, decompress);
//! 5. onwards: the platform, `OS/ARCH/VARIANT/OS.VERSION`.
//!
//! Invariants: a list plan keeps the list's bytes and has one action per
//! entry, copying every entry for `--all`; the instances to copy are in the
//! list; a chosen instance is in the list and the list digest is the sha256
//! of its bytes; an image plan's digest is the manifest digest, it has one
//! operation per blob, and a manifest that may not change is not converted.
#![no_main]

use ferry_core::manifest;
use ferry_core::media_type::{self as mt, MANIFEST_TYPES};
use ferry_core::plan::{
    CopyOptions, Destination, EntryAction, ImageContext, Selection, Top, TopPlan, Unselected,
    compression::Desired, plan_image, plan_top,
};
use ferry_fuzz::{byte, choose_options, media_type, platform, sha256, split};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (header, document) = split(data);
    let flags = byte(header, 0);
    let wanted = platform(header.get(5..).unwrap_or_default());
    let selection = match flags & 3 {
        0 => Selection::System(wanted.clone()),
        1 => Selection::All,
        2 => Selection::Instances {
            digests: Vec::new(),
            platforms: vec![wanted.clone()],
        },
        _ => Selection::Instances {
            // The digest the platform text spells, which is usually no
            // entry's: planning must refuse it, not panic.
            digests: vec![String::from_utf8_lossy(header.get(5..).unwrap_or_default()).into()],
            platforms: Vec::new(),
        },
    };
    let all = matches!(selection, Selection::All);
    let options = CopyOptions {
        selection,
        choose: choose_options(byte(header, 4)),
        unselected: if flags & 4 != 0 {
            Unselected::Strip
        } else {
            Unselected::Keep
        },
        forced: match byte(header, 2) {
            0 => None,
            n => Some(media_type(n).to_string()),
        },
        remove_signatures: flags & 8 != 0,
        preserve_digests: flags & 16 != 0,
        ..CopyOptions::new(Selection::All)
    };
    let has_signatures = flags & 32 != 0;
    let destination = Destination {
        supported_types: MANIFEST_TYPES
            .iter()
            .enumerate()
            .filter(|(i, _)| byte(header, 1) & (1 << i) != 0)
            .map(|(_, t)| t.to_string())
            .collect(),
        reference_digest: (flags & 128 != 0).then(|| sha256(document)),
        layer_compression: match (byte(header, 4) >> 4) & 3 {
            1 => Desired::Compress,
            2 => Desired::Decompress,
            _ => Desired::Preserve,
        },
    };
    let reported = media_type(byte(header, 3));
    let top = Top {
        bytes: document,
        media_type: reported,
        has_signatures,
    };
    match plan_top(&top, &destination, &options) {
        Ok(TopPlan::Image) => {}
        Ok(TopPlan::Instance {
            list_digest,
            choice,
            ..
        }) => {
            assert_eq!(list_digest.as_str(), sha256(document));
            let list = ferry_core::List::from_blob(
                document,
                if reported.is_empty() {
                    ferry_core::manifest::guess_media_type(document)
                } else {
                    reported.to_string()
                }
                .as_str(),
            )
            .expect("the list that was planned parses");
            assert_eq!(list.entries[choice.index].digest_text, choice.digest);
        }
        Ok(TopPlan::List(plan)) => {
            assert_eq!(plan.list.raw(), document);
            assert_eq!(plan.entries.len(), plan.list.entries.len());
            if all {
                assert!(plan.entries.iter().all(|a| *a == EntryAction::Copy));
            }
            if plan.cannot_modify.is_some() {
                assert!(!plan.entries.contains(&EntryAction::Drop));
                assert_eq!(plan.conversion.selected, plan.list.list_media_type());
            }
            assert!(mt::is_list(&plan.conversion.selected));
            for entry in plan.instances_to_copy() {
                assert!(plan.list.instance(&entry.digest_text).is_some());
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }

    let context = ImageContext {
        list_digest: None,
        in_list: flags & 64 != 0,
    };
    match plan_image(
        document,
        reported,
        has_signatures,
        &destination,
        &options,
        context,
    ) {
        Ok(plan) => {
            let digest = manifest::digest(document).expect("a planned manifest has a digest");
            assert_eq!(plan.source_digest, digest.as_str());
            assert_eq!(plan.operations.len(), plan.blobs.len());
            assert!(plan.blobs.iter().filter(|b| b.config).count() <= 1);
            if plan.cannot_modify.is_some() {
                assert!(!plan.conversion.needs_conversion);
                assert!(plan.conversion.fallbacks.is_empty());
                assert!(
                    plan.operations
                        .iter()
                        .all(|o| *o == ferry_core::plan::compression::BlobOperation::Keep),
                    "a manifest that may not change had its layers changed"
                );
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
