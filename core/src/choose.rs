//! Choosing the instance of a manifest list that a platform should run.
//!
//! The default rules are containers/image's (`platform.WantedPlatforms` and
//! `ChooseInstance`):
//! 1. The wanted platform becomes a ladder of acceptable platforms, best
//!    first. With a variant, the ladder walks down that architecture's
//!    compatibility list (arm: v8 → v7 → v6 → v5; arm64: v8) from the
//!    wanted variant and ends with the empty variant. Without a variant,
//!    the empty variant comes first and the whole compatibility list
//!    follows. A variant the list does not know is tried as itself, then
//!    as the empty variant.
//! 2. An entry matches a rung when os, architecture and variant are all
//!    equal, exactly (case included). The empty variant is a value like any
//!    other: `linux/arm` on the ladder matches only entries with no
//!    variant, so an arm/v5 machine never gets an arm/v6 image.
//! 3. The entry on the best rung wins; among entries on the same rung, an
//!    instance annotated as zstd-compressed is preferred (unless gzip is
//!    preferred), then list order decides.
//! 4. OCI index entries without a platform match nothing but are the last
//!    resort (Docker list entries always have a platform).
//!
//! Three opt-in extensions go beyond containers/image, each documented on
//! [`ChooseOptions`]. The wanted platform always comes in as data: this
//! module never looks at the machine it runs on.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::list::List;
use crate::platform::Platform;

/// The annotation containers/image puts on index entries whose layers are
/// zstd-compressed.
pub const ZSTD_ANNOTATION: &str = "io.github.containers.compression.zstd";
/// BuildKit's annotation on attestation entries.
pub const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";

/// Extensions to containers/image's rules; all off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChooseOptions {
    /// Prefer gzip instances over zstd-annotated ones among equals
    /// (containers/image prefers zstd).
    pub prefer_gzip: bool,
    /// amd64 micro-architecture levels: a wanted `amd64/v3` accepts v3, v2
    /// and v1 (best first), then an entry without a level. containers/image
    /// knows no levels and takes an exact `v3` or any amd64.
    pub amd64_levels: bool,
    /// Windows images: when the wanted platform has an `os.version`, only
    /// entries with the same build number (the third part of
    /// `10.0.BUILD.REVISION`) match, and a higher revision is better.
    pub windows_os_version: bool,
    /// Never choose attestation entries (`unknown/unknown` platforms, or a
    /// `vnd.docker.reference.type` annotation), even as a last resort.
    pub skip_attestations: bool,
}

/// The outcome of a choice: the chosen entry and why, for every entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Choice {
    /// The chosen entry's digest.
    pub digest: String,
    /// Its position in the list.
    pub index: usize,
    /// One verdict per entry, in list order.
    pub explanation: Vec<Verdict>,
}

/// Why an entry was or was not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Verdict {
    pub index: usize,
    pub digest: String,
    /// The entry's platform as `os/arch[/variant]`, or `None` for none.
    pub platform: Option<String>,
    /// Whether the entry could have been chosen.
    pub accepted: bool,
    /// Acceptable entries: the rung of the ladder it matched (0 is best);
    /// entries without a platform rank after every rung.
    pub rank: Option<usize>,
    /// Whether this is the chosen entry.
    pub chosen: bool,
    /// A sentence saying why.
    pub reason: String,
}

/// Nothing in the list fits the wanted platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoMatch {
    pub wanted: alloc::boxed::Box<Platform>,
    pub explanation: Vec<Verdict>,
}

impl fmt::Display for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no image in the list for platform {} (os {}, architecture {}, variant {})",
            self.wanted,
            self.wanted.os,
            self.wanted.architecture,
            crate::Quoted(&self.wanted.variant)
        )
    }
}

impl core::error::Error for NoMatch {}

/// The variants each architecture can run, best first.
fn compatibility(architecture: &str, options: &ChooseOptions) -> &'static [&'static str] {
    match architecture {
        "arm" => &["v8", "v7", "v6", "v5"],
        "arm64" => &["v8"],
        "amd64" if options.amd64_levels => &["v4", "v3", "v2", "v1"],
        _ => &[],
    }
}

/// The ladder of acceptable platforms for `wanted`, best first
/// (containers/image's `WantedPlatforms`).
pub fn wanted_platforms(wanted: &Platform, options: &ChooseOptions) -> Vec<Platform> {
    let order = compatibility(&wanted.architecture, options);
    let mut variants: Vec<&str> = Vec::new();
    if wanted.variant.is_empty() {
        variants.push("");
        if options.amd64_levels && wanted.architecture == "amd64" {
            // A machine of unknown level is only known to run the baseline.
            variants.push("v1");
        } else {
            variants.extend_from_slice(order);
        }
    } else {
        match order.iter().position(|v| *v == wanted.variant) {
            Some(i) => variants.extend_from_slice(&order[i..]),
            None => variants.push(&wanted.variant),
        }
        variants.push("");
    }
    variants
        .into_iter()
        .map(|variant| Platform {
            os: wanted.os.clone(),
            architecture: wanted.architecture.clone(),
            variant: variant.to_string(),
            os_version: wanted.os_version.clone(),
            ..Platform::default()
        })
        .collect()
}

