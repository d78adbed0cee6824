//! `Wire::decode` on arbitrary bytes, for an unlabelled and a labelled cluster: it never
//! panics, and a datagram that decodes re-encodes (within the datagram size) to a datagram
//! that decodes to the same message.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use swim_checked_core::{Config, Wire};

static WIRES: LazyLock<[Wire; 2]> = LazyLock::new(|| {
    [
        Wire::new(&Config::local()),
        Wire::new(&Config {
            label: "blue".into(),
            ..Config::local()
        }),
    ]
});

fuzz_target!(|data: &[u8]| {
    for wire in WIRES.iter() {
        if let Ok(msg) = wire.decode(data) {
            let again = wire
                .encode(&msg)
                .expect("a decoded message re-encodes within the datagram size");
            assert!(again.len() <= data.len(), "re-encoding grew the datagram");
            assert_eq!(wire.decode(&again), Ok(msg), "decode(encode(m)) != m");
        }
    }
});
