//! Whether skopeo is here, for every test that runs it: one rule, in one
//! place.
//!
//! A test that compares ferry with skopeo must not pass by skipping the
//! comparison. When skopeo is missing, [`available`] fails the test,
//! unless `FERRY_SKIP_SKOPEO=1` says to skip comparisons with skopeo; then
//! it says on stderr what was skipped. Tests that need skopeo as a peer
//! (a registry client pushing what ferry pulls) use [`require`], which
//! fails whatever the variable says.
//!
//! This file needs nothing but std: ferry's own tests (`native/tests`)
//! include it by path, and `ferry-tests` exposes it as a module.

use std::process::Command;
use std::sync::OnceLock;

/// The variable that opts out of comparisons with skopeo.
pub const SKIP_VARIABLE: &str = "FERRY_SKIP_SKOPEO";

/// What `scripts/install-deps.sh` puts on the path.
pub const PROGRAM: &str = "skopeo";

fn installed() -> bool {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    *INSTALLED.get_or_init(|| {
        Command::new(PROGRAM)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn opted_out() -> bool {
    std::env::var(SKIP_VARIABLE).is_ok_and(|v| v == "1")
}

/// Whether to compare with skopeo: true when it runs; false when it does
/// not and `FERRY_SKIP_SKOPEO=1` (with a note naming `what`). Panics
/// when it does not run and nothing opted out.
pub fn available(what: &str) -> bool {
    match decide(installed(), opted_out(), what) {
        Ok(compare) => compare,
        Err(failure) => panic!("{failure}"),
    }
}

/// The rule: compare when installed; when not, skip (saying so) only if
/// opted out, else fail with how to fix it.
fn decide(installed: bool, opted_out: bool, what: &str) -> Result<bool, String> {
    if installed {
        return Ok(true);
    }
    if !opted_out {
        return Err(format!(
            "skopeo is not installed, so {what} cannot be compared with it; install it \
             (bash scripts/install-deps.sh services) or set {SKIP_VARIABLE}=1 to skip comparisons with skopeo"
        ));
    }
    eprintln!("note: {SKIP_VARIABLE}=1 and skopeo is not installed: skipping {what}");
    Ok(false)
}

/// Panics unless skopeo runs: for tests that cannot do without it.
pub fn require(what: &str) {
    assert!(
        installed(),
        "skopeo is not installed, and {what} needs it (bash scripts/install-deps.sh services); \
         {SKIP_VARIABLE} only skips comparisons, not tests that use skopeo as a peer"
    );
}

#[cfg(test)]
mod tests {
    use super::decide;

    #[test]
    fn a_missing_skopeo_fails_the_comparison_unless_opted_out() {
        assert_eq!(decide(true, false, "x"), Ok(true));
        assert_eq!(decide(true, true, "x"), Ok(true));
        assert_eq!(decide(false, true, "x"), Ok(false));
        let failure = decide(false, false, "the digest comparison").unwrap_err();
        assert!(failure.contains("the digest comparison"), "{failure}");
        assert!(failure.contains("FERRY_SKIP_SKOPEO=1"), "{failure}");
    }
}
