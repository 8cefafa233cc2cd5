//! The golden-table runner: a tiny cluster of [`Votequorum`] machines driven by the scripts in
//! `testdata/*.txt`, the way the node layer drives them (sync_start, every nodeinfo to every
//! member in agreed order, activate; reconfigure messages outside a sync; LMS expiries).
//!
//! Script format, one command per line (`#` starts a comment):
//!
//! ```text
//! case <name>                     new case: fresh config, no nodes, empty disks
//! nodes 1 2 3                     the nodelist, one vote each
//! votes <id> <n>                  quorum_votes of one nodelist node
//! quorum <key> <value...>         a quorum key, raw (e.g. `quorum auto_tie_breaker_node 3 1`)
//! start <ids...>                  boot nodes (tracking reads the node's disk)
//! start-fails <id> <text...>      booting <id> must fail with an error containing <text>
//! stop <ids...>                   crash or stop nodes; nobody is told until the next ring
//! leave <id>                      clean shutdown: LEAVING nodeinfo to its partition, then stop
//! ring <ids...> [| <ids...>]...   one sync per partition (ring seq +1 for each command)
//! expire [ids...]                 fire the armed LMS timer (of every running node if no ids)
//! setexpected <id> <e> <result>   result: ok | INVALID_PARAM
//! setvotes <id> <node> <v> <result>   result: ok | INVALID_PARAM | NAME_NOT_FOUND
//! cancel_wfa <id>
//! expect <ids...> key=value...    check each listed node
//! safe                            no two quorate nodes sit in disjoint partitions
//! ```
//!
//! `expect` keys: `quorate=yes|no quorum= expected= highest= total= wfa=yes|no lms=armed|idle
//! changed=yes|no` (a quorate flip was reported outside a sync during the previous command),
//! `persisted=` (the node's disk), `flags=2Node,Quorate,...` (`-` for none), `why=votes|atb|
//! wfa|short|atb-denied`, `missing=2,3` (`-` for none).
//!
//! After every `ring`, the members of each partition must agree on quorate, quorum and expected
//! votes.

use std::collections::BTreeMap;

use quorumd_proto::{MemberList, NodeId, RingId};
use quorumd_votequorum::{Action, Decision, Error, Votequorum, VqConfig, VqMessage};

struct Node {
    vq: Votequorum,
    lms_generation: Option<u64>,
    changed: bool,
    partition: MemberList,
}

struct Cluster {
    config: VqConfig,
    nodes: BTreeMap<NodeId, Node>,
    disks: BTreeMap<NodeId, u32>,
    ring_seq: u64,
}

impl Cluster {
    fn new() -> Cluster {
        Cluster {
            config: VqConfig::from_keys(&MemberList::new(), [("provider", "corosync_votequorum")]).unwrap(),
            nodes: BTreeMap::new(),
            disks: BTreeMap::new(),
            ring_seq: 0,
        }
    }
}

fn id(word: &str) -> Result<NodeId, String> {
    let raw: u32 = word.parse().map_err(|_| format!("bad node id '{word}'"))?;
    NodeId::new(raw).map_err(|e| e.to_string())
}

fn ids(words: &[&str]) -> Result<Vec<NodeId>, String> {
    words.iter().map(|w| id(w)).collect()
}

fn num(word: &str) -> Result<u32, String> {
    word.parse().map_err(|_| format!("bad number '{word}'"))
}

/// Runs one script; returns every failure as `file:line: message`.
pub fn run(name: &str, text: &str) -> Vec<String> {
    let mut failures = Vec::new();
    let mut cluster = Cluster::new();
    let mut cases = 0;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if words[0] == "case" {
            cases += 1;
            cluster = Cluster::new();
            continue;
        }
        if words[0] != "expect" {
            for node in cluster.nodes.values_mut() {
                node.changed = false;
            }
        }
        if let Err(msg) = step(&mut cluster, &words) {
            failures.push(format!("{name}:{}: {msg}\n    {line}", index + 1));
        }
    }
    assert!(cases > 0, "{name}: no case");
    failures
}

