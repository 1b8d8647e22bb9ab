//! Parsing any bytes as a manifest or a list, guessed or with each media
//! type a caller might declare.
//!
//! Invariants: a parsed manifest or list keeps the exact input bytes; a
//! list's digest is the sha256 of those bytes; every entry can be looked
//! up by its digest; updating entries with their own values, or keeping
//! every entry, leaves the bytes unchanged; a real update re-parses with
//! the new values and the same number of entries.
#![no_main]

use ferry_core::list::{InstanceUpdate, List};
use ferry_core::media_type as mt;
use ferry_core::{Manifest, manifest};
use ferry_fuzz::{all_media_types, sha256};
use libfuzzer_sys::fuzz_target;

fn check_manifest(m: &Manifest, data: &[u8]) {
    assert_eq!(m.raw(), data, "a manifest must keep its bytes");
    assert!(mt::is_manifest_type(m.media_type()));
    let _ = m.config();
    let _ = m.layers();
    let _ = m.image_id();
    if let Ok(d) = m.digest() {
        assert_eq!(Ok(&d), manifest::digest(data).as_ref());
    }
}

fn check_list(list: &List, data: &[u8]) {
    assert_eq!(list.raw(), data, "a list must keep its bytes");
    assert_eq!(list.serialize(), data);
    assert_eq!(list.digest().as_str(), sha256(data));
    // Lookups are linear; checking a bounded number keeps the target fast
    // on hostile 10,000-entry lists.
    for e in list.entries.iter().take(256) {
        let found = list
            .instance(&e.digest_text)
            .expect("entry found by its digest");
        assert_eq!(found.digest_text, e.digest_text);
    }
    let mut kept = list.clone();
    let everything: Vec<usize> = (0..list.entries.len()).collect();
    kept.retain_entries(&everything)
        .expect("keeping every entry");
    assert_eq!(kept.raw(), data, "keeping every entry changed the bytes");

    let same: Vec<InstanceUpdate> = list
        .entries
        .iter()
        .map(|e| InstanceUpdate {
            digest: e.digest_text.clone(),
            size: e.size,
            media_type: e.media_type.clone(),
        })
        .collect();
    let mut updated = list.clone();
    if updated.update_instances(&same).is_ok() {
        assert_eq!(updated.raw(), data, "an unchanged update changed the bytes");
        // Every value was acceptable, so a real change must be too.
        let mut changed = same.clone();
        if let Some(first) = changed.first_mut()
            && first.size < i64::MAX
        {
            first.size += 1;
            let size = first.size;
            let mut edited = list.clone();
            edited
                .update_instances(&changed)
                .expect("a valid update of a valid list");
            assert_eq!(edited.entries.len(), list.entries.len());
            assert_eq!(edited.entries[0].size, size);
            assert_eq!(edited.kind, list.kind);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Manifest::parse(data) {
        check_manifest(&m, data);
    }
    if let Ok(list) = List::parse(data) {
        check_list(&list, data);
    }
    for media_type in all_media_types() {
        if let Ok(m) = Manifest::from_blob(data, media_type) {
            check_manifest(&m, data);
        }
        if let Ok(list) = List::from_blob(data, media_type) {
            assert_eq!(list.list_media_type(), mt::normalize(media_type));
            check_list(&list, data);
        }
    }
});
