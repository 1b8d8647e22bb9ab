//! Choosing a list entry for an arbitrary platform.
//!
//! Header (before the first newline): one byte of option flags (see
//! `ferry_fuzz::choose_options`), then the wanted platform as
//! `OS/ARCH/VARIANT/OS.VERSION`. The document is read as a list, guessed
//! and as each list type.
//!
//! Invariants: the chosen digest is the digest of the entry at the chosen
//! index; there is one verdict per entry and exactly one is chosen and
//! accepted; no accepted entry ranks better than the chosen one; a failed
//! choice accepted nothing and still explains every entry.
#![no_main]

use ferry_core::Platform;
use ferry_core::choose::{ChooseOptions, choose_instance};
use ferry_core::list::{List, ListKind};
use ferry_fuzz::{byte, choose_options, platform, split};
use libfuzzer_sys::fuzz_target;

fn check(list: &List, wanted: &Platform, options: &ChooseOptions) {
    match choose_instance(list, wanted, options) {
        Ok(choice) => {
            let entry = list
                .entries
                .get(choice.index)
                .expect("the chosen index is in the list");
            assert_eq!(choice.digest, entry.digest_text);
            assert!(list.instance(&choice.digest).is_some());
            assert_eq!(choice.explanation.len(), list.entries.len());
            let chosen: Vec<_> = choice.explanation.iter().filter(|v| v.chosen).collect();
            assert_eq!(chosen.len(), 1, "exactly one entry is chosen");
            assert_eq!(chosen[0].index, choice.index);
            assert!(chosen[0].accepted);
            let best = chosen[0].rank.expect("the chosen entry has a rank");
            for v in &choice.explanation {
                assert_eq!(v.digest, list.entries[v.index].digest_text);
                if v.accepted {
                    let rank = v.rank.expect("accepted entries have a rank");
                    assert!(
                        rank >= best,
                        "entry {} ranks better than the chosen one",
                        v.index
                    );
                } else {
                    assert!(!v.chosen);
                }
                if options.skip_attestations && v.chosen {
                    let e = &list.entries[v.index];
                    assert!(
                        !e.platform
                            .as_ref()
                            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown"),
                        "an attestation was chosen although they are skipped"
                    );
                }
            }
        }
        Err(no) => {
            assert_eq!(no.explanation.len(), list.entries.len());
            assert!(no.explanation.iter().all(|v| !v.accepted && !v.chosen));
            assert_eq!(*no.wanted, *wanted);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (header, document) = split(data);
    let options = choose_options(byte(header, 0));
    let wanted = platform(header.get(1..).unwrap_or_default());
    if let Ok(list) = List::parse(document) {
        check(&list, &wanted, &options);
    }
    for kind in [ListKind::DockerList, ListKind::OciIndex] {
        if let Ok(list) = List::parse_kind(document, kind) {
            check(&list, &wanted, &options);
            // The ladder always starts with the wanted platform itself.
            let ladder = ferry_core::choose::wanted_platforms(&wanted, &options);
            assert!(!ladder.is_empty());
            assert_eq!(ladder[0].variant, wanted.variant);
            assert!(
                ladder
                    .iter()
                    .all(|p| p.os == wanted.os && p.architecture == wanted.architecture)
            );
        }
    }
});
