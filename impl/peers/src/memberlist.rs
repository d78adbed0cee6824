//! memberlist through a small Go harness (`go/memberlist_harness.go`), built offline in GOPATH
//! mode from Debian's packaged sources (`golang-go`, `golang-github-hashicorp-memberlist-dev`)
//! the first time a run needs it. Where either is missing the run skips memberlist and says so.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Debian's GOPATH and the memberlist sources in it.
const GOPATH: &str = "/usr/share/gocode";
const MEMBERLIST: &str = "/usr/share/gocode/src/github.com/hashicorp/memberlist";
const SOURCE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/go/memberlist_harness.go");

/// Build the harness next to this binary; its path, or why memberlist is skipped.
pub(crate) fn build() -> Result<PathBuf, String> {
    let go_ok = Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !go_ok {
        return Err("`go` not found (apt-get install golang-go)".into());
    }
    if !Path::new(MEMBERLIST).is_dir() {
        return Err(format!(
            "{MEMBERLIST} missing (apt-get install golang-github-hashicorp-memberlist-dev)"
        ));
    }
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let dir = exe.parent().ok_or("own directory")?;
    let out = dir.join("peers-memberlist");
    let output = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(SOURCE)
        .env("GOPATH", GOPATH)
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .env("GOCACHE", dir.join("go-build-cache"))
        .output()
        .map_err(|e| format!("go build: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "go build of {SOURCE} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(out)
}
