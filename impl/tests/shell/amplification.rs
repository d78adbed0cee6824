//! Anti-amplification over real loopback sockets (PROTOCOL.md §12): a `sync` request with a
//! forged source address makes a node send that address at most 3x the bytes it received,
//! until the address answers the node's validation ping (a socket that only listens never
//! does).

use std::time::Duration;

use swim_checked::harness::core::Config;
use swim_checked::harness::core::codec::Wire;
use swim_checked::harness::core::{Body, Message, NodeId};
use tokio::net::UdpSocket;
use tokio::time::Instant;

use crate::common::Cluster;

#[tokio::test]
async fn a_forged_source_sync_gets_at_most_three_times_its_bytes() {
    let config = Config::local();
    let cluster = Cluster::start(8, config.clone()).await;
    let node = &cluster.nodes[0];
    // The "forged source": a socket we own that only listens (the victim of a reflection).
    let victim = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let wire = Wire::new(&config);
    let request = wire
        .encode(&Message {
            from: NodeId(0xdead_beef),
            body: Body::Sync {
                reply: true,
                members: vec![],
            },
            gossip: vec![],
        })
        .unwrap();
    let full_view: usize = node
        .members()
        .iter()
        .map(swim_checked::harness::core::codec::encoded_len)
        .sum();
    assert!(
        full_view > 3 * request.len(),
        "the whole view would amplify"
    );
    let mut sent = 0;
    let mut received = 0;
    let mut buf = vec![0u8; 70_000];
    for _ in 0..5 {
        victim.send_to(&request, node.local_addr()).await.unwrap();
        sent += request.len();
        let until = Instant::now() + Duration::from_millis(300);
        while let Ok(Ok((n, from))) =
            tokio::time::timeout_at(until, victim.recv_from(&mut buf)).await
        {
            assert_eq!(from, node.local_addr());
            received += n;
        }
        assert!(
            received <= 3 * sent,
            "{received} bytes received for {sent} sent"
        );
    }
    assert!(received > 0, "the node still answers within the budget");
    assert!(node.with_core(|core| core.stats().replies_limited) >= 1);
    cluster.shutdown().await;
}
