//! The registry destination against the contract suite every destination
//! passes (`ferry::testing::contract`; the file transports run it in
//! `native/tests/destination_contract.rs`): one test per property, each
//! against a docker-registry of its own; and the docker-daemon destination,
//! against podman system service ([`ferry_tests::daemon`]).

use ferry::testing::contract::Place;
use ferry::transport::registry::RegistryOptions;
use ferry_tests::registry::{Registry, Setup};

/// A repository of a fresh plain-HTTP registry, which lives as long as
/// the place.
fn registry() -> Place {
    let registry = Registry::start(Setup::plain());
    let options = RegistryOptions {
        tls_verify: false,
        ..RegistryOptions::default()
    };
    Place::registry(&registry.docker_ref("contract/image:1"), options, registry)
}

mod registry {
    ferry::destination_contract_tests!(super::registry());
}

/// A fresh tag in the test binary's podman service (tests run at once, so
/// each takes a name of its own).
fn daemon() -> Place {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let options = ferry::transport::daemon::DaemonOptions {
        host: Some(ferry_tests::daemon::shared().host()),
        ..Default::default()
    };
    Place::daemon(&format!("docker-daemon:contract/image-{n}:1"), options, ())
}

mod daemon {
    ferry::destination_contract_tests!(super::daemon());
}