fn step(c: &mut Cluster, w: &[&str]) -> Result<(), String> {
    match w[0] {
        "nodes" => {
            for n in ids(&w[1..])? {
                c.config.set_node_votes(n, 1).map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        "votes" if w.len() == 3 => c.config.set_node_votes(id(w[1])?, num(w[2])?).map_err(|e| e.to_string()),
        "quorum" if w.len() >= 3 => c.config.set_key(w[1], &w[2..].join(" ")).map_err(|e| e.to_string()),
        "start" => ids(&w[1..])?.into_iter().try_for_each(|n| start(c, n)),
        "start-fails" if w.len() >= 3 => start_fails(c, id(w[1])?, &w[2..].join(" ")),
        "stop" => {
            for n in ids(&w[1..])? {
                c.nodes.remove(&n).ok_or(format!("node {n} is not running"))?;
            }
            Ok(())
        }
        "leave" if w.len() == 2 => leave(c, id(w[1])?),
        "ring" => ring(c, &w[1..]),
        "expire" => expire(c, &w[1..]),
        "setexpected" if w.len() == 4 => {
            let n = id(w[1])?;
            let r = node(c, n)?.vq.set_expected(num(w[2])?);
            request(c, n, r, w[3])
        }
        "setvotes" if w.len() == 5 => {
            let n = id(w[1])?;
            let r = node(c, n)?.vq.set_votes(num(w[2])?, num(w[3])?);
            request(c, n, r, w[4])
        }
        "cancel_wfa" if w.len() == 2 => {
            let n = id(w[1])?;
            let r = node(c, n)?.vq.cancel_wait_for_all();
            multicast(c, n, &VqMessage::Reconfigure(r))
        }
        "expect" => expect(c, w),
        "safe" => safe(c),
        other => Err(format!("unknown command or wrong arguments: '{other}'")),
    }
}

fn node(c: &mut Cluster, n: NodeId) -> Result<&mut Node, String> {
    c.nodes.get_mut(&n).ok_or(format!("node {n} is not running"))
}

/// Applies every queued action of node `n` the way the node layer would.
fn drain(c: &mut Cluster, n: NodeId) {
    let Some(node) = c.nodes.get_mut(&n) else { return };
    while let Some(action) = node.vq.poll_action() {
        match action {
            Action::ArmLmsTimer { generation, .. } => node.lms_generation = Some(generation),
            Action::CancelLmsTimer => node.lms_generation = None,
            Action::PersistExpectedVotes(v) => {
                c.disks.insert(n, v);
            }
            Action::ExpectedVotesChanged(_) => {}
            Action::QuorateChanged { .. } => node.changed = true,
        }
    }
}

fn start(c: &mut Cluster, n: NodeId) -> Result<(), String> {
    if c.nodes.contains_key(&n) {
        return Err(format!("node {n} is already running"));
    }
    let vq = Votequorum::new(n, &c.config, c.disks.get(&n).copied()).map_err(|e| e.to_string())?;
    c.nodes.insert(n, Node { vq, lms_generation: None, changed: false, partition: MemberList::new() });
    drain(c, n);
    Ok(())
}

fn start_fails(c: &Cluster, n: NodeId, text: &str) -> Result<(), String> {
    match Votequorum::new(n, &c.config, None) {
        Ok(_) => Err(format!("node {n} started, expected an error containing '{text}'")),
        Err(e) if e.to_string().contains(text) => Ok(()),
        Err(e) => Err(format!("error '{e}' does not contain '{text}'")),
    }
}

/// Whether `n` runs and is still in the ring of `partition` (not stopped or restarted since).
fn in_partition(c: &Cluster, n: NodeId, partition: &MemberList) -> bool {
    c.nodes.get(&n).is_some_and(|node| node.partition == *partition)
}

/// Delivers `msg` from `from` to every running member of `from`'s partition, in id order.
fn multicast(c: &mut Cluster, from: NodeId, msg: &VqMessage) -> Result<(), String> {
    let partition = node(c, from)?.partition.clone();
    let bytes = msg.encode();
    let running: Vec<NodeId> = partition.iter().filter(|to| in_partition(c, *to, &partition)).collect();
    for to in running {
        node(c, to)?.vq.message_received(from, &bytes).map_err(|e: Error| format!("node {to}: {e}"))?;
        drain(c, to);
    }
    Ok(())
}

fn request(
    c: &mut Cluster,
    n: NodeId,
    result: Result<quorumd_votequorum::Reconfigure, Error>,
    want: &str,
) -> Result<(), String> {
    let got = match &result {
        Ok(_) => "ok".to_string(),
        Err(Error::InvalidParam(_)) => "INVALID_PARAM".to_string(),
        Err(Error::NameNotFound(_)) => "NAME_NOT_FOUND".to_string(),
        Err(e) => e.to_string(),
    };
    if got != want {
        return Err(format!("request gave {got}, expected {want}"));
    }
    match result {
        Ok(r) => multicast(c, n, &VqMessage::Reconfigure(r)),
        Err(_) => Ok(()),
    }
}

fn leave(c: &mut Cluster, n: NodeId) -> Result<(), String> {
    let info = node(c, n)?.vq.leaving_nodeinfo().ok_or("leave needs allow_downscale")?;
    multicast(c, n, &VqMessage::NodeInfo(info))?;
    c.nodes.remove(&n);
    Ok(())
}

fn ring(c: &mut Cluster, words: &[&str]) -> Result<(), String> {
    c.ring_seq += 1;
    for group in words.split(|w| *w == "|") {
        let members = MemberList::from_ids(ids(group)?).map_err(|e| e.to_string())?;
        let rep = members.lowest().ok_or("empty partition")?;
        let ring_id = RingId::new(rep, c.ring_seq);
        for m in members.iter() {
            let n = node(c, m)?;
            n.partition = members.clone();
            n.vq.sync_start(ring_id, &members);
            drain(c, m);
        }
        for from in members.iter() {
            let info = node(c, from)?.vq.my_nodeinfo();
            multicast(c, from, &VqMessage::NodeInfo(info))?;
        }
        let mut outcomes = Vec::new();
        for m in members.iter() {
            let activation = node(c, m)?.vq.activate();
            if !activation.notify {
                return Err(format!("node {m}: activation without a notification"));
            }
            drain(c, m);
            let s = &activation.state;
            outcomes.push((m, s.quorate, s.quorum, s.expected_votes));
        }
        if outcomes.windows(2).any(|p| (p[0].1, p[0].2, p[0].3) != (p[1].1, p[1].2, p[1].3)) {
            return Err(format!(
                "partition {members} disagrees (node, quorate, quorum, expected votes): {outcomes:?}"
            ));
        }
    }
    Ok(())
}

fn expire(c: &mut Cluster, words: &[&str]) -> Result<(), String> {
    let targets = if words.is_empty() { c.nodes.keys().copied().collect() } else { ids(words)? };
    for n in targets {
        let this = node(c, n)?;
        let Some(generation) = this.lms_generation.take() else { continue };
        let Some(expiry) = this.vq.lms_timer_expired(generation) else { continue };
        // The expiry is ordered: every running member of the partition applies it.
        let partition = this.partition.clone();
        let running: Vec<NodeId> = partition.iter().filter(|m| in_partition(c, *m, &partition)).collect();
        for m in running {
            node(c, m)?.vq.reconfigure_received(n, &expiry).map_err(|e| e.to_string())?;
            drain(c, m);
        }
    }
    Ok(())
}

/// The split-brain check: the partitions of quorate nodes must pairwise intersect.
fn safe(c: &Cluster) -> Result<(), String> {
    let quorate: Vec<&MemberList> =
        c.nodes.values().filter(|n| n.vq.quorate()).map(|n| &n.partition).collect();
    for (i, a) in quorate.iter().enumerate() {
        if let Some(b) = quorate[i + 1..].iter().find(|b| a.intersect(b).is_empty()) {
            return Err(format!("split brain: {a} and {b} are both quorate"));
        }
    }
    Ok(())
}

fn expect(c: &mut Cluster, w: &[&str]) -> Result<(), String> {
    let (checks, targets): (Vec<&str>, Vec<&str>) = w[1..].iter().partition(|t| t.contains('='));
    if targets.is_empty() || checks.is_empty() {
        return Err("expect needs node ids and key=value checks".into());
    }
    let mut errors = Vec::new();
    for n in ids(&targets)? {
        let disk = c.disks.get(&n).copied();
        let node = node(c, n)?;
        for check in &checks {
            let (key, want) = check.split_once('=').unwrap_or((check, ""));
            let got = observe(node, disk, key)?;
            if got != want {
                errors.push(format!("node {n}: {key}={got}, expected {want}"));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

fn yes(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn list(ids: &[NodeId]) -> String {
    if ids.is_empty() {
        return "-".into();
    }
    ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",")
}

fn observe(node: &Node, disk: Option<u32>, key: &str) -> Result<String, String> {
    let s = node.vq.state();
    Ok(match key {
        "quorate" => yes(s.quorate),
        "quorum" => s.quorum.to_string(),
        "expected" => s.expected_votes.to_string(),
        "highest" => s.highest_expected.to_string(),
        "total" => s.total_votes.to_string(),
        "wfa" => yes(s.wait_for_all_status),
        "lms" => if s.lms_window_running { "armed" } else { "idle" }.to_string(),
        "changed" => yes(node.changed),
        "persisted" => disk.map_or("-".to_string(), |v| v.to_string()),
        "flags" => Some(s.flags.names().join(",")).filter(|f| !f.is_empty()).unwrap_or("-".into()),
        "why" => match &s.decision {
            Decision::QuorateByVotes { .. } => "votes",
            Decision::QuorateByTieBreaker { .. } => "atb",
            Decision::WaitingForAll { .. } => "wfa",
            Decision::NotEnoughVotes { tie_breaker: None, .. } => "short",
            Decision::NotEnoughVotes { tie_breaker: Some(_), .. } => "atb-denied",
        }
        .to_string(),
        "missing" => match &s.decision {
            Decision::WaitingForAll { missing, .. } => list(missing),
            _ => "-".into(),
        },
        other => return Err(format!("unknown expect key '{other}'")),
    })
}
