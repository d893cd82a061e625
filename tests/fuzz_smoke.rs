//! The fuzz targets (`fuzz/targets/`) as a plain test, for `make
//! fuzz-smoke` on any toolchain: every target runs over its committed seed
//! corpus (`fuzz/corpus/<target>/`) and then over inputs mutated from it by
//! a seeded generator (the seed is printed; `MCIAS_FUZZ_SEED=<n>` replays
//! it, `MCIAS_FUZZ_RUNS=<n>` changes how many). Coverage-guided runs are
//! `make fuzz` (cargo-fuzz, libFuzzer); this checks, in seconds, that no
//! seed and no near neighbour of one panics. Declared `test = false` in
//! Cargo.toml: `cargo test --workspace` leaves it to `make fuzz-smoke`.

#[path = "../fuzz/targets/mod.rs"]
mod targets;

use std::path::Path;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that often matter to parsers.
const INTERESTING: &[&[u8]] = &[
    b"\0",
    b"\xff",
    b"\xc3\x28",
    b"%",
    b"%00",
    b"%ff",
    b".",
    b"..",
    b"/",
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b"\\u0000",
    b"=",
    b"&",
    b"$",
    b",",
    b"-1",
    b"0",
    b"9223372036854775807",
    b"18446744073709551616",
    b"1e309",
    b"NaN",
    b"true",
    b"null",
    b"{}",
    b"[]",
    b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
];

/// A mutation of `input`, or a splice of it with `other`.
fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                let n = 1 + rng.below(8.min(v.len() - i));
                v.drain(i..i + n);
            }
            3 => {
                let i = rng.below(v.len() + 1);
                let word = INTERESTING[rng.below(INTERESTING.len())];
                v.splice(i..i, word.iter().copied());
            }
            4 if !other.is_empty() => {
                let cut = rng.below(v.len() + 1);
                let from = rng.below(other.len());
                v.truncate(cut);
                v.extend_from_slice(&other[from..]);
            }
            5 if !v.is_empty() => {
                // Repeat a slice: long inputs, deep nesting.
                let i = rng.below(v.len());
                let n = 1 + rng.below(16.min(v.len() - i));
                let piece = v[i..i + n].to_vec();
                for _ in 0..rng.below(64) {
                    v.splice(i..i, piece.iter().copied());
                }
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn every_fuzz_target_survives_its_corpus_and_mutations() {
    let seed: u64 = std::env::var("MCIAS_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let runs: usize = std::env::var("MCIAS_FUZZ_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    println!(
        "fuzz smoke: seed {seed} (MCIAS_FUZZ_SEED={seed} replays it), {runs} mutations a target"
    );
    for (name, run) in targets::TARGETS {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "{name} has no seed corpus");
        for s in &seeds {
            run(s);
        }
        // The service target hashes passwords (Argon2id) for some RPCs:
        // fewer of its runs.
        let n = if *name == "grpc_service" {
            runs / 20
        } else {
            runs
        };
        let mut rng = Rng(seed ^ name.len() as u64);
        for i in 0..n {
            let a = &seeds[rng.below(seeds.len())];
            let b = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, a, b);
            let outcome = std::panic::catch_unwind(|| run(&input));
            if outcome.is_err() {
                panic!(
                    "fuzz target {name} panicked on mutation {i} (seed {seed}); input: {input:?}"
                );
            }
        }
        println!("{name}: {} seeds, {n} mutations", seeds.len());
    }
}

