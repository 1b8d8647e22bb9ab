//! Soak: rounds of 50 copies at once against the local registry, inside
//! this test process, measuring its open file descriptors
//! (`/proc/self/fd`) and resident memory (`VmRSS` in `/proc/self/status`)
//! after each round. Every copy opens its own registry connections; once a
//! round is over they must all be gone, and memory must not keep growing.
//! The numbers are printed; the assertions compare later rounds with the
//! second (the first warms up thread pools, TLS roots and allocators).

use std::sync::Arc;

use ferry::copy::{self, NoProgress, Settings};
use ferry::transport::reference::Reference;
use ferry::transport::registry::RegistryOptions;
use ferry_core::plan::{CopyOptions, Selection};
use ferry_tests::registry::{DEMO_INDEX_DIGEST, Registry, Setup, ferry, succeeded};

const ROUNDS: usize = 5;
const COPIES_PER_ROUND: usize = 50;
/// How much resident memory may grow from the second round to the last.
const RSS_SLACK_KIB: u64 = 48 * 1024;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

async fn one_copy(source: &str, destination: &str) -> Result<String, String> {
    let options = RegistryOptions {
        tls_verify: false,
        retry_times: 3,
        ..RegistryOptions::default()
    };
    let source = Reference::parse(source).map_err(|e| e.to_string())?;
    let destination = Reference::parse(destination).map_err(|e| e.to_string())?;
    let src = source
        .open_source(&options)
        .await
        .map_err(|e| e.to_string())?;
    let dst = destination
        .open_destination(&options)
        .await
        .map_err(|e| e.to_string())?;
    let copy_options = CopyOptions::new(Selection::All);
    let settings = Settings {
        jobs: 2,
        ..Settings::default()
    };
    copy::copy(
        Arc::from(src),
        Arc::from(dst),
        &copy_options,
        &settings,
        Arc::new(NoProgress),
    )
    .await
    .map(|report| report.digest)
    .map_err(|e| format!("{e:#}"))
}

#[test]
fn fifty_parallel_copies_per_round_leak_no_descriptors_and_bounded_memory() {
    let registry = Registry::start(Setup::plain());
    let source = registry.docker_ref("soak/source:v1");
    succeeded(&ferry(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--progress",
        "none",
        "demo:",
        &source,
    ]));
    let scratch = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let mut fds = Vec::new();
    let mut rss = Vec::new();
    for round in 0..ROUNDS {
        // The copies run concurrently on one thread of a multi-threaded
        // runtime (a LocalSet asks nothing of their futures); the engine's
        // own tasks spread over the workers.
        let local = tokio::task::LocalSet::new();
        let jobs: Vec<_> = (0..COPIES_PER_ROUND)
            .map(|i| {
                let source = source.clone();
                // Half pull into directories, half copy registry to registry.
                let destination = if i % 2 == 0 {
                    format!(
                        "dir:{}",
                        scratch.path().join(format!("r{round}-{i}")).display()
                    )
                } else {
                    registry.docker_ref(&format!("soak/copy-{i}:r{round}"))
                };
                local.spawn_local(async move { one_copy(&source, &destination).await })
            })
            .collect();
        let results = local.block_on(&runtime, async {
            let mut out = Vec::new();
            for job in jobs {
                out.push(job.await.map_err(|e| e.to_string()).and_then(|r| r));
            }
            out
        });
        for (i, result) in results.iter().enumerate() {
            assert_eq!(
                result.as_deref(),
                Ok(DEMO_INDEX_DIGEST),
                "round {round}, copy {i}"
            );
        }
        for i in (0..COPIES_PER_ROUND).step_by(2) {
            std::fs::remove_dir_all(scratch.path().join(format!("r{round}-{i}"))).unwrap();
        }
        fds.push(open_fds());
        rss.push(rss_kib());
        println!(
            "round {}: {COPIES_PER_ROUND} copies, {} open descriptors, VmRSS {} KiB",
            round + 1,
            fds[round],
            rss[round]
        );
    }
    let later_fds = &fds[1..];
    assert!(
        later_fds.iter().all(|&n| n <= fds[1]),
        "descriptors grew after round 2: {fds:?}"
    );
    let growth = rss[ROUNDS - 1].saturating_sub(rss[1]);
    println!("VmRSS growth from round 2 to round {ROUNDS}: {growth} KiB");
    assert!(
        growth <= RSS_SLACK_KIB,
        "resident memory grew {growth} KiB from round 2 to {ROUNDS}: {rss:?}"
    );
}
