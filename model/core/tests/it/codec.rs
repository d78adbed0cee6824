//! The wire format: round trips and every way a datagram is refused (never a panic).

use crate::common::*;
use swim_checked_core::codec::{
    CHECKSUM_LEN, ENVELOPE_RESERVE, KIND_PLAIN, KIND_SEALED, MAGIC, MAX_SUSPECTERS, NONCE_LEN,
    TAG_LEN, VERSION, checksum, encoded_len, plaintext_overhead,
};
use swim_checked_core::{
    Body, Config, DecodeError, EncodeError, Member, Message, Meta, NodeId, Status, Wire,
};

fn config(label: &str) -> Config {
    let mut c = Config::lan();
    c.label = label.into();
    c
}

/// A plaintext datagram edited by hand: its checksum recomputed, so that what is tested is the
/// edit, not the checksum.
fn rechecked(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.truncate(bytes.len() - CHECKSUM_LEN);
    let sum = checksum(&bytes);
    bytes.extend_from_slice(&sum);
    bytes
}

fn sample() -> Message {
    Message {
        from: id(1),
        body: Body::Ping {
            seq: 7,
            target: id(2),
        },
        gossip: vec![
            suspect(3, 2, &[1, 4]),
            Member::alive(id(5), addr(5), 9, Meta::from_pairs([("dc", "eu")])),
        ],
    }
}

fn all_bodies() -> Vec<Body> {
    vec![
        Body::Ping {
            seq: 1,
            target: id(2),
        },
        Body::PingReq {
            seq: 2,
            target: id(3),
            target_addr: "[::1]:9000".parse().unwrap(),
        },
        Body::Ack { seq: 3 },
        Body::Nack { seq: 4 },
        Body::Sync {
            reply: true,
            members: vec![alive(2, 0), record(3, 1, Status::Dead)],
        },
        Body::Sync {
            reply: false,
            members: vec![],
        },
    ]
}

#[test]
fn every_message_kind_round_trips() {
    for label in ["", "prod-eu"] {
        let wire = Wire::new(&config(label));
        for body in all_bodies() {
            let msg = Message { body, ..sample() };
            let bytes = wire.encode(&msg).unwrap();
            assert_eq!(bytes.len(), wire.datagram_len(&msg));
            // What the amplification budget credits a sender (PROTOCOL.md §12).
            assert_eq!(bytes.len(), plaintext_overhead(label) + encoded_len(&msg));
            assert_eq!(&bytes[..2], &MAGIC);
            assert_eq!(bytes[2], VERSION);
            assert_eq!(bytes[3] as usize, label.len());
            assert_eq!(&bytes[4..4 + label.len()], label.as_bytes());
            assert_eq!(bytes[4 + label.len()], KIND_PLAIN);
            assert_eq!(wire.decode(&bytes), Ok(msg));
        }
    }
}

#[test]
fn encode_into_reuses_the_buffer() {
    let wire = Wire::new(&config("x"));
    let mut buf = vec![0xAA; 3_000];
    wire.encode_into(&sample(), &mut buf).unwrap();
    assert_eq!(buf, wire.encode(&sample()).unwrap());
}

#[test]
fn too_short_for_a_header_is_truncated() {
    let wire = Wire::new(&config(""));
    for len in 0..5 {
        let bytes = &[b'S', b'W', VERSION, 0][..len.min(4)];
        let len = bytes.len();
        assert_eq!(wire.decode(bytes), Err(DecodeError::Truncated { len }));
    }
    // The label is cut short.
    let wire = Wire::new(&config("abcdef"));
    let bytes = wire.encode(&sample()).unwrap();
    assert_eq!(
        wire.decode(&bytes[..7]),
        Err(DecodeError::Truncated { len: 7 })
    );
}

