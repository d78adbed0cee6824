//! The agent's settings: a TOML file (`--config`) under the flags of `run`. Every error names
//! the file, the line and the field.
//!
//! The protocol's timings are `swim_checked::Config`'s fields, in a `[protocol]` table whose
//! keys override the chosen preset's values (so `preset = "local"` with one `probe_interval`
//! changes only that).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use swim_checked::{Config, Key, Keyring};
use toml::Spanned;

use crate::cli::{DEFAULT_HTTP, Preset, RunArgs};

/// The UDP address when neither the file nor a flag gives one (memberlist's port).
const DEFAULT_BIND: &str = "127.0.0.1:7946";

/// What `run` starts with.
#[derive(Debug)]
pub struct Settings {
    pub bind: String,
    pub advertise: Option<SocketAddr>,
    pub seeds: Vec<String>,
    /// The member's name: its id derives from it, so a restart is its next generation.
    pub name: Option<String>,
    pub meta: Vec<(String, String)>,
    pub config: Config,
    pub keyring: Option<Keyring>,
    pub http: String,
    /// `--loss`: outgoing datagrams dropped at random (a testing knob; flag only).
    pub loss: Option<SendLoss>,
    /// `--record`: where to write every transition of the node (flag only).
    pub record: Option<std::path::PathBuf>,
}

/// Drop each outgoing datagram with probability `p`, drawn from a generator seeded by `seed`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SendLoss {
    pub p: f64,
    pub seed: u64,
}

/// A configuration the agent refuses, with where and why.
#[derive(Debug)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Invalid {}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    bind: Option<String>,
    advertise: Option<SocketAddr>,
    seeds: Option<Vec<String>>,
    name: Option<String>,
    zone: Option<String>,
    preset: Option<Preset>,
    label: Option<String>,
    key_file: Option<PathBuf>,
    http: Option<String>,
    metadata: Option<BTreeMap<String, String>>,
    /// Checked key by key against `swim_checked::Config`, so that an error has the key's line.
    protocol: Option<BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
}

impl Settings {
    /// The file named by `--config` (if any) with the flags over it.
    pub fn load(args: RunArgs) -> Result<Settings, Invalid> {
        let (file, protocol) = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    Invalid(format!("cannot read config file {}: {e}", path.display()))
                })?;
                let source = Source { path, text: &text };
                // Syntax first, so that only errors in the data name a field.
                text.parse::<toml::Table>()
                    .map_err(|e| source.toml_error(&e, false))?;
                let mut file: File =
                    toml::from_str(&text).map_err(|e| source.toml_error(&e, true))?;
                // A key file named in the config file is relative to it.
                if let (Some(key_file), Some(dir)) = (&mut file.key_file, path.parent()) {
                    *key_file = dir.join(&*key_file);
                }
                let protocol = file.protocol.take().unwrap_or_default();
                let preset = args.preset.or(file.preset).unwrap_or_default();
                (file, source.protocol(preset, &protocol)?)
            }
            None => (File::default(), args.preset.unwrap_or_default().config()),
        };
        let mut config = protocol;
        if let Some(label) = args.label.or(file.label) {
            config.label = label;
        }
        config
            .validate()
            .map_err(|e| Invalid(format!("invalid configuration: {e}")))?;

        let mut meta: Vec<(String, String)> =
            file.metadata.unwrap_or_default().into_iter().collect();
        meta.extend(args.meta);
        if let Some(zone) = args.zone.or(file.zone) {
            meta.retain(|(k, _)| k != "zone");
            meta.push(("zone".to_owned(), zone));
        }
        let name = args.name.or(file.name);
        let bind = args
            .bind
            .or(file.bind)
            .unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let loss = args.loss.map(|p| SendLoss {
            p,
            seed: args.loss_seed.unwrap_or_else(|| seed_of(&bind)),
        });
        let keyring = args
            .key_file
            .or(file.key_file)
            .map(|path| read_keys(&path))
            .transpose()?;
        Ok(Settings {
            bind,
            advertise: args.advertise.or(file.advertise),
            seeds: if args.seeds.is_empty() {
                file.seeds.unwrap_or_default()
            } else {
                args.seeds
            },
            name,
            meta,
            config,
            keyring,
            http: args
                .http
                .or(file.http)
                .unwrap_or_else(|| DEFAULT_HTTP.to_owned()),
            loss,
            record: args.record,
        })
    }
}

