//! The links of the node asked (its status document's `links`): `quorumtool links` in the
//! layout of `corosync-cfgtool -s` (Corosync 3.1.7 with knet: one `LINK ID` block per link,
//! this node's address, then one `nodeid:` line per node, this node `localhost`, the others
//! `connected` or `disconnected`), and the detailed table `quorumtool status` appends
//! (latency, last change, counters per node and link).

use std::fmt::Write as _;

use quorumd_proto::status::LinksView;

/// `corosync-cfgtool -s`'s layout. `me` is this node's id; `nodes` every configured node id,
/// ascending (cfgtool lists the nodelist, this node included).
pub fn cfgtool(links: &LinksView, me: u32, nodes: &[u32]) -> String {
    let mut out = format!("Local node ID {me}, transport udp\n");
    for l in &links.links {
        let _ = writeln!(out, "LINK ID {} {}", l.link, l.transport);
        let ip = l.address.as_deref().map_or("", strip_port);
        let _ = writeln!(out, "\taddr\t= {ip}");
        out.push_str("\tstatus:\n");
        for id in nodes {
            let state = if *id == me {
                "localhost"
            } else {
                let connected = links
                    .peers
                    .iter()
                    .find(|p| p.nodeid == *id)
                    .and_then(|p| p.links.iter().find(|pl| pl.link == l.link))
                    .is_some_and(|pl| pl.connected);
                if connected {
                    "connected"
                } else {
                    "disconnected"
                }
            };
            // CS_PRI_NODE_ID_PADDED is "%10u".
            let _ = writeln!(out, "\t\tnodeid: {id:>10}:\t{state}");
        }
    }
    out
}

/// The detailed table: one row per other node and link.
pub fn details(links: &LinksView) -> String {
    let mut out = String::from("\nLink information\n----------------\n");
    let modes: Vec<String> = links
        .links
        .iter()
        .map(|l| {
            format!(
                "link {} priority {} (ping {} ms, timeout {} ms, pong_count {})",
                l.link, l.priority, l.ping_interval_ms, l.ping_timeout_ms, l.pong_count
            )
        })
        .collect();
    let _ = writeln!(out, "Mode:             {}; {}", links.mode, modes.join("; "));
    let clique: Vec<String> = links.clique.iter().map(u32::to_string).collect();
    let _ = writeln!(out, "Connected set:    {}", clique.join(" "));
    let _ = writeln!(
        out,
        "{:>6} {:>4} {:<22} {:<12} {:>9} {:<24} {:>9} {:>9} {:>7} {:>5}",
        "Nodeid",
        "Link",
        "Address",
        "State",
        "Latency",
        "Last change",
        "Sent",
        "Received",
        "Dropped",
        "Downs"
    );
    for p in &links.peers {
        for l in &p.links {
            let state = if l.connected { "connected" } else { "disconnected" };
            let latency =
                l.latency_us.map_or_else(|| "-".to_string(), |us| format!("{:.2}ms", us as f64 / 1000.0));
            let _ = writeln!(
                out,
                "{:>6} {:>4} {:<22} {:<12} {:>9} {:<24} {:>9} {:>9} {:>7} {:>5}",
                p.nodeid,
                l.link,
                l.address.as_deref().unwrap_or("-"),
                state,
                latency,
                l.last_change.as_deref().unwrap_or("never"),
                l.sent,
                l.received,
                l.dropped,
                l.down
            );
        }
    }
    out
}

/// `10.0.0.1:5405` → `10.0.0.1`, `[fd00::1]:5405` → `fd00::1`.
fn strip_port(addr: &str) -> &str {
    match addr.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
            host.trim_start_matches('[').trim_end_matches(']')
        }
        _ => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quorumd_proto::status::{LinkView, PeerLinkView, PeerView};

    fn view() -> LinksView {
        let link = |n: u8, connected: bool| PeerLinkView {
            link: n,
            address: Some(format!("10.{n}.0.2:{}", 5405 + u16::from(n))),
            connected,
            latency_us: connected.then_some(250),
            last_change: None,
            last_change_unix_ms: None,
            sent: 10,
            received: 9,
            dropped: 0,
            up: 1,
            down: u64::from(!connected),
        };
        LinksView {
            mode: "passive".into(),
            links: (0..2)
                .map(|n| LinkView {
                    link: n,
                    transport: "udp".into(),
                    address: Some(format!("10.{n}.0.1:{}", 5405 + u16::from(n))),
                    priority: 1,
                    ping_interval_ms: 250,
                    ping_timeout_ms: 500,
                    pong_count: 2,
                })
                .collect(),
            peers: vec![PeerView {
                nodeid: 2,
                reachable: true,
                admitted: true,
                links: vec![link(0, false), link(1, true)],
            }],
            clique: vec![1, 2],
        }
    }

    #[test]
    fn links_print_in_corosync_cfgtool_s_layout() {
        assert_eq!(
            cfgtool(&view(), 1, &[1, 2]),
            "Local node ID 1, transport udp\n\
             LINK ID 0 udp\n\taddr\t= 10.0.0.1\n\tstatus:\n\t\tnodeid:          1:\tlocalhost\n\
             \t\tnodeid:          2:\tdisconnected\n\
             LINK ID 1 udp\n\taddr\t= 10.1.0.1\n\tstatus:\n\t\tnodeid:          1:\tlocalhost\n\
             \t\tnodeid:          2:\tconnected\n"
        );
        let d = details(&view());
        assert!(d.contains("     2    1 10.1.0.2:5406          connected       0.25ms never"), "{d}");
        assert_eq!(strip_port("[fd00::1]:5405"), "fd00::1");
    }
}
