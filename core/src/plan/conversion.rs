//! Which manifest and list types to write, given what the destination
//! accepts (containers/image's `determineManifestConversion` and
//! `determineListConversion`).

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::{CannotModify, PlanError};
use crate::media_type as mt;

/// The manifest type to write first, and the ones to try, in order, if the
/// destination refuses it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManifestConversion {
    pub preferred: String,
    /// Whether `preferred` differs from the source's (normalised) type.
    #[serde(rename = "needsConversion")]
    pub needs_conversion: bool,
    pub fallbacks: Vec<String>,
}

/// What decides a single image's manifest type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestConversionInput<'a> {
    /// The source manifest's type as the source reports it.
    pub source_type: &'a str,
    /// What the destination accepts; empty means anything.
    pub destination_types: &'a [String],
    /// `--format`.
    pub forced: Option<&'a str>,
    /// Only OCI can carry encrypted layers.
    pub requires_oci_encryption: bool,
    /// Set when the manifest must stay byte for byte as it is.
    pub cannot_modify: Option<CannotModify>,
}

/// An ordered set: appends ignore values already present.
fn push_unique(list: &mut Vec<String>, value: &str) {
    if !list.iter().any(|v| v == value) {
        list.push(value.to_string());
    }
}

/// Decides the manifest type for one image.
///
/// 1. The source type (normalised) comes first whenever the destination
///    accepts it: no conversion is the best conversion.
/// 2. If the manifest may not be modified, that is the only candidate.
/// 3. Then schema 2, then signed schema 1, then the destination's other
///    types in its own order.
///
/// Two deliberate differences from containers/image. A forced type the
/// destination does not accept is refused here, before anything is copied
/// (containers/image tries it anyway, and the destination refuses the
/// manifest after every blob has moved). With
/// `requires_oci_encryption`, only OCI is ever a candidate. containers/image
/// filters the preferred types but then appends the destination's whole
/// list, so an encrypted copy could end up in a format that cannot carry
/// encryption.
pub fn manifest_conversion(
    input: &ManifestConversionInput<'_>,
) -> Result<ManifestConversion, PlanError> {
    let source = mt::normalize(input.source_type);
    let keep = || ManifestConversion {
        preferred: source.to_string(),
        needs_conversion: false,
        fallbacks: Vec::new(),
    };
    let forced: Vec<String>;
    let destination: &[String] = match input.forced {
        Some(f) => {
            forced = alloc::vec![f.to_string()];
            &forced
        }
        None => input.destination_types,
    };
    if destination.is_empty() && (!input.requires_oci_encryption || source == mt::OCI_MANIFEST) {
        return Ok(keep());
    }
    let allowed = |t: &str| !input.requires_oci_encryption || t == mt::OCI_MANIFEST;
    let mut candidates = Vec::new();
    if destination.iter().any(|t| t == source) && allowed(source) {
        push_unique(&mut candidates, source);
    }
    if input.cannot_modify.is_some() {
        return Ok(keep());
    }
    if let Some(forced) = input.forced
        && !input.destination_types.is_empty()
        && !input.destination_types.iter().any(|t| t == forced)
    {
        return Err(PlanError::ForcedTypeRefused {
            forced: forced.to_string(),
            destination_types: input.destination_types.to_vec(),
        });
    }
    for t in [mt::DOCKER_V2S2, mt::DOCKER_V2S1_SIGNED] {
        if destination.iter().any(|d| d == t) && allowed(t) {
            push_unique(&mut candidates, t);
        }
    }
    for t in destination {
        if allowed(t) {
            push_unique(&mut candidates, t);
        }
    }
    if input.requires_oci_encryption && destination.is_empty() {
        push_unique(&mut candidates, mt::OCI_MANIFEST);
    }
    let Some((preferred, fallbacks)) = candidates.split_first() else {
        return Err(PlanError::NoManifestType {
            destination_types: destination.to_vec(),
            encryption: input.requires_oci_encryption,
        });
    };
    Ok(ManifestConversion {
        needs_conversion: preferred != source,
        preferred: preferred.clone(),
        fallbacks: fallbacks.to_vec(),
    })
}

/// The list type to write first and the ones to try after it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ListConversion {
    pub selected: String,
    pub fallbacks: Vec<String>,
}

