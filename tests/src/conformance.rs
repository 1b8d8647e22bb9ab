//! Loading the conformance cases in `tests/conformance`: manifests with
//! the answers containers/image gives for them. The corpus lives in the
//! repository (its README says where each case comes from), so a clone with
//! nothing beside it tests against the same answers as every other machine.

use std::path::{Path, PathBuf};

/// One case: the manifest bytes and the recorded answers.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub bytes: Vec<u8>,
    pub expected: serde_json::Value,
}

impl Case {
    /// An answer field.
    pub fn field(&self, key: &str) -> &serde_json::Value {
        &self.expected[key]
    }

    /// Whether a fallible answer was a success (`"ok"`) rather than an
    /// `"error: …"` string.
    pub fn ok(&self, key: &str) -> bool {
        self.expected[key] == "ok"
    }
}

/// Where the cases are: `$FERRY_CONFORMANCE_DIR`, else `tests/conformance`
/// in this repository.
pub fn dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("FERRY_CONFORMANCE_DIR") {
        return PathBuf::from(dir);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// Every case, sorted by name. Panics (failing the test) when the folder
/// is missing, so a misplaced checkout cannot pass by testing nothing.
pub fn load() -> Vec<Case> {
    let root = dir();
    let mut cases = Vec::new();
    collect(&root, &root, &mut cases);
    assert!(
        cases.len() >= 200,
        "expected the conformance cases under {}, found {}",
        root.display(),
        cases.len()
    );
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<Case>) {
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read conformance folder {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect(root, &path, out);
            continue;
        }
        let Some(file) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".expected.json") else {
            continue;
        };
        let manifest = path.with_file_name(format!("{stem}.json"));
        let bytes = std::fs::read(&manifest)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
        let expected: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = manifest
            .strip_prefix(root)
            .unwrap_or(&manifest)
            .with_extension("")
            .display()
            .to_string();
        out.push(Case {
            name,
            bytes,
            expected,
        });
    }
}

/// Pass and fail counts per answer field, printed at the end of a run.
#[derive(Debug, Default)]
pub struct Tally {
    rows: Vec<(String, usize, Vec<String>)>,
}

impl Tally {
    /// Records one comparison of `field` for `case`.
    pub fn check(&mut self, field: &str, case: &str, ok: bool, detail: impl FnOnce() -> String) {
        let row = match self.rows.iter().position(|r| r.0 == field) {
            Some(i) => &mut self.rows[i],
            None => {
                self.rows.push((field.to_string(), 0, Vec::new()));
                self.rows.last_mut().expect("just pushed")
            }
        };
        if ok {
            row.1 += 1;
        } else {
            row.2.push(format!("{case}: {}", detail()));
        }
    }

    /// Prints the table and every mismatch; panics if there was any.
    pub fn finish(self) {
        let mut failures = 0;
        println!("conformance results per field:");
        for (field, passed, failed) in &self.rows {
            println!(
                "  {field:<22} {passed:>4} passed {:>4} failed",
                failed.len()
            );
            failures += failed.len();
        }
        for (field, _, failed) in &self.rows {
            for f in failed {
                println!("MISMATCH {field}: {f}");
            }
        }
        assert_eq!(
            failures, 0,
            "{failures} conformance mismatches (listed above)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clone with nothing beside it must test against the same answers:
    /// the corpus is part of the repository, not of the machine.
    #[test]
    fn the_corpus_lives_in_the_repository() {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance");
        assert!(
            corpus.join("README.md").is_file(),
            "no README beside the cases"
        );
        assert!(corpus.join("containers-image/COPYRIGHT").is_file());
        let mut cases = Vec::new();
        collect(&corpus, &corpus, &mut cases);
        assert!(cases.len() >= 200, "found {} cases", cases.len());
        assert!(
            corpus
                .canonicalize()
                .unwrap()
                .starts_with(repo.canonicalize().unwrap()),
            "the corpus must be inside the repository"
        );
    }
}