/// A `--loss` seed per agent when none is given: agents on different addresses draw
/// different drops, and a rerun on the same address draws the same ones (FNV-1a).
fn seed_of(bind: &str) -> u64 {
    bind.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The config file's text, to point at a line.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// `file, line, column: field: message`; without `field`, the key written on that line
    /// if `keyed`.
    fn at(&self, span: Range<usize>, field: Option<&str>, keyed: bool, message: &str) -> Invalid {
        let before = &self.text[..span.start.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.chars().rev().take_while(|c| *c != '\n').count() + 1;
        let field = field
            .map(str::to_owned)
            .or_else(|| keyed.then(|| self.key_at(line)).flatten())
            .map(|f| format!(" field `{f}`:"))
            .unwrap_or_default();
        Invalid(format!(
            "config file {}, line {line}, column {column}:{field} {message}",
            self.path.display()
        ))
    }

    /// The dotted key written on `line`, under its `[table]` header if any.
    fn key_at(&self, line: usize) -> Option<String> {
        let lines: Vec<&str> = self.text.lines().collect();
        let text = lines.get(line - 1)?.trim();
        let key = text
            .split_once('=')
            .map(|(k, _)| k.trim().trim_matches('"'))?;
        let table = lines[..line - 1]
            .iter()
            .rev()
            .map(|l| l.trim())
            .find(|l| l.starts_with('['))
            .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
        Some(match table {
            Some(table) => format!("{table}.{key}"),
            None => key.to_owned(),
        })
    }

    /// toml's error located, then toml's own rendering of the spot; `keyed`: an error in the
    /// data (not the syntax), so the key on that line is named.
    fn toml_error(&self, e: &toml::de::Error, keyed: bool) -> Invalid {
        match e.span() {
            Some(span) => {
                let mut invalid = self.at(span, None, keyed, e.message().trim());
                invalid.0.push_str(&format!("\n{e}"));
                invalid
            }
            None => Invalid(format!("config file {}: {e}", self.path.display())),
        }
    }

    /// The preset with the `[protocol]` keys over it, each checked where it is written.
    fn protocol(
        &self,
        preset: Preset,
        keys: &BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    ) -> Result<Config, Invalid> {
        let field = |key: &Spanned<String>| format!("protocol.{}", key.get_ref());
        let mut table = toml::Table::try_from(preset.config())
            .map_err(|e| Invalid(format!("preset {preset:?}: {e}")))?;
        for (key, value) in keys {
            let one = toml::Table::from_iter([(key.get_ref().clone(), value.get_ref().clone())]);
            if let Err(e) = one.try_into::<Config>() {
                let span = if e.message().contains("unknown field") {
                    key.span()
                } else {
                    value.span()
                };
                return Err(self.at(span, Some(&field(key)), true, e.message().trim()));
            }
            table.insert(key.get_ref().clone(), value.get_ref().clone());
        }
        let config: Config = table.try_into().map_err(|e: toml::de::Error| {
            Invalid(format!("config file {}: {e}", self.path.display()))
        })?;
        config.validate().map_err(|e| {
            match keys.iter().find(|(k, _)| k.get_ref() == e.field) {
                Some((key, value)) => self.at(value.span(), Some(&field(key)), true, &e.reason),
                // A field the file did not set: the preset's value conflicts with one it did.
                None => Invalid(format!(
                    "config file {}: [protocol] {} (value of preset {preset:?}): {}",
                    self.path.display(),
                    e.field,
                    e.reason
                )),
            }
        })?;
        Ok(config)
    }
}

/// Base64 keys, one a line (blank lines and `#` comments skipped); the first is primary.
fn read_keys(path: &Path) -> Result<Keyring, Invalid> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Invalid(format!("cannot read key file {}: {e}", path.display())))?;
    let mut keyring: Option<Keyring> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: &dyn fmt::Display| {
            Invalid(format!("key file {}, line {}: {e}", path.display(), n + 1))
        };
        let key = Key::from_base64(line).map_err(|e| at(&e))?;
        match &mut keyring {
            None => keyring = Some(Keyring::new(key)),
            Some(ring) => ring.install(key).map_err(|e| at(&e))?,
        }
    }
    keyring.ok_or_else(|| Invalid(format!("key file {}: no key in it", path.display())))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The example shipped with the crate and quoted in docs/agent.md.
    const EXAMPLE: &str = include_str!("../../../examples/agent.toml");

    fn load(text: &str, args: RunArgs) -> Result<Settings, Invalid> {
        let dir = std::env::temp_dir().join(format!("swim-agent-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // One file per call: the tests run in parallel.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{n}.toml"));
        std::fs::write(&path, text).unwrap();
        let result = Settings::load(RunArgs {
            config: Some(path.clone()),
            ..args
        });
        std::fs::remove_file(&path).unwrap();
        result
    }

    /// Without `--loss-seed`, agents on different addresses draw different drops and a rerun
    /// on the same address draws the same ones.
    #[test]
    fn loss_seeds_follow_the_bind_address() {
        assert_eq!(seed_of("127.0.0.1:7946"), seed_of("127.0.0.1:7946"));
        assert_ne!(seed_of("127.0.0.1:7946"), seed_of("127.0.0.1:7947"));
        assert_ne!(seed_of("127.0.0.1:7946"), seed_of("10.0.0.1:7946"));
    }

    #[test]
    fn the_example_config_loads() {
        let settings = load(EXAMPLE, RunArgs::default()).unwrap();
        assert_eq!(settings.bind, "127.0.0.1:7946");
        assert_eq!(settings.http, "127.0.0.1:8946");
        assert_eq!(settings.config.probe_interval, Duration::from_millis(200));
        assert_eq!(settings.name.as_deref(), Some("a"));
        assert!(
            settings
                .meta
                .contains(&("role".to_owned(), "web".to_owned()))
        );
        // Keys the file does not set keep the preset's values.
        assert_eq!(
            settings.config.sync_interval,
            Preset::Local.config().sync_interval
        );
    }

    /// In the workspace; a published crate has no docs/ beside it and checks nothing here.
    #[test]
    fn docs_quote_the_example_config() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        if !root.join("Cargo.toml").exists() {
            return;
        }
        let docs = std::fs::read_to_string(root.join("docs/agent.md")).expect("docs/agent.md");
        assert!(
            docs.contains(EXAMPLE.trim()),
            "docs/agent.md must quote impl/examples/agent.toml verbatim"
        );
    }

    #[test]
    fn flags_override_the_file() {
        let settings = load(
            EXAMPLE,
            RunArgs {
                bind: Some("127.0.0.1:0".into()),
                name: Some("z".into()),
                seeds: vec!["127.0.0.1:9".into()],
                preset: Some(Preset::Wan),
                ..RunArgs::default()
            },
        )
        .unwrap();
        assert_eq!(settings.bind, "127.0.0.1:0");
        assert_eq!(settings.seeds, ["127.0.0.1:9"]);
        assert_eq!(settings.name.as_deref(), Some("z"));
        // The file's [protocol] keys still apply over the flag's preset.
        assert_eq!(settings.config.probe_interval, Duration::from_millis(200));
        assert_eq!(
            settings.config.sync_interval,
            Preset::Wan.config().sync_interval
        );
    }

    fn error(text: &str) -> String {
        load(text, RunArgs::default()).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_line_and_the_field() {
        let e = error("name = \"a\"\nbnid = \"x\"\n");
        assert!(e.contains("line 2") && e.contains("`bnid`"), "{e}");

        let e = error("bind = \"127.0.0.1:0\"\nadvertise = \"nowhere\"\n");
        assert!(
            e.contains("line 2") && e.contains("field `advertise`"),
            "{e}"
        );

        let e = error("preset = \"local\"\n\n[protocol]\nprobe_interval = \"fast\"\n");
        assert!(
            e.contains("line 4") && e.contains("field `protocol.probe_interval`"),
            "{e}"
        );

        let e = error("[protocol]\nprobe_intervall = \"1s\"\n");
        assert!(
            e.contains("line 2") && e.contains("protocol.probe_intervall"),
            "{e}"
        );

        // Valid TOML, valid durations, but a timeout longer than the period.
        let e = error("[protocol]\nprobe_interval = \"1s\"\nprobe_timeout = \"2s\"\n");
        assert!(
            e.contains("line 3") && e.contains("protocol.probe_timeout"),
            "{e}"
        );

        let e = error("seeds = [\"a:1\"\nname = \"a\"\n");
        assert!(e.contains("line 2") && !e.contains("field"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let e = Settings::load(RunArgs {
            config: Some("/nonexistent/agent.toml".into()),
            ..RunArgs::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("/nonexistent/agent.toml"), "{e}");
    }

    #[test]
    fn key_files_name_the_bad_line() {
        let dir = std::env::temp_dir().join(format!("swim-agent-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("keys");
        let good = Key::generate().unwrap().to_base64();
        std::fs::write(&path, format!("# primary\n{good}\nnot-a-key\n")).unwrap();
        let e = read_keys(&path).unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
        std::fs::write(&path, format!("{good}\n")).unwrap();
        assert_eq!(read_keys(&path).unwrap().keys().len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
