//! End-to-end tests live in `tests/`; the agent binary is `impl/examples/agent.rs`.
