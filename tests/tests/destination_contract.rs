//! The registry destination against the contract suite every destination
//! passes (`ferry::testing::contract`; the file transports run it in
//! `native/tests/destination_contract.rs`): one test per property, each
//! against a docker-registry of its own.

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