/// Writes the seed corpora (small, committed): `cargo test --test
/// fuzz_smoke -- --ignored write_seed_corpus`. Seeds that need keys (signed
/// tokens, sealed values, TOTP codes, protobuf requests) are made here with
/// the targets' own fixed keys.
#[test]
#[ignore = "regenerates fuzz/corpus"]
fn write_seed_corpus() {
    use mcias_core::crypto::jwt;
    use mcias_core::crypto::password::{self, Argon2Params};
    use mcias_core::crypto::{b64url, seal, totp};
    use mcias_proto as pb;
    use prost::Message;

    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let join = |parts: &[&[u8]]| parts.join(&0xFFu8);

    // jwt: a valid access token, an ID token of each algorithm, and
    // classic forgeries.
    let k = targets::jwt::keys();
    let now = targets::jwt::NOW;
    let claims = jwt::Claims {
        iss: targets::jwt::ISSUER.into(),
        sub: "acct-1".into(),
        aud: targets::jwt::AUDIENCE.into(),
        iat: now - 10,
        nbf: now - 10,
        exp: now + 3600,
        jti: "0b4c6f7e-1d2a-4c55-9a57-0f1d7e1c2b3a".into(),
        roles: vec!["admin".into()],
        typ: "human".into(),
        uv: 1,
    };
    let access = jwt::sign(&claims, &k.ed, &k.ed_kid);
    write("jwt", "access", access.as_bytes());
    let id = serde_json::json!({"iss": targets::jwt::ISSUER, "sub": "acct-1", "aud": "app", "exp": now + 60, "iat": now, "nonce": "n"});
    let ed = jwt::PrivateKey::EdDsa(k.ed.clone());
    write(
        "jwt",
        "id-eddsa",
        jwt::sign_json(&id, &ed, &k.ed_kid, "JWT")
            .unwrap()
            .as_bytes(),
    );
    let rsa = jwt::PrivateKey::Rs256(
        mcias_core::crypto::rsa::RsaSigningKey::from_pkcs8(&k.rsa_der).unwrap(),
    );
    write(
        "jwt",
        "id-rs256",
        jwt::sign_json(&id, &rsa, &k.rsa_kid, "JWT")
            .unwrap()
            .as_bytes(),
    );
    let (_, body) = access.split_once('.').unwrap();
    let (payload, _) = body.split_once('.').unwrap();
    for (name, header) in [
        ("alg-none", serde_json::json!({"alg": "none", "typ": "JWT"})),
        (
            "hs256",
            serde_json::json!({"alg": "HS256", "kid": k.ed_kid}),
        ),
        (
            "crit",
            serde_json::json!({"alg": "EdDSA", "kid": k.ed_kid, "crit": ["b64"], "b64": false}),
        ),
        (
            "jku",
            serde_json::json!({"alg": "EdDSA", "kid": "../../etc/passwd", "jku": "https://127.0.0.1/jwks"}),
        ),
    ] {
        let h = b64url(header.to_string().as_bytes());
        write("jwt", name, format!("{h}.{payload}.AAAA").as_bytes());
    }

    // rest_binding: method index (GET, POST, PUT, PATCH, DELETE), path,
    // query, body, content type.
    for (name, m, path, query, body) in [
        (
            "login",
            1u8,
            "/v1/auth/login",
            "",
            r#"{"username":"admin","password":"pw","totpCode":""}"#,
        ),
        (
            "accounts-list",
            0,
            "/v1/accounts",
            "page_size=2&pageToken=abc",
            "",
        ),
        (
            "account-get",
            0,
            "/v1/accounts/0190a0b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
            "",
            "",
        ),
        (
            "account-patch",
            3,
            "/v1/accounts/x%2Fy",
            "update_mask=status",
            r#"{"status":"ACCOUNT_STATUS_SUSPENDED"}"#,
        ),
        (
            "roles-put",
            2,
            "/v1/accounts/abc/roles",
            "",
            r#"{"roles":["admin","reader"]}"#,
        ),
        (
            "pgcreds-put",
            2,
            "/v1/accounts/abc/pgcreds",
            "",
            r#"{"host":"db","port":5432,"database":"d","username":"u","password":"p"}"#,
        ),
        (
            "audit",
            0,
            "/v1/audit/events",
            "account_id=a&event_type=login_failure&since=2024-01-01T00:00:00Z&page_size=500",
            "",
        ),
        (
            "profile",
            3,
            "/v1/accounts/abc/profile",
            "",
            r#"{"profile":{"email":"a@b.c"},"updateMask":"email"}"#,
        ),
        (
            "client",
            1,
            "/v1/clients",
            "",
            r#"{"clientId":"app","name":"App","redirectUris":["https://app/cb"],"grantTypes":["authorization_code"]}"#,
        ),
        ("revoke-key", 1, "/v1/keys/-kid/revoke", "", ""),
        (
            "validate",
            1,
            "/v1/tokens/validate",
            "",
            r#"{"token":"a.b.c"}"#,
        ),
        ("health", 0, "/v1/health", "", ""),
    ] {
        write(
            "rest_binding",
            name,
            &[
                &[m][..],
                &join(&[
                    path.as_bytes(),
                    query.as_bytes(),
                    body.as_bytes(),
                    b"application/json",
                ]),
            ]
            .concat(),
        );
    }

    // config: the shape the tests use, and the shipped examples.
    let cfg = r#"[server]
listen_addr = "127.0.0.1:8443"
public_url = "https://mcias.example.com"
tls_cert = "server.pem"
tls_key = "server-key.pem"
max_message_bytes = 65536
cors_allowed_origins = ["https://app.example.com"]
[database]
path = "mcias.db"
[master_key]
keyfile = "master.key"
[tokens]
access_ttl = "1h"
refresh_grace = "10s"
signing_key_lead = "5m"
[argon2]
memory_kib = 19456
time = 2
parallelism = 1
[rate_limit]
requests_per_second = 10
burst = 20
[log]
level = "info"
format = "json"
"#;
    write("config", "full", cfg.as_bytes());
    for example in ["mcias.conf.example", "mcias-dev.conf.example"] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("dist")
            .join(example);
        write("config", example, &std::fs::read(p).unwrap());
    }

    // phc: password length, password, PHC string; one small enough to
    // verify, one with the server's parameters.
    let rng = mcias_core::clock::SeededRandom::new(1);
    for (name, m, t) in [("small", 64, 1), ("server", 19456, 2)] {
        let params = password::params(&Argon2Params {
            memory_kib: m,
            time: t,
            parallelism: 1,
        })
        .unwrap();
        let phc = password::hash_blocking(&params, rng.as_ref(), b"pw").unwrap();
        write("phc", name, &[&[2u8][..], b"pw", phc.as_bytes()].concat());
    }
    write(
        "phc",
        "bcrypt",
        b"\x02pw$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
    );

    // seal: table, column, row, sealed value.
    let key = seal::MasterKey::from_bytes([7; 32]);
    let aad = seal::Aad::new("signing_keys", "private_key_sealed", "kid-1");
    let sealed = seal::seal(&key, rng.as_ref(), aad, b"a private key").unwrap();
    write(
        "seal",
        "signing-key",
        &join(&[b"signing_keys", b"private_key_sealed", b"kid-1", &sealed]),
    );
    write("seal", "empty", &join(&[b"t", b"c", b"r", b""]));

    // totp: now (LE), last step (LE), code.
    let secret = b"12345678901234567890";
    let t: i64 = 1_800_000_000;
    let code = totp::code_at(secret, t);
    let seed = |now: i64, last: i64, code: &str| {
        [&now.to_le_bytes()[..], &last.to_le_bytes(), code.as_bytes()].concat()
    };
    write("totp", "current", &seed(t, 0, &code));
    write("totp", "replay", &seed(t, totp::step_at(t), &code));
    write("totp", "spaces", &seed(t, i64::MIN, &format!(" {code} ")));
    write("totp", "letters", &seed(-1, i64::MAX, "12a456"));

    // grpc_service: RPC index (sorted gRPC paths), credential (0 none, 1
    // garbage, 2 admin), request message.
    let pool = prost_reflect::DescriptorPool::decode(mcias_proto::FILE_DESCRIPTOR_SET).unwrap();
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
    let idx = |name: &str| {
        paths
            .iter()
            .position(|p| p.ends_with(&format!("/{name}")))
            .unwrap() as u8
    };
    let msgs: Vec<(&str, u8, Vec<u8>)> = vec![
        (
            "Login",
            0,
            pb::LoginRequest {
                username: "admin".into(),
                password: "wrong".into(),
                totp_code: String::new(),
            }
            .encode_to_vec(),
        ),
        (
            "CreateAccount",
            2,
            pb::CreateAccountRequest {
                username: "fuzz".into(),
                account_type: 1,
                password: "a long enough password".into(),
            }
            .encode_to_vec(),
        ),
        (
            "ListAccounts",
            2,
            pb::ListAccountsRequest {
                page_size: 3,
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "SetRoles",
            2,
            pb::SetRolesRequest {
                account_id: "nobody".into(),
                roles: vec!["reader".into()],
            }
            .encode_to_vec(),
        ),
        (
            "ValidateToken",
            1,
            pb::ValidateTokenRequest {
                token: access.clone(),
            }
            .encode_to_vec(),
        ),
        (
            "IntrospectToken",
            2,
            pb::IntrospectTokenRequest {
                token: access.clone(),
                token_type_hint: String::new(),
            }
            .encode_to_vec(),
        ),
        (
            "ListAuditEvents",
            2,
            pb::ListAuditEventsRequest {
                page_size: 5,
                event_type: "login_failure".into(),
                ..Default::default()
            }
            .encode_to_vec(),
        ),
        (
            "GetPgCreds",
            2,
            pb::GetPgCredsRequest {
                account_id: "x".into(),
            }
            .encode_to_vec(),
        ),
        (
            "RefreshToken",
            0,
            pb::RefreshTokenRequest {
                refresh_token: "k1.AAAA".into(),
            }
            .encode_to_vec(),
        ),
        ("Health", 0, Vec::new()),
    ];
    for (name, cred, body) in msgs {
        write(
            "grpc_service",
            name,
            &[&[idx(name), cred][..], &body].concat(),
        );
    }
}