/// `--format` names a manifest type; for a list it means the matching list
/// type (schema 1 or 2 → Docker list, OCI → OCI index).
pub fn list_type_for_forced(forced: &str) -> &str {
    match forced {
        mt::DOCKER_V2S1 | mt::DOCKER_V2S1_SIGNED | mt::DOCKER_V2S2 => mt::DOCKER_LIST,
        mt::OCI_MANIFEST => mt::OCI_INDEX,
        other => other,
    }
}

/// Decides the list type: the current type if the destination accepts it,
/// then the destination's list types in its order. An empty destination
/// list accepts both list types; a forced type is the only candidate.
pub fn list_conversion(
    current: &str,
    destination_types: &[String],
    forced: Option<&str>,
) -> Result<ListConversion, PlanError> {
    let all = [mt::DOCKER_LIST.to_string(), mt::OCI_INDEX.to_string()];
    let mut destination: &[String] = if destination_types.is_empty() {
        &all
    } else {
        destination_types
    };
    let forced_list: Vec<String>;
    if let Some(f) = forced {
        forced_list = alloc::vec![list_type_for_forced(f).to_string()];
        destination = &forced_list;
    }
    let mut candidates = Vec::new();
    if destination.iter().any(|t| t == current) {
        push_unique(&mut candidates, current);
    }
    for t in destination {
        if mt::is_list(t) {
            push_unique(&mut candidates, t);
        }
    }
    let Some((selected, fallbacks)) = candidates.split_first() else {
        return Err(PlanError::NoListType {
            destination_types: destination.to_vec(),
        });
    };
    Ok(ListConversion {
        selected: selected.clone(),
        fallbacks: fallbacks.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media_type::{
        DOCKER_LIST as DLIST, DOCKER_V2S1 as S1, DOCKER_V2S1_SIGNED as S1S, DOCKER_V2S2 as S2,
        OCI_INDEX as OIDX, OCI_MANIFEST as OCI,
    };

    fn types(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// `source` into a destination that accepts `dest`, nothing forced,
    /// nothing encrypted, the manifest free to change.
    fn input<'a>(source: &'a str, dest: &'a [String]) -> ManifestConversionInput<'a> {
        ManifestConversionInput {
            source_type: source,
            destination_types: dest,
            forced: None,
            requires_oci_encryption: false,
            cannot_modify: None,
        }
    }

    /// The type preferred, whether it needs a conversion, and how many
    /// fallbacks follow it.
    fn outline(plan: &ManifestConversion) -> (&str, bool, usize) {
        (
            plan.preferred.as_str(),
            plan.needs_conversion,
            plan.fallbacks.len(),
        )
    }

    fn mconv(source: &str, dest: &[&str]) -> (String, bool, Vec<String>) {
        let dest = types(dest);
        let plan = manifest_conversion(&input(source, &dest)).unwrap();
        (plan.preferred, plan.needs_conversion, plan.fallbacks)
    }

    /// containers/image's own test vectors for `determineManifestConversion`.
    #[test]
    fn manifest_conversion_matches_containers_image_vectors() {
        // (source, destination types, preferred, needs conversion, fallbacks)
        type Vector<'a> = (&'a str, &'a [&'a str], &'a str, bool, &'a [&'a str]);
        let cases: [Vector<'_>; 13] = [
            (S1S, &[], S1S, false, &[]),
            (S2, &[], S2, false, &[]),
            (S1S, &[S2, S1S, S1], S1S, false, &[S2, S1]),
            (S2, &[S2, S1S, S1], S2, false, &[S1S, S1]),
            (S1S, &[S1S, S1], S1S, false, &[S1]),
            ("text/plain", &[S2, S1S, S1], S1S, false, &[S2, S1]),
            ("text/plain", &[S1S, S1], S1S, false, &[S1]),
            (S2, &[S1S, S1], S1S, true, &[S1]),
            (S2, &[OCI], OCI, true, &[]),
            ("text/plain", &[S2], S2, true, &[]),
            (DLIST, &[OCI, S2, S1S, S1], S2, true, &[S1S, OCI, S1]),
            (DLIST, &[OCI, S1S, S1], S1S, true, &[OCI, S1]),
            (
                DLIST,
                &[OCI, "other options", "with lower priority"],
                OCI,
                true,
                &["other options", "with lower priority"],
            ),
        ];
        for (source, dest, preferred, conversion, fallbacks) in cases {
            assert_eq!(
                mconv(source, dest),
                (preferred.to_string(), conversion, types(fallbacks)),
                "{source} into {dest:?}"
            );
        }
    }

    #[test]
    fn the_source_type_is_kept_when_the_destination_accepts_anything() {
        assert_eq!(mconv(OCI, &[]), (OCI.to_string(), false, Vec::new()));
    }

    #[test]
    fn a_manifest_that_cannot_be_modified_keeps_its_type_and_ignores_format() {
        let dest = types(&[OCI]);
        let plan = manifest_conversion(&ManifestConversionInput {
            forced: Some(OCI),
            cannot_modify: Some(CannotModify::DestinationSpecifiesDigest),
            ..input(S2, &dest)
        })
        .unwrap();
        assert_eq!(outline(&plan), (S2, false, 0));
    }

    #[test]
    fn a_forced_format_is_the_only_candidate() {
        let dest = types(&[S2, S1S, OCI]);
        let plan = manifest_conversion(&ManifestConversionInput {
            forced: Some(OCI),
            ..input(S2, &dest)
        })
        .unwrap();
        assert_eq!(outline(&plan), (OCI, true, 0));
    }

    #[test]
    fn a_forced_format_the_destination_cannot_store_is_refused_before_copying() {
        // An OCI layout: OCI manifests and indexes only.
        let dest = types(&[OCI, OIDX]);
        for forced in [S1S, S2] {
            let err = manifest_conversion(&ManifestConversionInput {
                forced: Some(forced),
                ..input(OCI, &dest)
            })
            .unwrap_err();
            assert_eq!(
                err,
                PlanError::ForcedTypeRefused {
                    forced: forced.to_string(),
                    destination_types: dest.clone(),
                }
            );
        }
    }

    #[test]
    fn encryption_allows_only_oci_even_among_fallbacks() {
        for dest in [types(&[S2, OCI]), Vec::new()] {
            let plan = manifest_conversion(&ManifestConversionInput {
                requires_oci_encryption: true,
                ..input(S2, &dest)
            })
            .unwrap();
            assert_eq!(
                (plan.preferred.as_str(), plan.fallbacks.len()),
                (OCI, 0),
                "{dest:?}"
            );
        }
        let dest = types(&[S2]);
        assert!(
            manifest_conversion(&ManifestConversionInput {
                requires_oci_encryption: true,
                ..input(S2, &dest)
            })
            .is_err()
        );
    }

    fn lconv(
        current: &str,
        dest: &[&str],
        forced: Option<&str>,
    ) -> Result<(String, Vec<String>), PlanError> {
        list_conversion(current, &types(dest), forced).map(|c| (c.selected, c.fallbacks))
    }

    /// containers/image's own test vectors for `determineListConversion`.
    #[test]
    fn list_conversion_matches_containers_image_vectors() {
        let all = [OIDX, OCI, DLIST, S2, S1S, S1];
        let ok = |s: &str, f: &[&str]| Ok((s.to_string(), types(f)));
        assert_eq!(lconv(DLIST, &[], None), ok(DLIST, &[OIDX]));
        assert_eq!(lconv(OIDX, &[], None), ok(OIDX, &[DLIST]));
        assert_eq!(lconv(DLIST, &all, None), ok(DLIST, &[OIDX]));
        assert_eq!(lconv(OIDX, &all, None), ok(OIDX, &[DLIST]));
        assert_eq!(lconv(DLIST, &[DLIST, S2, S1S, S1], None), ok(DLIST, &[]));
        assert_eq!(lconv(OIDX, &[OIDX, OCI], None), ok(OIDX, &[]));
        assert_eq!(lconv("unrecognized", &all, None), ok(OIDX, &[DLIST]));
        assert_eq!(
            lconv("unrecognized", &[DLIST, S2, S1S, S1], None),
            ok(DLIST, &[])
        );
        assert_eq!(lconv(DLIST, &all, Some(OIDX)), ok(OIDX, &[]));
        assert!(lconv(OIDX, &[S1S, S1], None).is_err());
    }

    #[test]
    fn a_forced_manifest_format_maps_to_its_list_type() {
        assert_eq!(list_type_for_forced(S1), DLIST);
        assert_eq!(list_type_for_forced(S1S), DLIST);
        assert_eq!(list_type_for_forced(S2), DLIST);
        assert_eq!(list_type_for_forced(OCI), OIDX);
        assert_eq!(list_type_for_forced(OIDX), OIDX);
        assert_eq!(
            lconv(OIDX, &[], Some(S2)),
            Ok((DLIST.to_string(), Vec::new()))
        );
    }
}
