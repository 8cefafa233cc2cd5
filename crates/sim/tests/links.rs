//! Redundant links in the simulator: a quiet two-link cluster sends heartbeats at the ping
//! interval, not a storm (each node's own connectivity row, relayed back by a peer, used to
//! count as a row of an earlier boot: a new version, pinged at once, relayed back again).

use quorumd_proto::{Duration, MemberList, NodeId};
use quorumd_sim::world::{World, WorldParams};

#[test]
fn a_quiet_two_link_cluster_sends_heartbeats_at_the_ping_interval() {
    let ids = MemberList::from_ids((1..=3u32).map(|i| NodeId::new(i).unwrap())).unwrap();
    let mut p = WorldParams::new(ids.clone());
    p.links = 2;
    let mut w = World::new(p).unwrap();
    for id in ids.iter() {
        w.start(id).unwrap();
    }
    w.run_for(Duration::from_millis(10_000));
    let s = w.stats();
    let heartbeats = s.by_type[6] + s.by_type[7];
    // 3 nodes × 2 peers × 2 links, a ping and a pong every ping interval (token 1650 ms:
    // 412 ms), about 25 rounds in 10 s, plus the bring-up and the pings of row changes.
    let ping_interval_ms = w.totem_config().token.as_millis() / 4;
    let rounds = 10_000 / ping_interval_ms + 1;
    let bound = 3 * 2 * 2 * 2 * rounds * 2;
    assert!(heartbeats > 0 && heartbeats <= bound, "{heartbeats} heartbeats in 10 s (bound {bound})");
    assert!(w.violations().is_empty(), "{:?}", w.violations());
    let members = w.node(NodeId::new(1).unwrap()).unwrap().members().clone();
    assert_eq!(members, ids);
}
