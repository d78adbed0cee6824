//! `swim-agent`: one SWIM + Lifeguard cluster member per process, configured by a TOML file
//! and flags, with a JSON API, a live dashboard and Prometheus metrics over HTTP, and client
//! subcommands for a running agent. See docs/agent.md.
//!
//! ```sh
//! swim-agent run --bind 127.0.0.1:7946 --http 127.0.0.1:8946 --name a --preset local
//! swim-agent run --bind 127.0.0.1:7947 --http 127.0.0.1:8947 --name b --preset local --seed 127.0.0.1:7946
//! swim-agent members --http 127.0.0.1:8947
//! swim-agent broadcast --http 127.0.0.1:8946 "hello"
//! ```

mod api;
mod cli;
mod client;
mod config;
mod http;
mod hub;
mod record;
mod run;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::config::Settings;

fn main() -> ExitCode {
    // Bad flags: clap prints the usage and exits with code 2.
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&format!("cannot start the runtime: {e}")),
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => run::run(Settings::load(*args)?).await,
            Command::Members { client, json } => client::members(&client.http, json).await,
            Command::Events { client } => client::events(&client.http).await,
            Command::Broadcast { client, text } => client::broadcast(&client.http, text).await,
            Command::Keygen => swim_checked::Key::generate()
                .map(|key| println!("{}", key.to_base64()))
                .map_err(Into::into),
        }
    });
    // Tasks still running (the HTTP server, a client's connection) are not waited for.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e.to_string()),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("swim-agent: error: {message}");
    ExitCode::FAILURE
}