/// containers/image's `MatchesPlatform`: os, architecture and variant all
/// equal. An empty rung matches only entries without a variant.
fn matches(entry: &Platform, rung: &Platform) -> bool {
    entry.architecture == rung.architecture && entry.os == rung.os && entry.variant == rung.variant
}

/// The Windows build number of `10.0.BUILD.REVISION`, and the revision.
fn windows_build(os_version: &str) -> Option<(&str, u64)> {
    let mut parts = os_version.split('.');
    let (_major, _minor, build) = (parts.next()?, parts.next()?, parts.next()?);
    let revision = parts.next().and_then(|r| r.parse().ok()).unwrap_or(0);
    Some((build, revision))
}

fn is_attestation(entry: &crate::Descriptor) -> bool {
    entry.annotations.contains_key(REFERENCE_TYPE_ANNOTATION)
        || entry
            .platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
}

/// Chooses the entry of `list` that `wanted` should run.
pub fn choose_instance(
    list: &List,
    wanted: &Platform,
    options: &ChooseOptions,
) -> Result<Choice, NoMatch> {
    let entries: Vec<&crate::Descriptor> = list.entries.iter().collect();
    choose_among(&entries, wanted, options)
}

/// Chooses among `entries` as [`choose_instance`] does among a list's: the
/// images of a list with nested lists, in the order
/// [`crate::list::Tree::images`] gives them (`index` and the explanation
/// count positions in `entries`).
pub fn choose_among(
    entries: &[&crate::Descriptor],
    wanted: &Platform,
    options: &ChooseOptions,
) -> Result<Choice, NoMatch> {
    let ladder = wanted_platforms(wanted, options);
    let rungs = ladder.len();
    let ladder_text = crate::join(
        &ladder
            .iter()
            .map(|p| {
                if p.variant.is_empty() {
                    alloc::format!("{}/{} (no variant)", p.os, p.architecture)
                } else {
                    p.to_string()
                }
            })
            .collect::<Vec<_>>(),
        ", ",
    );

    // (rank, zstd-preference key, revision preference, index) per entry.
    let mut verdicts: Vec<Verdict> = Vec::with_capacity(entries.len());
    let mut best: Option<((usize, bool, u64, usize), usize)> = None;
    for (index, entry) in entries.iter().enumerate() {
        let platform_text = entry.platform.as_ref().map(Platform::to_string);
        let mut verdict = Verdict {
            index,
            digest: entry.digest_text.clone(),
            platform: platform_text,
            accepted: false,
            rank: None,
            chosen: false,
            reason: String::new(),
        };
        if options.skip_attestations && is_attestation(entry) {
            verdict.reason = "an attestation, not an image (attestations are skipped)".into();
            verdicts.push(verdict);
            continue;
        }
        let (rank, revision) = match &entry.platform {
            None => {
                verdict.reason = alloc::format!(
                    "no platform: acceptable only when no entry matches {ladder_text}"
                );
                (rungs, 0)
            }
            Some(p) => {
                if p.os != wanted.os {
                    verdict.reason = alloc::format!(
                        "os {} is not {}",
                        crate::Quoted(&p.os),
                        crate::Quoted(&wanted.os)
                    );
                    verdicts.push(verdict);
                    continue;
                }
                if p.architecture != wanted.architecture {
                    verdict.reason = alloc::format!(
                        "architecture {} is not {}",
                        crate::Quoted(&p.architecture),
                        crate::Quoted(&wanted.architecture)
                    );
                    verdicts.push(verdict);
                    continue;
                }
                let mut revision = 0;
                if options.windows_os_version && !wanted.os_version.is_empty() {
                    match (
                        windows_build(&wanted.os_version),
                        windows_build(&p.os_version),
                    ) {
                        (Some((want, _)), Some((have, rev))) if want == have => revision = rev,
                        _ => {
                            verdict.reason = alloc::format!(
                                "os.version {} is not build {} of {}",
                                crate::Quoted(&p.os_version),
                                windows_build(&wanted.os_version).map_or("?", |b| b.0),
                                crate::Quoted(&wanted.os_version)
                            );
                            verdicts.push(verdict);
                            continue;
                        }
                    }
                }
                match ladder.iter().position(|rung| matches(p, rung)) {
                    Some(rank) => {
                        verdict.reason = if ladder[rank].variant.is_empty() {
                            alloc::format!(
                                "matches {}/{} (no variant) on rung {rank}",
                                p.os,
                                p.architecture
                            )
                        } else {
                            alloc::format!("matches {} on rung {rank}", ladder[rank])
                        };
                        (rank, revision)
                    }
                    None => {
                        verdict.reason = alloc::format!(
                            "variant {} is not among the acceptable {ladder_text}",
                            crate::Quoted(&p.variant)
                        );
                        verdicts.push(verdict);
                        continue;
                    }
                }
            }
        };
        let zstd = entry
            .annotations
            .get(ZSTD_ANNOTATION)
            .is_some_and(|v| v == "true");
        // Lower keys are better: rank, then the compression preference,
        // then a higher Windows revision, then list order.
        let compression_worse = if options.prefer_gzip { zstd } else { !zstd };
        let key = (rank, compression_worse, u64::MAX - revision, index);
        verdict.accepted = true;
        verdict.rank = Some(rank);
        if best.is_none_or(|(b, _)| key < b) {
            best = Some((key, index));
        }
        verdicts.push(verdict);
    }
    match best {
        Some((_, index)) => {
            verdicts[index].chosen = true;
            Ok(Choice {
                digest: entries[index].digest_text.clone(),
                index,
                explanation: verdicts,
            })
        }
        None => Err(NoMatch {
            wanted: alloc::boxed::Box::new(wanted.clone()),
            explanation: verdicts,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{List, ListKind};
    use alloc::format;

    /// A digest that names its entry, for readable assertions.
    fn digest(tag: &str) -> String {
        crate::Digest::sha256_of(tag.as_bytes()).to_string()
    }

    /// An OCI index whose entries are `(platform, tag)`; a platform of `-`
    /// means the entry has none. `os/arch[/variant][@os.version]`.
    fn index(entries: &[(&str, &str)]) -> List {
        index_with(entries, |_| String::new())
    }

    fn index_with(entries: &[(&str, &str)], annotations: impl Fn(&str) -> String) -> List {
        let manifests: Vec<String> = entries
            .iter()
            .map(|(platform, tag)| {
                let platform = if *platform == "-" {
                    String::new()
                } else {
                    let (spec, os_version) = platform.split_once('@').unwrap_or((platform, ""));
                    let mut parts = spec.split('/');
                    let os = parts.next().unwrap();
                    let arch = parts.next().unwrap();
                    let variant = parts.next().unwrap_or("");
                    format!(
                        r#","platform":{{"os":"{os}","architecture":"{arch}","variant":"{variant}","os.version":"{os_version}"}}"#
                    )
                };
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":1{platform}{}}}"#,
                    digest(tag),
                    annotations(tag)
                )
            })
            .collect();
        let doc = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            manifests.join(",")
        );
        List::parse_kind(doc.as_bytes(), ListKind::OciIndex).unwrap()
    }

    fn wanted(spec: &str) -> Platform {
        let (spec, os_version) = spec.split_once('@').unwrap_or((spec, ""));
        let mut parts = spec.split('/');
        let mut p = Platform::new(
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap_or(""),
        );
        p.os_version = os_version.into();
        p
    }

    fn chosen(list: &List, spec: &str) -> Option<String> {
        chosen_with(list, spec, &ChooseOptions::default())
    }

    fn chosen_with(list: &List, spec: &str, options: &ChooseOptions) -> Option<String> {
        choose_instance(list, &wanted(spec), options)
            .ok()
            .map(|c| c.digest)
    }

    fn ladder(spec: &str, options: &ChooseOptions) -> Vec<String> {
        wanted_platforms(&wanted(spec), options)
            .iter()
            .map(|p| p.variant.clone())
            .collect()
    }

    fn cases() -> serde_json::Value {
        serde_json::from_str(include_str!("../tests/fixtures/choose-cases.json")).unwrap()
    }

    fn text(v: &serde_json::Value) -> &str {
        v.as_str().unwrap()
    }

    #[test]
    fn each_wanted_platform_has_its_ladder_of_variants() {
        for group in cases()["ladders"].as_array().unwrap() {
            for case in group["cases"].as_array().unwrap() {
                let wanted = text(&case["wanted"]);
                let expected: Vec<&str> = case["ladder"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(text)
                    .collect();
                assert_eq!(
                    ladder(wanted, &ChooseOptions::default()),
                    expected,
                    "{wanted}: {}",
                    group["behaviour"]
                );
            }
        }
    }

    #[test]
    fn each_list_yields_the_entry_its_rule_chooses() {
        for case in cases()["choices"].as_array().unwrap() {
            let entries: Vec<(&str, &str)> = case["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| (text(&e[0]), text(&e[1])))
                .collect();
            let wanted = text(&case["wanted"]);
            assert_eq!(
                chosen(&index(&entries), wanted),
                case["chosen"].as_str().map(digest),
                "{wanted}: {}",
                case["behaviour"]
            );
        }
    }

    /// An index as [`index`] writes it, with the entries whose tag ends in
    /// `zstd` annotated as zstd instances.
    fn zstd_index(entries: &[(&str, &str)]) -> List {
        index_with(entries, |tag| {
            if tag.ends_with("zstd") {
                format!(r#","annotations":{{"{ZSTD_ANNOTATION}":"true"}}"#)
            } else {
                String::new()
            }
        })
    }

    /// The default options, with `set` applied.
    fn options(set: impl FnOnce(&mut ChooseOptions)) -> ChooseOptions {
        let mut options = ChooseOptions::default();
        set(&mut options);
        options
    }

    /// Asserts that, with `options`, the entry tagged `tag` (none for
    /// `None`) is chosen from `list` for the platform `spec`.
    fn assert_chooses(list: &List, spec: &str, options: &ChooseOptions, tag: Option<&str>) {
        assert_eq!(chosen_with(list, spec, options), tag.map(digest), "{spec}");
    }

    #[test]
    fn zstd_instances_are_preferred_among_equals_unless_gzip_is() {
        let default = ChooseOptions::default();
        let list = zstd_index(&[("linux/amd64", "gzip"), ("linux/amd64", "zstd")]);
        assert_chooses(&list, "linux/amd64", &default, Some("zstd"));
        let gzip = options(|o| o.prefer_gzip = true);
        assert_chooses(&list, "linux/amd64", &gzip, Some("gzip"));
    }

    #[test]
    fn a_better_rung_beats_zstd() {
        let default = ChooseOptions::default();
        let list = zstd_index(&[("linux/arm/v6", "v6-zstd"), ("linux/arm/v7", "v7")]);
        assert_chooses(&list, "linux/arm/v7", &default, Some("v7"));
    }

    #[test]
    fn amd64_levels_accept_lower_levels_and_prefer_the_highest() {
        let default = ChooseOptions::default();
        let levels = options(|o| o.amd64_levels = true);
        assert_eq!(ladder("linux/amd64/v3", &levels), ["v3", "v2", "v1", ""]);
        assert_eq!(ladder("linux/amd64", &levels), ["", "v1"]);
        let list = index(&[
            ("linux/amd64", "plain"),
            ("linux/amd64/v2", "v2"),
            ("linux/amd64/v4", "v4"),
        ]);
        assert_chooses(&list, "linux/amd64/v3", &levels, Some("v2"));
        assert_chooses(&list, "linux/amd64/v3", &default, Some("plain"));
    }

    #[test]
    fn windows_os_version_matches_the_build_and_prefers_the_newest_revision() {
        let default = ChooseOptions::default();
        let opts = options(|o| o.windows_os_version = true);
        let list = index(&[
            ("windows/amd64@10.0.17763.1000", "1809-old"),
            ("windows/amd64@10.0.20348.500", "2022"),
            ("windows/amd64@10.0.17763.2000", "1809-new"),
        ]);
        assert_chooses(&list, "windows/amd64@10.0.17763.1", &opts, Some("1809-new"));
        assert_chooses(&list, "windows/amd64@10.0.19041.1", &opts, None);
        assert_chooses(
            &list,
            "windows/amd64@10.0.17763.1",
            &default,
            Some("1809-old"),
        );
    }

    #[test]
    fn attestations_can_be_skipped_even_as_last_resort() {
        let default = ChooseOptions::default();
        let skip = options(|o| o.skip_attestations = true);
        let list = index(&[("unknown/unknown", "attestation"), ("-", "none")]);
        assert_chooses(&list, "unknown/unknown", &skip, Some("none"));
        assert_chooses(&list, "unknown/unknown", &default, Some("attestation"));
    }

    #[test]
    fn the_explanation_has_a_verdict_for_every_entry() {
        let list = index(&[
            ("linux/arm64", "arm64"),
            ("windows/amd64", "win"),
            ("linux/amd64", "amd64"),
        ]);
        let choice =
            choose_instance(&list, &wanted("linux/amd64"), &ChooseOptions::default()).unwrap();
        assert_eq!(choice.index, 2);
        let verdicts = &choice.explanation;
        assert_eq!(verdicts.len(), 3);
        assert!(!verdicts[0].accepted && verdicts[0].reason.contains("architecture"));
        assert!(!verdicts[1].accepted && verdicts[1].reason.contains("os"));
        assert!(verdicts[2].accepted && verdicts[2].chosen && verdicts[2].rank == Some(0));
    }

    #[test]
    fn no_match_names_the_wanted_platform() {
        let list = index(&[("linux/arm64", "arm64")]);
        let err = choose_instance(&list, &wanted("linux/riscv64"), &ChooseOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("linux/riscv64"), "{err}");
        assert_eq!(err.explanation.len(), 1);
    }
}
