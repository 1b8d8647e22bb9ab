//! Every file transport's destination against the one contract suite
//! (`ferry::testing::contract`): one test per (transport, property), e.g.
//! `oci_archive::nothing_is_visible_before_commit`. The registry runs the
//! same suite in ferry-tests (`tests/tests/destination_contract.rs`).

use ferry::testing::contract::Place;

mod dir {
    use super::*;
    ferry::destination_contract_tests!(Place::dir());
}

mod oci {
    use super::*;
    ferry::destination_contract_tests!(Place::oci());
}

mod oci_archive {
    use super::*;
    ferry::destination_contract_tests!(Place::oci_archive());
}

mod docker_archive {
    use super::*;
    ferry::destination_contract_tests!(Place::docker_archive());
}

mod containers_storage {
    use super::*;
    ferry::destination_contract_tests!(Place::containers_storage());
}
