//! Totem timing: the `totem { }` keys of corosync.conf and the rules that derive the effective
//! values from them (corosync-behaviour §4.1), in one struct the protocol reads.
//!
//! Deviation from corosync (documented in docs/totem.md and docs/deviations.md):
//! - `token` defaults to 1000 ms, not 3000, and `token_coefficient` defaults to 0: failure
//!   detection does not grow with the ring. A configured `token_coefficient` is honoured.
//! - `consensus` defaults to `max(200, 4 × join)` ms instead of `1.2 × token`: in GATHER every
//!   live node answers a join within one `join` interval, so a node that stays silent for four
//!   of them is the failed one; waiting another 1.2 × token adds nothing to safety (agreement
//!   comes from the join sets and the commit token, never from a timeout). A configured
//!   `consensus` is honoured.
//! - `merge` defaults to 50 ms, not 200, so that healed partitions find each other quickly.

use quorumd_proto::Duration;

/// A totem key that is unknown, or whose value is out of range or inconsistent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimingError {
    /// The key is not a totem timing key this implementation knows.
    #[error("unknown totem timing key '{0}'")]
    UnknownKey(String),
    /// A value outside the allowed range.
    #[error("totem.{key} = {value} is out of range: {why}")]
    OutOfRange {
        /// The key.
        key: &'static str,
        /// The value given.
        value: u64,
        /// The rule it breaks.
        why: &'static str,
    },
}

/// The minimum of every timeout (corosync: `(1000/HZ)*3` with HZ=100).
pub const MIN_TIMEOUT_MS: u32 = 30;
/// The minimum token hold (corosync: 14 ms).
pub const MIN_HOLD_MS: u32 = 14;

/// The raw `totem { }` values as configured; `None` means "not set, derive it".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TotemKeys {
    /// `token`
    pub token: Option<u32>,
    /// `token_coefficient`
    pub token_coefficient: Option<u32>,
    /// `token_retransmit`
    pub token_retransmit: Option<u32>,
    /// `token_retransmits_before_loss_const`
    pub token_retransmits_before_loss_const: Option<u32>,
    /// `hold`
    pub hold: Option<u32>,
    /// `join`
    pub join: Option<u32>,
    /// `send_join`
    pub send_join: Option<u32>,
    /// `consensus`
    pub consensus: Option<u32>,
    /// `merge`
    pub merge: Option<u32>,
    /// `downcheck`
    pub downcheck: Option<u32>,
    /// `fail_recv_const`
    pub fail_recv_const: Option<u32>,
    /// `seqno_unchanged_const`
    pub seqno_unchanged_const: Option<u32>,
    /// `window_size`
    pub window_size: Option<u32>,
    /// `max_messages`
    pub max_messages: Option<u32>,
    /// `miss_count_const`
    pub miss_count_const: Option<u32>,
    /// `token_warning` (percent of token)
    pub token_warning: Option<u32>,
    /// `max_network_delay`
    pub max_network_delay: Option<u32>,
    /// `heartbeat_failures_allowed`
    pub heartbeat_failures_allowed: Option<u32>,
}

/// Every key [`TotemKeys::set`] accepts.
pub use quorumd_proto::totem_keys::TIMING_KEYS;

impl TotemKeys {
    /// Sets one key by its corosync.conf name.
    pub fn set(&mut self, key: &str, value: u32) -> Result<(), TimingError> {
        let slot = match key {
            "token" => &mut self.token,
            "token_coefficient" => &mut self.token_coefficient,
            "token_retransmit" => &mut self.token_retransmit,
            "token_retransmits_before_loss_const" => &mut self.token_retransmits_before_loss_const,
            "hold" => &mut self.hold,
            "join" => &mut self.join,
            "send_join" => &mut self.send_join,
            "consensus" => &mut self.consensus,
            "merge" => &mut self.merge,
            "downcheck" => &mut self.downcheck,
            "fail_recv_const" => &mut self.fail_recv_const,
            "seqno_unchanged_const" => &mut self.seqno_unchanged_const,
            "window_size" => &mut self.window_size,
            "max_messages" => &mut self.max_messages,
            "miss_count_const" => &mut self.miss_count_const,
            "token_warning" => &mut self.token_warning,
            "max_network_delay" => &mut self.max_network_delay,
            "heartbeat_failures_allowed" => &mut self.heartbeat_failures_allowed,
            other => return Err(TimingError::UnknownKey(other.to_string())),
        };
        *slot = Some(value);
        Ok(())
    }

