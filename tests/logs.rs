//! Log capture: after the security-relevant flows, no password, token, TOTP
//! secret, stored credential or key appears in any log line.

use mcias_testkit as common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{TestServer, authed};
use mcias_core::clock::Clock;
use mcias_proto::{self as pb, AccountType};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let s = TestServer::start().await;
    let pw = "user password 12345";
    let admin = s.admin_token().await;
    let id = s.create(&admin, "logan", AccountType::Human, pw).await;
    let svc = s.create(&admin, "svc-logs", AccountType::System, "").await;
    let user = s.login("logan", pw).await;
    let _ = s.try_login("logan", "a wrong password value", "").await;

    let e = s
        .auth()
        .await
        .enroll_totp(authed(pb::EnrollTotpRequest {}, &user))
        .await
        .unwrap()
        .into_inner();
    let secret = data_encoding::BASE32_NOPAD
        .decode(e.secret.as_bytes())
        .unwrap();
    let code = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    s.auth()
        .await
        .confirm_totp(authed(pb::ConfirmTotpRequest { code: code.clone() }, &user))
        .await
        .unwrap();
    s.clock.advance(30);
    let code2 = mcias_core::crypto::totp::code_at(&secret, s.clock.now());
    let user2 = s.try_login("logan", pw, &code2).await.unwrap();

    let pg_pw = "pg-password-in-the-vault";
    s.accounts()
        .await
        .set_pg_creds(authed(
            pb::SetPgCredsRequest {
                account_id: id.clone(),
                host: "db".into(),
                port: 5432,
                database: "d".into(),
                username: "u".into(),
                password: pg_pw.into(),
            },
            &admin,
        ))
        .await
        .unwrap();
    s.accounts()
        .await
        .get_pg_creds(authed(
            pb::GetPgCredsRequest {
                account_id: id.clone(),
            },
            &user2,
        ))
        .await
        .unwrap();
    let new_pw = "the new user password";
    s.auth()
        .await
        .change_password(authed(
            pb::ChangePasswordRequest {
                current_password: pw.into(),
                new_password: new_pw.into(),
            },
            &user2,
        ))
        .await
        .unwrap();
    let service = s
        .tokens()
        .await
        .issue_service_token(authed(
            pb::IssueServiceTokenRequest { account_id: svc },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .token;
    // The password change signed the user out everywhere; log in again,
    // refresh, and renew.
    let again = s
        .auth()
        .await
        .login(pb::LoginRequest {
            username: "logan".into(),
            password: new_pw.into(),
            totp_code: mcias_core::crypto::totp::code_at(&secret, s.clock.now() + 30),
        })
        .await
        .unwrap()
        .into_inner();
    let refreshed = s
        .auth()
        .await
        .refresh_token(pb::RefreshTokenRequest {
            refresh_token: again.refresh_token.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    s.auth()
        .await
        .renew_token(authed(pb::RenewTokenRequest {}, &refreshed.token))
        .await
        .unwrap();
    s.auth()
        .await
        .logout(authed(pb::LogoutRequest {}, &admin))
        .await
        .unwrap();
    // A rejected token is logged as rejected, not printed.
    let _ = s
        .accounts()
        .await
        .list_accounts(authed(pb::ListAccountsRequest::default(), &user))
        .await;
    let keyfile = std::fs::read_to_string(common::keyfile_path(s.dir.path())).unwrap();
    let tls_key = std::fs::read_to_string(s.dir.path().join("server-key.pem")).unwrap();
    let mut s = s;
    s.stop().await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("/mcias.v1.AuthService/Login"),
        "the capture must see request logs"
    );
    assert!(logs.lines().count() > 20);
    let tls_key_body: String = tls_key
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let secrets: Vec<(&str, String)> = vec![
        ("admin password", s.admin_password.clone()),
        ("user password", pw.into()),
        ("wrong password", "a wrong password value".into()),
        ("new password", new_pw.into()),
        ("pg password", pg_pw.into()),
        ("totp secret", e.secret.clone()),
        ("admin token", admin.clone()),
        (
            "user token signature",
            user.rsplit('.').next().unwrap().into(),
        ),
        ("user token payload", user.split('.').nth(1).unwrap().into()),
        ("service token", service.clone()),
        ("refresh token", again.refresh_token.clone()),
        ("rotated refresh token", refreshed.refresh_token.clone()),
        ("master key", keyfile.trim().into()),
        ("tls key", tls_key_body.chars().take(40).collect()),
    ];
    for (what, value) in secrets {
        assert!(value.len() >= 8, "{what} is too short to search for");
        assert!(!logs.contains(&value), "{what} appears in the logs");
    }
}