#[test]
fn a_truncated_body_is_malformed() {
    let wire = Wire::new(&config(""));
    let bytes = wire.encode(&sample()).unwrap();
    // With its checksum recomputed, a cut body does not decode.
    for len in 5..bytes.len() - CHECKSUM_LEN {
        let mut cut = bytes[..len].to_vec();
        cut.extend_from_slice(&checksum(&cut));
        match wire.decode(&cut) {
            Err(DecodeError::Malformed(why)) => assert!(!why.is_empty()),
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
    // As received, a cut datagram fails its checksum (or is too short for one).
    for len in 4..bytes.len() {
        assert!(
            matches!(
                wire.decode(&bytes[..len]),
                Err(DecodeError::BadChecksum | DecodeError::Truncated { .. })
            ),
            "prefix of {len} bytes"
        );
    }
}

#[test]
fn no_single_bit_flip_decodes() {
    for label in ["", "prod-eu"] {
        let wire = Wire::new(&config(label));
        for body in all_bodies() {
            let msg = Message { body, ..sample() };
            let bytes = wire.encode(&msg).unwrap();
            for bit in 0..bytes.len() * 8 {
                let mut flipped = bytes.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                let got = wire.decode(&flipped);
                assert!(got.is_err(), "bit {bit} of {label:?}: {got:?}");
            }
        }
    }
}

#[test]
fn sealed_datagrams_lay_out_nonce_body_and_tag() {
    let wire = Wire::new(&config("x"));
    let msg = sample();
    let nonce = [7u8; NONCE_LEN];
    let mut buf = Vec::new();
    let mut aad_seen = Vec::new();
    wire.encode_sealed_into(&msg, &nonce, &mut buf, |aad, n, body| {
        aad_seen = aad.to_vec();
        assert_eq!(n, &nonce);
        body.iter_mut().for_each(|b| *b ^= 0x55); // a stand-in cipher
        [9u8; TAG_LEN]
    })
    .unwrap();
    assert_eq!(buf.len(), wire.sealed_len(&msg));
    assert_eq!(
        aad_seen,
        [&MAGIC[..], &[VERSION, 1, b'x', KIND_SEALED]].concat()
    );
    let Ok(swim_checked_core::Envelope::Sealed(layout)) = wire.open(&buf) else {
        panic!("a sealed envelope");
    };
    assert_eq!(&buf[layout.aad.clone()], &aad_seen[..]);
    assert_eq!(&buf[layout.nonce.clone()], &nonce);
    assert_eq!(&buf[layout.tag.clone()], &[9u8; TAG_LEN]);
    let body: Vec<u8> = buf[layout.ciphertext.clone()]
        .iter()
        .map(|b| b ^ 0x55)
        .collect();
    assert_eq!(wire.decode_body(&body), Ok(msg));
    // The plaintext decoder does not take it.
    assert_eq!(wire.decode(&buf), Err(DecodeError::Unauthenticated));
    // Both envelopes fit in the reserve the packing budget sets aside.
    assert!(
        wire.sealed_len(&sample())
            - wire.header_len()
            - swim_checked_core::codec::encoded_len(&sample())
            <= ENVELOPE_RESERVE
    );
    assert!(
        wire.datagram_len(&sample())
            - wire.header_len()
            - swim_checked_core::codec::encoded_len(&sample())
            <= ENVELOPE_RESERVE
    );
    // Too short to hold a nonce and a tag.
    let short = &buf[..wire.header_len() + 1 + NONCE_LEN + TAG_LEN];
    assert!(matches!(
        wire.open(short),
        Err(DecodeError::Truncated { .. })
    ));
    // An unknown envelope kind.
    let mut odd = wire.encode(&sample()).unwrap();
    odd[wire.header_len()] = 7;
    assert_eq!(wire.decode(&odd), Err(DecodeError::UnknownEnvelope(7)));
}

#[test]
fn oversized_datagrams_are_refused_before_anything_else() {
    let mut c = config("");
    c.max_datagram = 600;
    let wire = Wire::new(&c);
    let bytes = vec![0u8; 601];
    assert_eq!(
        wire.decode(&bytes),
        Err(DecodeError::Oversized { len: 601, max: 600 })
    );
    // And a message too big for the datagram is not encoded.
    let msg = Message {
        body: Body::Sync {
            reply: false,
            members: (0..80).map(|i| alive(i, i)).collect(),
        },
        ..sample()
    };
    match wire.encode(&msg) {
        Err(EncodeError::TooLarge { len, max }) => {
            assert_eq!(max, 600);
            assert_eq!(len, wire.datagram_len(&msg));
            assert!(len > 600);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_magic_is_refused() {
    let wire = Wire::new(&config(""));
    let mut bytes = wire.encode(&sample()).unwrap();
    bytes[0] = b'X';
    assert_eq!(wire.decode(&bytes), Err(DecodeError::BadMagic));
    let mut bytes = wire.encode(&sample()).unwrap();
    bytes[1] = b'w';
    assert_eq!(wire.decode(&bytes), Err(DecodeError::BadMagic));
}

#[test]
fn an_unknown_version_is_refused() {
    let wire = Wire::new(&config(""));
    for v in [0, VERSION + 1, 255] {
        let mut bytes = wire.encode(&sample()).unwrap();
        bytes[2] = v;
        assert_eq!(wire.decode(&bytes), Err(DecodeError::UnsupportedVersion(v)));
    }
}

#[test]
fn another_clusters_label_is_refused() {
    let prod = Wire::new(&config("prod"));
    let test = Wire::new(&config("test"));
    let none = Wire::new(&config(""));
    let from_prod = prod.encode(&sample()).unwrap();
    assert_eq!(test.decode(&from_prod), Err(DecodeError::LabelMismatch));
    assert_eq!(none.decode(&from_prod), Err(DecodeError::LabelMismatch));
    let from_none = none.encode(&sample()).unwrap();
    assert_eq!(prod.decode(&from_none), Err(DecodeError::LabelMismatch));
    let longer = Wire::new(&config("prod2"));
    assert_eq!(longer.decode(&from_prod), Err(DecodeError::LabelMismatch));
}

#[test]
fn trailing_bytes_are_refused() {
    let wire = Wire::new(&config(""));
    let mut bytes = wire.encode(&sample()).unwrap();
    bytes.truncate(bytes.len() - CHECKSUM_LEN);
    bytes.extend_from_slice(&[0, 0, 0]);
    bytes.extend_from_slice(&[0; CHECKSUM_LEN]); // replaced by the checksum
    let bytes = rechecked(bytes);
    assert_eq!(wire.decode(&bytes), Err(DecodeError::TrailingBytes(3)));
}

#[test]
fn metadata_over_the_limit_is_invalid() {
    let mut big = Config::lan();
    big.max_meta_bytes = 400;
    let mut small = Config::lan();
    small.max_meta_bytes = 16;
    let msg = Message {
        gossip: vec![Member::alive(
            id(5),
            addr(5),
            0,
            Meta::from_pairs([("k", "v".repeat(100))]),
        )],
        ..sample()
    };
    let bytes = Wire::new(&big).encode(&msg).unwrap();
    assert_eq!(Wire::new(&big).decode(&bytes), Ok(msg.clone()));
    assert_eq!(
        Wire::new(&small).decode(&bytes),
        Err(DecodeError::Invalid("metadata over the size limit"))
    );
    // In a sync part too.
    let sync = Message {
        body: Body::Sync {
            reply: false,
            members: msg.gossip.clone(),
        },
        gossip: vec![],
        ..sample()
    };
    let bytes = Wire::new(&big).encode(&sync).unwrap();
    assert!(matches!(
        Wire::new(&small).decode(&bytes),
        Err(DecodeError::Invalid(_))
    ));
}

#[test]
fn too_many_suspecters_are_invalid() {
    let wire = Wire::new(&config(""));
    let mut m = suspect(3, 0, &[]);
    m.suspecters = (0..=MAX_SUSPECTERS as u64).map(NodeId).collect();
    let msg = Message {
        gossip: vec![m.clone()],
        ..sample()
    };
    let bytes = wire.encode(&msg).unwrap();
    assert_eq!(
        wire.decode(&bytes),
        Err(DecodeError::Invalid("too many suspecters"))
    );
    m.suspecters.pop();
    let ok = Message {
        gossip: vec![m],
        ..sample()
    };
    assert!(wire.decode(&wire.encode(&ok).unwrap()).is_ok());
}

#[test]
fn garbage_after_a_valid_header_is_malformed() {
    let wire = Wire::new(&config(""));
    // An enum tag that does not exist.
    let mut bytes = wire.encode(&sample()).unwrap();
    bytes[6] = 0x7F; // the body's variant tag (after the kind and the 1-byte sender id)
    assert!(matches!(
        wire.decode(&rechecked(bytes)),
        Err(DecodeError::Malformed(_))
    ));
    // An invalid status tag deep inside a record.
    let msg = Message {
        from: id(1),
        body: Body::Ack { seq: 1 },
        gossip: vec![alive(2, 0)],
    };
    let mut bytes = wire.encode(&msg).unwrap();
    let status_at = bytes.len() - CHECKSUM_LEN - 3; // status, empty suspecters, meta None
    assert_eq!(bytes[status_at], 0);
    bytes[status_at] = 9;
    assert!(matches!(
        wire.decode(&rechecked(bytes)),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn errors_have_stable_reasons_and_readable_messages() {
    let errors = [
        DecodeError::Truncated { len: 2 },
        DecodeError::Oversized { len: 9, max: 8 },
        DecodeError::BadMagic,
        DecodeError::UnsupportedVersion(7),
        DecodeError::LabelMismatch,
        DecodeError::Malformed("eof".into()),
        DecodeError::TrailingBytes(3),
        DecodeError::Invalid("why"),
        DecodeError::BadChecksum,
        DecodeError::Unauthenticated,
        DecodeError::PlaintextRefused,
        DecodeError::UnknownEnvelope(9),
    ];
    let reasons: std::collections::BTreeSet<_> = errors.iter().map(|e| e.reason()).collect();
    assert_eq!(reasons.len(), errors.len(), "distinct counters");
    assert_eq!(
        errors[3].to_string(),
        "unsupported protocol version 7 (this build speaks 3)"
    );
    assert_eq!(
        errors[1].to_string(),
        "oversized datagram (9 bytes, limit 8)"
    );
    let e = EncodeError::TooLarge { len: 9, max: 8 };
    assert_eq!(
        e.to_string(),
        "message of 9 bytes exceeds the 8-byte datagram"
    );
}

#[test]
fn header_length_matches_the_label() {
    assert_eq!(Wire::new(&config("")).header_len(), 4);
    assert_eq!(Wire::new(&config("abc")).header_len(), 7);
    // The packing budget's overhead: the header and the larger envelope.
    assert_eq!(
        swim_checked_core::codec::datagram_overhead("abc"),
        7 + ENVELOPE_RESERVE
    );
    assert_eq!(ENVELOPE_RESERVE, 1 + NONCE_LEN + TAG_LEN);
    assert_eq!(Wire::new(&config("")).max_datagram(), 1_400);
}

#[test]
fn an_empty_metadata_map_is_no_metadata() {
    // A foreign encoder may send `Some({})` where we send `None`: it must compare equal, or
    // a peer would see a metadata change that is none.
    let wire = Wire::new(&config(""));
    let msg = Message {
        from: id(1),
        body: Body::Ack { seq: 1 },
        gossip: vec![alive(2, 0)],
    };
    let mut bytes = wire.encode(&msg).unwrap();
    bytes.truncate(bytes.len() - CHECKSUM_LEN);
    assert_eq!(bytes.pop(), Some(0)); // meta: None
    bytes.extend_from_slice(&[1, 0]); // meta: Some(empty map)
    bytes.extend_from_slice(&[0; CHECKSUM_LEN]);
    let decoded = wire.decode(&rechecked(bytes)).unwrap();
    assert!(decoded.gossip[0].meta.is_empty());
    assert_eq!(decoded, msg);
}