    /// Derives the effective timing for a nodelist of `node_count` nodes (corosync-behaviour §4.1 rules,
    /// with this implementation's defaults) and checks it.
    pub fn derive(&self, node_count: usize) -> Result<TotemConfig, TimingError> {
        let token_base = self.token.unwrap_or(DEFAULT_TOKEN_MS);
        let coefficient = self.token_coefficient.unwrap_or(0);
        let extra_nodes = u64::try_from(node_count.saturating_sub(2)).unwrap_or(u64::MAX);
        let token_eff = if node_count >= 3 {
            u64::from(token_base).saturating_add(extra_nodes.saturating_mul(u64::from(coefficient)))
        } else {
            u64::from(token_base)
        };
        let token_eff = u32::try_from(token_eff).unwrap_or(u32::MAX);
        let retransmits = self.token_retransmits_before_loss_const.unwrap_or(4);
        if retransmits == 0 {
            return Err(TimingError::OutOfRange {
                key: "token_retransmits_before_loss_const",
                value: 0,
                why: "must be at least 1",
            });
        }
        // corosync: (int)(token / (retransmits + 0.2)) and (int)(retransmit * 0.8 - 10).
        let token_retransmit = self
            .token_retransmit
            .unwrap_or(((u64::from(token_eff) * 10) / (u64::from(retransmits) * 10 + 2)) as u32);
        let hold = self.hold.unwrap_or((u64::from(token_retransmit) * 8 / 10).saturating_sub(10) as u32);
        let join = self.join.unwrap_or(50);
        let consensus = self.consensus.unwrap_or(200.max(join.saturating_mul(4)));
        let merge = self.merge.unwrap_or(50);
        let cfg = TotemConfig {
            token: Duration::from_millis(u64::from(token_eff)),
            token_retransmit: Duration::from_millis(u64::from(token_retransmit)),
            hold: Duration::from_millis(u64::from(hold)),
            join: Duration::from_millis(u64::from(join)),
            send_join: Duration::from_millis(u64::from(self.send_join.unwrap_or(0))),
            consensus: Duration::from_millis(u64::from(consensus)),
            merge: Duration::from_millis(u64::from(merge)),
            downcheck: Duration::from_millis(u64::from(self.downcheck.unwrap_or(1000))),
            fail_recv_const: self.fail_recv_const.unwrap_or(2500),
            seqno_unchanged_const: self.seqno_unchanged_const.unwrap_or(30),
            window_size: self.window_size.unwrap_or(50),
            max_messages: self.max_messages.unwrap_or(17),
            miss_count_const: self.miss_count_const.unwrap_or(5),
            token_warning_percent: self.token_warning.unwrap_or(75),
        };
        self.check(&cfg, token_eff, token_retransmit, hold, join, consensus, merge)?;
        Ok(cfg)
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        cfg: &TotemConfig,
        token: u32,
        token_retransmit: u32,
        hold: u32,
        join: u32,
        consensus: u32,
        merge: u32,
    ) -> Result<(), TimingError> {
        let range = |key: &'static str, value: u32, ok: bool, why: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(TimingError::OutOfRange { key, value: u64::from(value), why })
            }
        };
        let min = "must be at least 30 ms";
        range("token", token, token >= MIN_TIMEOUT_MS, min)?;
        range("token_retransmit", token_retransmit, token_retransmit >= MIN_TIMEOUT_MS, min)?;
        range("token_retransmit", token_retransmit, token_retransmit < token, "must be below token")?;
        range("hold", hold, hold >= MIN_HOLD_MS, "must be at least 14 ms")?;
        range("hold", hold, hold < token_retransmit, "must be below token_retransmit")?;
        range("join", join, join >= MIN_TIMEOUT_MS, min)?;
        range("consensus", consensus, consensus >= MIN_TIMEOUT_MS, min)?;
        range("consensus", consensus, consensus >= join, "must be at least join")?;
        range("merge", merge, merge >= MIN_TIMEOUT_MS, min)?;
        range("window_size", cfg.window_size, cfg.window_size >= 1, "must be at least 1")?;
        range("max_messages", cfg.max_messages, cfg.max_messages >= 1, "must be at least 1")?;
        range(
            "max_messages",
            cfg.max_messages,
            cfg.max_messages <= cfg.window_size,
            "must not exceed window_size",
        )?;
        range("fail_recv_const", cfg.fail_recv_const, cfg.fail_recv_const >= 1, "must be at least 1")?;
        range(
            "token_warning",
            cfg.token_warning_percent,
            cfg.token_warning_percent <= 100,
            "is a percentage of token (0..100)",
        )?;
        Ok(())
    }
}

