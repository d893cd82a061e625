//! Protobuf requests through the service layer: any bytes as the request
//! message of any RPC, framed as gRPC and sent in-process through the gate
//! and the handlers (`server::in_process`, the path the REST transcoder
//! uses) to a real `Idm` over a temporary SQLite database, with no token,
//! a garbage token or an admin's token. Whatever the bytes, the answer is
//! a gRPC status the caller can act on: never INTERNAL or UNKNOWN.

use std::sync::{Arc, Mutex, OnceLock};

use bytes::{BufMut, BytesMut};
use http_body_util::BodyExt;
use mcias_core::clock::{OsRandom, SystemClock};
use mcias_core::config::Config;
use mcias_core::crypto::password::PoolSize;
use mcias_core::idm::{Caller, Idm, KeySource};
use mcias_server::api::rest::RestState;
use mcias_server::api::server;
use tower::ServiceExt;
use zeroize::Zeroizing;

struct World {
    rt: tokio::runtime::Runtime,
    idm: Arc<Idm>,
    state: RestState,
    /// gRPC paths of every mcias.v1 RPC, sorted.
    paths: Vec<String>,
    admin_password: Zeroizing<String>,
    admin_token: Mutex<String>,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let keyfile = dir.path().join("master.key");
        mcias_core::crypto::master::create_keyfile(&keyfile, &OsRandom).expect("keyfile");
        let text = format!(
            r#"
[server]
listen_addr = "127.0.0.1:0"
insecure_plaintext = true
public_url = "https://mcias.fuzz"
[database]
path = "{}"
[master_key]
keyfile = "{}"
[tokens]
access_ttl = "1h"
[argon2]
memory_kib = 19456
time = 2
parallelism = 1
"#,
            dir.path().join("mcias.db").display(),
            keyfile.display()
        );
        let config = Config::parse(&text).expect("config");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let (idm, admin_password) = rt.block_on(async {
            let idm = Idm::open(
                &config,
                KeySource::from_config(&config).expect("key source"),
                Arc::new(SystemClock),
                Arc::new(OsRandom),
                PoolSize {
                    workers: 1,
                    queue: 4,
                },
            )
            .await
            .expect("idm");
            let pw = idm
                .ensure_admin("admin")
                .await
                .expect("admin")
                .expect("new admin");
            (Arc::new(idm), pw)
        });
        let state = server::in_process(&config, idm.clone()).expect("services");
        let pool = prost_reflect::DescriptorPool::decode(mcias_proto::FILE_DESCRIPTOR_SET)
            .expect("descriptors");
        let mut paths: Vec<String> = pool
            .services()
            .filter(|s| s.package_name() == "mcias.v1")
            .flat_map(|s| {
                s.methods()
                    .map(|m| format!("/{}/{}", s.full_name(), m.name()))
                    .collect::<Vec<_>>()
            })
            .collect();
        paths.sort();
        let w = World {
            rt,
            idm,
            state,
            paths,
            admin_password,
            admin_token: Mutex::new(String::new()),
            _dir: dir,
        };
        w.fresh_admin_token();
        w
    })
}

fn pw_clone(p: &Zeroizing<String>) -> Zeroizing<String> {
    Zeroizing::new(p.as_str().to_owned())
}

impl World {
    /// Logs the admin in again (a fuzzed Logout, RenewToken or
    /// SignOutEverywhere may have ended the token).
    fn fresh_admin_token(&self) -> String {
        let caller = Caller {
            principal: None,
            peer: Some("127.0.0.1:1".into()),
        };
        let issued = self
            .rt
            .block_on(
                self.idm
                    .login(&caller, "admin", pw_clone(&self.admin_password), ""),
            )
            .expect("admin login");
        let token = issued.token.as_str().to_owned();
        *self.admin_token.lock().expect("lock") = token.clone();
        token
    }

    fn admin_token(&self) -> String {
        let token = self.admin_token.lock().expect("lock").clone();
        if self.idm.authenticate(&token).is_ok() {
            token
        } else {
            self.fresh_admin_token()
        }
    }
}

/// Input: one byte choosing the RPC, one choosing the credential (none,
/// garbage, admin), then the request message's bytes.
pub fn run(data: &[u8]) {
    let [pick, cred, body @ ..] = data else {
        return;
    };
    let w = world();
    let path = &w.paths[usize::from(*pick) % w.paths.len()];
    let mut frame = BytesMut::with_capacity(5 + body.len());
    frame.put_u8(0);
    frame.put_u32(u32::try_from(body.len()).unwrap_or(u32::MAX));
    frame.put_slice(body);
    let mut req = http::Request::builder()
        .method(http::Method::POST)
        .uri(path.as_str())
        .header(http::header::CONTENT_TYPE, "application/grpc")
        .header("te", "trailers");
    match cred % 3 {
        0 => {}
        1 => req = req.header(http::header::AUTHORIZATION, "Bearer not.a.token"),
        _ => {
            req = req.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", w.admin_token()),
            )
        }
    }
    let req = req
        .body(tonic::body::Body::new(http_body_util::Full::new(
            frame.freeze(),
        )))
        .expect("request");
    let status = w.rt.block_on(async {
        let res = match w.state.grpc.clone().oneshot(req).await {
            Ok(r) => r,
            Err(never) => match never {},
        };
        if let Some(s) = tonic::Status::from_header_map(res.headers()) {
            return s;
        }
        let collected = res.into_body().collect().await.expect("answer body");
        collected
            .trailers()
            .and_then(tonic::Status::from_header_map)
            .unwrap_or_else(|| tonic::Status::ok(""))
    });
    assert!(
        !matches!(status.code(), tonic::Code::Internal | tonic::Code::Unknown),
        "{path} answered {status:?} to {body:?}"
    );
}
