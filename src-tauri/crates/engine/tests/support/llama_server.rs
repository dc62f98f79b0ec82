//! A real llama.cpp `llama-server` for tests (issue 17): built from the
//! same pinned source as scripts/llama-bench.sh (`LLAMA_TARGET=llama-server
//! bash scripts/llama-bench.sh --build-only`, which the test command runs;
//! cached in /var/tmp/lookahead), serving the tiny test model with four
//! parallel slots on a free port. A missing binary or model fails the test.
//! Shared by the engine's and the shell's tests (`#[path]` includes it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lookahead_engine::EngineConfig;
use lookahead_engine::{ServerConfig, ServerGenerator};
use lookahead_models::{self as models, Role};

/// The llama-server binary: `$LOOKAHEAD_LLAMA_SERVER`, else where
/// scripts/llama-bench.sh builds it.
fn server_binary() -> PathBuf {
    let path = std::env::var_os("LOOKAHEAD_LLAMA_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("LOOKAHEAD_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/var/tmp/lookahead"));
            cache.join("llama.cpp/build/bin/llama-server")
        });
    assert!(
        path.is_file(),
        "llama-server is not built at {}: run `LLAMA_TARGET=llama-server bash scripts/llama-bench.sh --build-only` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A llama-server on a free port, stopped when dropped.
pub struct Server {
    child: Child,
    pub url: String,
}

impl Server {
    pub fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let model = models::fetched(Role::Tiny).unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(server_binary())
            .args(["-m", &model.display().to_string()])
            .args(["-t", "1", "-c", "4096", "-np", "4", "--host", "127.0.0.1"])
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("llama-server starts");
        let url = format!("http://127.0.0.1:{port}");
        let server = Server { child, url };
        let until = Instant::now() + Duration::from_secs(60);
        while ServerGenerator::connect(&server.config()).is_err() {
            assert!(Instant::now() < until, "llama-server did not come up");
            std::thread::sleep(Duration::from_millis(200));
        }
        server
    }

    pub fn config(&self) -> ServerConfig {
        ServerConfig {
            url: self.url.clone(),
            model: None,
            api_key: None,
            openai_only: false,
        }
    }

    #[allow(dead_code)]
    pub fn engine_config(&self, with_draft: bool) -> EngineConfig {
        EngineConfig {
            target_server: Some(self.config()),
            draft_server: with_draft.then(|| self.config()),
            ..EngineConfig::new(PathBuf::new(), None)
                .with_embedding(models::path_for_role(Role::Embedding))
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}
