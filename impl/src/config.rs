//! The node's configuration as applications write it: durations as [`Duration`]s, loadable
//! from TOML (or any serde format), with a builder whose errors name the field.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use swim_checked_core::{ConfigError, Millis};

macro_rules! config {
    (
        durations { $( $(#[doc = $ddoc:literal])* $dur:ident, )* }
        values { $( $(#[doc = $vdoc:literal])* $val:ident : $ty:ty, )* }
    ) => {
        /// Timings and limits of a node.
        ///
        /// This is the protocol core's configuration
        /// ([`swim_checked_core::Config`], which counts time in milliseconds because the core
        /// never reads a clock) with its durations as [`Duration`]s. It converts both ways:
        /// [`Config::to_core`] checks it (a duration must be whole milliseconds, every field in
        /// range) and names the offending field; `From<swim_checked_core::Config>` takes a core
        /// configuration as it is, so test harnesses can hand one to
        /// [`Node::builder`](crate::Node::builder).
        ///
        /// Start from a preset ([`Config::lan`], [`Config::wan`], [`Config::local`]) and change
        /// fields, through [`Config::builder`], or load it with serde: missing fields take the
        /// LAN defaults, unknown fields are refused, durations are written `"200ms"`, `"1.5s"`,
        /// `"2m"`, `"1h"` (or an integer number of milliseconds).
        ///
        /// ```
        /// use std::time::Duration;
        /// use swim_checked::Config;
        ///
        /// let config: Config = toml::from_str(r#"
        ///     probe_interval = "500ms"
        ///     label = "prod"
        /// "#).unwrap();
        /// assert_eq!(config.probe_interval, Duration::from_millis(500));
        /// assert_eq!(config.probe_timeout, Config::lan().probe_timeout);
        ///
        /// let err = Config::builder().probe_timeout(Duration::from_secs(2)).build().unwrap_err();
        /// assert_eq!(err.field, "probe_timeout");
        /// ```
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct Config {
            $(
                $(#[doc = $ddoc])*
                #[serde(with = "duration")]
                pub $dur: Duration,
            )*
            $(
                $(#[doc = $vdoc])*
                pub $val: $ty,
            )*
            /// Cluster label: datagrams of another label are dropped, so two clusters can share
            /// a network.
            pub label: String,
        }

        impl Config {
            /// The core's configuration, checked: the error names the field.
            pub fn to_core(&self) -> Result<swim_checked_core::Config, ConfigError> {
                let config = swim_checked_core::Config {
                    $( $dur: millis(stringify!($dur), self.$dur)?, )*
                    $( $val: self.$val, )*
                    label: self.label.clone(),
                };
                config.validate()?;
                Ok(config)
            }
        }

        impl From<swim_checked_core::Config> for Config {
            fn from(c: swim_checked_core::Config) -> Self {
                Config {
                    $( $dur: Duration::from_millis(c.$dur), )*
                    $( $val: c.$val, )*
                    label: c.label,
                }
            }
        }

        impl ConfigBuilder {
            $(
                $(#[doc = $ddoc])*
                pub fn $dur(mut self, value: Duration) -> Self {
                    self.0.$dur = value;
                    self
                }
            )*
            $(
                $(#[doc = $vdoc])*
                pub fn $val(mut self, value: $ty) -> Self {
                    self.0.$val = value;
                    self
                }
            )*
        }
    };
}

config! {
    durations {
        /// Protocol period: one member probed each.
        probe_interval,
        /// Wait for a direct ack before asking helpers; shorter than `probe_interval`.
        probe_timeout,
        /// Push-pull anti-entropy period (grows with the cluster); zero disables it.
        sync_interval,
        /// How long dead and left members are remembered.
        tombstone_ttl,
        /// Join: wait between attempts while no seed answered.
        join_retry_interval,
        /// Leave: longest wait for every member to acknowledge the `left` record.
        leave_timeout,
        /// Application broadcasts: period of the gossip datagrams sent while some wait.
        gossip_interval,
    }
    values {
        /// Members probed directly per period.
        direct_probes: usize,
        /// Helpers asked to probe a member that did not answer (`k`).
        indirect_checks: usize,
        /// Rounds of indirect probing spread over the rest of the period, each with `k` new
        /// helpers and one more direct ping: more independent paths on a lossy link before
        /// a suspicion. 1: SWIM's single round.
        indirect_rounds: u8,
        /// Suspicion timeout multiplier (Lifeguard's minimum, times `log10 n`).
        suspicion_mult: u32,
        /// Maximum suspicion timeout, as a multiple of the minimum.
        suspicion_max_mult: u32,
        /// Independent confirmations that shrink a suspicion to its minimum.
        suspicion_confirmations: usize,
        /// Local health multiplier ceiling (Lifeguard's LHM).
        max_health: u8,
        /// Lifeguard's local health aware probe: missed acks stretch this node's period and
        /// timeout. Off: they stay as configured (SWIM).
        lifeguard_local_health: bool,
        /// Lifeguard's local health aware suspicion: a suspicion starts long and shrinks with
        /// independent confirmations. Off: every suspicion lasts the minimum (SWIM's fixed
        /// timeout, `suspicion_mult x max(1, log10 n) x probe_interval`).
        lifeguard_dynamic_suspicion: bool,
        /// Lifeguard's buddy system: a datagram to a suspect member carries its suspicion
        /// first, so it refutes at once. Off: that record waits its turn in the gossip queue.
        lifeguard_buddy: bool,
        /// Topology-aware helpers: a member that does not answer is probed through helpers
        /// from zones other than its own and ours first (a member's zone is its metadata
        /// `zone`: [`crate::Builder::zone`]). Off: helpers drawn uniformly.
        zone_helpers: bool,
        /// Topology-aware probing: with `f > 1`, members of other zones are probed in one pass
        /// of `f` (every member is still probed at least once every `(f + 1)(n - 1)` periods).
        /// 1: every member every pass.
        far_pass_every: u8,
        /// Each membership update is piggybacked `retransmit_mult x ceil(log10(n + 1))` times.
        retransmit_mult: u32,
        /// Largest datagram sent or accepted, in bytes.
        max_datagram: usize,
        /// Dead and left members remembered beyond the tombstones, at most.
        purged_memory: usize,
        /// Members known, at most.
        max_members: usize,
        /// Largest metadata, encoded, in bytes.
        max_meta_bytes: usize,
        /// Indirect probes run for others at once, at most.
        max_relays: usize,
        /// Whether an expired suspicion makes a member `unreachable` (the application confirms
        /// death) rather than `dead`.
        unreachable: bool,
        /// Whether a node declared dead (a partition, a long pause) rejoins by itself at its
        /// next generation. Off: it stops and reports it; the application decides.
        auto_rejoin: bool,
        /// Whether a suspicion that runs out while none of our probes was answered since it
        /// began starts over instead of ending in a verdict (a node that is cut off does not
        /// declare the others dead).
        isolation_hold: bool,
        /// Join: attempts while no seed answered.
        join_attempts: u32,
        /// Application broadcasts: members sent a gossip datagram each `gossip_interval`.
        user_fanout: usize,
        /// Application broadcasts: each is sent `user_retransmit_mult x ceil(log10(n + 1))`
        /// times by every member that holds it.
        user_retransmit_mult: u32,
        /// Application data: largest payload in bytes.
        max_user_payload: usize,
        /// Application broadcasts waiting to be sent, at most (a full queue loses its most-sent).
        user_queue: usize,
        /// Application broadcasts: identities remembered to deliver each once.
        user_dedup: usize,
        /// Anti-amplification: an address that has not proved it receives our datagrams is
        /// sent at most this many times the bytes received from it.
        amplification_factor: usize,
        /// Unvalidated addresses whose byte counts are remembered (oldest forgotten).
        max_strangers: usize,
        /// Addresses validated by answering our ping, remembered (oldest forgotten).
        max_validated: usize,
        /// New members one datagram from a source that never answered us may introduce.
        max_new_per_datagram: usize,
        /// New members one such source may introduce per protocol period.
        max_new_per_source: usize,
        /// Live members that never answered a probe of ours, at most.
        max_unanswered: usize,
        /// Members that never answered, held before they may leave the regular probe order.
        unanswered_free: usize,
        /// A record more than this above the highest incarnation held for its member is
        /// dropped, so a member can always refute.
        max_incarnation_jump: u64,
        /// A record more than this above the highest generation held for its member is
        /// dropped, so a member can always rejoin.
        max_generation_jump: u64,
    }
}

impl Config {
    /// LAN defaults, as memberlist's `DefaultLANConfig` (1 s period).
    pub fn lan() -> Self {
        swim_checked_core::Config::lan().into()
    }

    /// WAN defaults: longer periods and timeouts.
    pub fn wan() -> Self {
        swim_checked_core::Config::wan().into()
    }

    /// Loopback defaults: short periods for tests and single-host clusters (200 ms period).
    pub fn local() -> Self {
        swim_checked_core::Config::local().into()
    }

    /// A builder starting from the LAN defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder(Config::lan())
    }

    /// A builder starting from this configuration.
    pub fn edit(self) -> ConfigBuilder {
        ConfigBuilder(self)
    }

    /// Check the configuration; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.to_core().map(drop)
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::lan()
    }
}

impl From<&swim_checked_core::Config> for Config {
    fn from(c: &swim_checked_core::Config) -> Self {
        c.clone().into()
    }
}

/// Builds a [`Config`] field by field; [`build`](ConfigBuilder::build) checks it and names the
/// offending field.
///
/// ```
/// use std::time::Duration;
/// use swim_checked::Config;
///
/// let config = Config::builder()
///     .probe_interval(Duration::from_millis(500))
///     .probe_timeout(Duration::from_millis(200))
///     .label("prod")
///     .build()?;
/// # Ok::<(), swim_checked_core::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigBuilder(Config);

impl ConfigBuilder {
    /// Cluster label: datagrams of another label are dropped.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.0.label = label.into();
        self
    }

    /// The configuration, checked.
    pub fn build(self) -> Result<Config, ConfigError> {
        self.0.validate()?;
        Ok(self.0)
    }
}

fn millis(field: &'static str, d: Duration) -> Result<Millis, ConfigError> {
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        return Err(ConfigError {
            field,
            reason: format!("{d:?} is not a whole number of milliseconds"),
        });
    }
    Millis::try_from(d.as_millis()).map_err(|_| ConfigError {
        field,
        reason: format!("{d:?} is too long"),
    })
}

/// Durations as `"200ms"`, `"1.5s"`, `"2m"`, `"1h"`, or an integer number of milliseconds.
mod duration {
    use std::time::Duration;

    use serde::de::{self, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let ms = d.as_millis();
        if ms > 0 && ms.is_multiple_of(1_000) && d.subsec_nanos() == 0 {
            s.serialize_str(&format!("{}s", ms / 1_000))
        } else {
            s.serialize_str(&format!("{ms}ms"))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        d.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(r#"a duration such as "200ms", "1.5s", "2m" or "1h", or milliseconds"#)
        }

        fn visit_u64<E: de::Error>(self, ms: u64) -> Result<Duration, E> {
            Ok(Duration::from_millis(ms))
        }

        fn visit_i64<E: de::Error>(self, ms: i64) -> Result<Duration, E> {
            u64::try_from(ms)
                .map(Duration::from_millis)
                .map_err(|_| E::invalid_value(de::Unexpected::Signed(ms), &self))
        }

        fn visit_str<E: de::Error>(self, s: &str) -> Result<Duration, E> {
            parse(s).ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
        }
    }

    /// A number (decimals allowed) and a unit: `ms`, `s`, `m` or `h`.
    pub fn parse(s: &str) -> Option<Duration> {
        let s = s.trim();
        let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, unit) = s.split_at(split);
        let unit_ms: u64 = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            _ => return None,
        };
        // A whole number exactly, however large (a tombstone TTL that never expires is
        // written out in milliseconds, past what a float holds to the unit).
        if let Ok(whole) = number.parse::<u64>() {
            return whole.checked_mul(unit_ms).map(Duration::from_millis);
        }
        let number: f64 = number.parse().ok()?;
        // Rounded to the nanosecond, so "0.3s" is 300 ms exactly.
        let nanos = (number * unit_ms as f64 * 1e6).round();
        (nanos.is_finite() && nanos < u64::MAX as f64).then(|| Duration::from_nanos(nanos as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lifeguard's switches are on by default, load from TOML, go through the builder and
    /// reach the core; turning local health off with no multiplier room is the only way
    /// `max_health = 0` passes.
    #[test]
    fn lifeguard_switches_round_trip_to_the_core() {
        let lan = Config::lan();
        assert!(
            lan.lifeguard_local_health && lan.lifeguard_dynamic_suspicion && lan.lifeguard_buddy
        );
        let loaded: Config = toml::from_str(
            "lifeguard_local_health = false\nlifeguard_dynamic_suspicion = false\nlifeguard_buddy = false\nmax_health = 0",
        )
        .unwrap();
        let core = loaded.to_core().unwrap();
        assert!(!core.lifeguard_local_health);
        assert!(!core.lifeguard_dynamic_suspicion);
        assert!(!core.lifeguard_buddy);
        assert_eq!(Config::from(core), loaded);
        let text = toml::to_string(&loaded).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), loaded);
        let built = Config::builder().lifeguard_buddy(false).build().unwrap();
        assert!(!built.to_core().unwrap().lifeguard_buddy);
        let err = Config::builder().max_health(0).build().unwrap_err();
        assert_eq!(err.field, "max_health");
        assert!(err.to_string().contains("lifeguard_local_health"), "{err}");
    }

    /// What the shell writes, it reads back the same: a tombstone TTL that never expires
    /// (about 4.6e18 ms, past what a float holds to the millisecond) included.
    #[test]
    fn a_written_config_loads_back_the_same() {
        let never = Config {
            tombstone_ttl: Duration::from_millis(swim_checked_core::config::NEVER),
            probe_interval: Duration::from_secs(2),
            ..Config::lan()
        };
        let text = toml::to_string(&never).unwrap();
        assert!(text.contains("probe_interval = \"2s\""), "{text}");
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), never);
        assert_eq!(duration::parse("1.5s"), Some(Duration::from_millis(1_500)));
        assert_eq!(duration::parse("0.3s"), Some(Duration::from_millis(300)));
        assert_eq!(duration::parse("2m"), Some(Duration::from_secs(120)));
        assert_eq!(duration::parse(&format!("{}h", u64::MAX)), None);
    }
}