/// The default `token`, ms. Deviation from corosync (3000): see the module docs.
pub const DEFAULT_TOKEN_MS: u32 = 1000;

/// Effective Totem timing, derived once by [`TotemKeys::derive`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TotemConfig {
    /// No token for this long: the token is lost and the node gathers.
    pub token: Duration,
    /// Resend the token if the ring shows no progress for this long.
    pub token_retransmit: Duration,
    /// How long the representative holds the token on an idle ring.
    pub hold: Duration,
    /// Interval between join resends in GATHER.
    pub join: Duration,
    /// Upper bound of the random delay before a join is sent (0: none).
    pub send_join: Duration,
    /// A node that sends no join for this long in GATHER, and does not agree with us, is added
    /// to the failed set.
    pub consensus: Duration,
    /// Interval between the representative's merge-detect probes.
    pub merge: Duration,
    /// Interface recheck interval (kept for corosync.conf compatibility; unused on our transport).
    pub downcheck: Duration,
    /// Rotations a node may hold back the ring's aru before it declares itself failed to receive.
    pub fail_recv_const: u32,
    /// Idle rotations before the representative starts holding the token.
    pub seqno_unchanged_const: u32,
    /// Most messages sent per rotation across the ring.
    pub window_size: u32,
    /// Most messages one node sends per token visit.
    pub max_messages: u32,
    /// Visits a message may be seen missing before its retransmission is requested.
    pub miss_count_const: u32,
    /// Percent of `token` after which a missing token is worth a warning (0: never).
    pub token_warning_percent: u32,
}

impl Default for TotemConfig {
    fn default() -> Self {
        // Deriving from no keys cannot fail: the defaults satisfy every check (tested below).
        match TotemKeys::default().derive(2) {
            Ok(cfg) => cfg,
            Err(e) => panic!("default totem timing is inconsistent: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, u32)]) -> TotemKeys {
        let mut k = TotemKeys::default();
        for (name, v) in pairs {
            k.set(name, *v).unwrap();
        }
        k
    }

    #[test]
    fn spec_4_1_live_check_token_1000_two_nodes() {
        // corosync-behaviour §4.1: token 1000 on 2 nodes gives retransmit 238, hold 180.
        let c = keys(&[("token", 1000)]).derive(2).unwrap();
        assert_eq!(c.token_retransmit.as_millis(), 238);
        assert_eq!(c.hold.as_millis(), 180);
    }

    #[test]
    fn spec_4_1_table_with_coefficient_set_explicitly() {
        // The corosync table (token 3000, coefficient 650) when both are configured.
        for (nodes, eff, retr, hold) in
            [(2, 3000, 714, 561), (3, 3650, 869, 685), (5, 4950, 1178, 932), (16, 12100, 2880, 2294)]
        {
            let c = keys(&[("token", 3000), ("token_coefficient", 650)]).derive(nodes).unwrap();
            assert_eq!(c.token.as_millis(), eff, "nodes {nodes}");
            assert_eq!(c.token_retransmit.as_millis(), retr, "nodes {nodes}");
            assert_eq!(c.hold.as_millis(), hold, "nodes {nodes}");
        }
    }

    #[test]
    fn our_defaults_do_not_grow_with_the_ring() {
        let small = TotemKeys::default().derive(2).unwrap();
        let large = TotemKeys::default().derive(64).unwrap();
        assert_eq!(small.token, large.token);
        assert_eq!(small.token.as_millis(), 1000);
        assert_eq!(small.consensus.as_millis(), 200);
        assert_eq!(TotemConfig::default(), small);
    }

    #[test]
    fn every_shared_timing_key_is_settable() {
        let mut k = TotemKeys::default();
        for key in TIMING_KEYS {
            assert_eq!(k.set(key, 100), Ok(()), "{key}");
        }
    }

    #[test]
    fn inconsistent_values_are_refused() {
        assert!(matches!(
            keys(&[("token", 10)]).derive(3),
            Err(TimingError::OutOfRange { key: "token", .. })
        ));
        assert!(matches!(
            keys(&[("join", 100), ("consensus", 60)]).derive(3),
            Err(TimingError::OutOfRange { key: "consensus", .. })
        ));
        assert!(matches!(
            keys(&[("max_messages", 60)]).derive(3),
            Err(TimingError::OutOfRange { key: "max_messages", .. })
        ));
        assert_eq!(TotemKeys::default().set("tokn", 5), Err(TimingError::UnknownKey("tokn".into())));
    }
}
