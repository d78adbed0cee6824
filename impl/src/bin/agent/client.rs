//! The client subcommands (`members`, `events`, `broadcast`): HTTP/1 requests to a running
//! agent's API, with hyper's client (already in the tree under axum).

use std::fmt::Write as _;

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::api::{ApiError, BroadcastRequest, Entry, MemberJson};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// One request on a fresh connection; the response's status and body stream.
async fn send(
    agent: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<hyper::Response<hyper::body::Incoming>, Error> {
    let stream = TcpStream::connect(agent)
        .await
        .map_err(|e| format!("cannot reach the agent at {agent}: {e} (is it running? --http)"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{agent}: {e}"))?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, agent)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("{agent}{path}: {e}"))?;
    Ok(response)
}

/// The whole body of a successful response; an error carries the API's message.
async fn fetch(
    agent: &str,
    method: &str,
    path: &str,
    body: Option<String>,
) -> Result<Bytes, Error> {
    let response = send(agent, method, path, body).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        let message = serde_json::from_slice::<ApiError>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        return Err(format!("{agent}{path}: {status}: {message}").into());
    }
    Ok(bytes)
}

pub async fn members(agent: &str, json: bool) -> Result<(), Error> {
    let bytes = fetch(agent, "GET", "/v1/members", None).await?;
    if json {
        println!("{}", String::from_utf8_lossy(&bytes));
        return Ok(());
    }
    let members: Vec<MemberJson> = serde_json::from_slice(&bytes)?;
    print!("{}", table(&members));
    Ok(())
}

/// The member table as aligned text, the agent itself marked `*`.
fn table(members: &[MemberJson]) -> String {
    let mut out = format!(
        "  {:<12} {:<16} {:<21} {:<11} {:>5}  META\n",
        "NAME", "ID", "ADDR", "STATUS", "INC"
    );
    for m in members {
        let meta: Vec<String> = m
            .meta
            .iter()
            .filter(|(k, _)| *k != "name")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "{} {:<12} {:<16} {:<21} {:<11} {:>5}  {}",
            if m.local { "*" } else { " " },
            m.name.as_deref().unwrap_or("-"),
            m.id,
            m.addr,
            m.status,
            m.incarnation,
            if meta.is_empty() {
                "-".to_owned()
            } else {
                meta.join(",")
            },
        );
    }
    out
}

pub async fn broadcast(agent: &str, text: String) -> Result<(), Error> {
    let body = serde_json::to_string(&BroadcastRequest { text })?;
    fetch(agent, "POST", "/v1/broadcast", Some(body)).await?;
    Ok(())
}

/// Follow the SSE feed, printing the recent log then one line per entry, until the agent
/// goes away (exit status 0).
pub async fn events(agent: &str) -> Result<(), Error> {
    let response = send(agent, "GET", "/v1/events", None).await?;
    if !response.status().is_success() {
        return Err(format!("{agent}/v1/events: {}", response.status()).into());
    }
    let mut body = response.into_body();
    let mut buffer = String::new();
    while let Some(frame) = body.frame().await {
        // The agent stopped (or restarted): the end of the feed, not a failure of this command.
        let Ok(frame) = frame else {
            eprintln!("swim-agent: the agent at {agent} closed the feed");
            break;
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buffer.push_str(&String::from_utf8_lossy(&data));
        // Events end with a blank line.
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            print_event(&event)?;
        }
    }
    Ok(())
}

fn print_event(event: &str) -> Result<(), Error> {
    let field = |name: &str| {
        event
            .lines()
            .filter_map(|l| l.strip_prefix(name))
            .map(|v| v.strip_prefix(' ').unwrap_or(v))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let data = field("data:");
    match field("event:").as_str() {
        "snapshot" => {
            let snapshot: crate::api::Snapshot = serde_json::from_str(&data)?;
            for entry in &snapshot.log {
                println!("{}", entry.line());
            }
        }
        "entry" => println!("{}", serde_json::from_str::<Entry>(&data)?.line()),
        _ => {} // keep-alive comments
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_marks_the_agent_and_lists_metadata() {
        let member = MemberJson {
            id: "00000000000000ff".into(),
            generation: 0,
            name: Some("a".into()),
            addr: "127.0.0.1:7946".into(),
            status: "alive".into(),
            incarnation: 3,
            meta: [("name".into(), "a".into()), ("role".into(), "db".into())].into(),
            local: true,
            last_change: None,
        };
        let text = table(&[member]);
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("* a "), "{row}");
        assert!(row.ends_with("role=db"), "{row}");
    }
}
