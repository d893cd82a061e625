//! Signing keys of both algorithms: Ed25519 (EdDSA, access tokens) and RSA
//! (RS256, OpenID Connect ID tokens) side by side in the keyring and the
//! JWKS, `sign_jwt`/`verify_jwt`, and the lead time: a rotated key is
//! published at once and signs only from `tokens.signing_key_lead` on,
//! switching without a restart; revocation and a missing key's creation
//! sign at once.

use mcias_core::crypto::b64url_decode;
use mcias_core::crypto::jwt::{self, JwtError};
use mcias_core::model::AccountType;
use mcias_core::model::SigningAlg::{EdDsa, Rs256};
use serde_json::{Value, json};

use crate::kit::{ADMIN_PASSWORD, Kit, Options};

/// The product's default lead time, in seconds.
const LEAD: i64 = 300;

fn part(token: &str, i: usize) -> Value {
    let raw = b64url_decode(token.split('.').nth(i).unwrap()).unwrap();
    serde_json::from_slice(&raw).unwrap()
}

fn kid_of(token: &str) -> String {
    jwt::peek_kid(token).unwrap()
}

fn published(k: &Kit) -> Vec<String> {
    k.idm.public_keys().into_iter().map(|j| j.kid).collect()
}

/// The kids that sign now: of a fresh access token, and of an RS256 JWT.
async fn signers(k: &Kit) -> (String, String) {
    let access = k.login("admin", ADMIN_PASSWORD).await.unwrap().token;
    let id = k
        .idm
        .signing_keys()
        .sign_jwt(Rs256, "JWT", &json!({"sub": "x"}))
        .unwrap();
    (kid_of(&access), kid_of(&id))
}

fn id_claims(k: &Kit) -> Value {
    json!({"iss": "https://mcias.test", "sub": k.admin.id, "aud": "app", "nonce": "n-0S6_WzA2Mj"})
}

#[tokio::test]
async fn both_algorithms_are_published_and_sign_and_verify() {
    let k = Kit::new().await;
    let jwks = k.idm.public_keys();
    assert_eq!(jwks.len(), 2, "{jwks:?}");
    let ed = jwks.iter().find(|j| j.kty == "OKP").unwrap();
    let rsa = jwks.iter().find(|j| j.kty == "RSA").unwrap();
    assert_eq!(
        (ed.alg, ed.use_, ed.crv, ed.n.is_none()),
        ("EdDSA", "sig", Some("Ed25519"), true)
    );
    assert_eq!(
        (rsa.alg, rsa.use_, rsa.e.as_deref(), rsa.x.is_none()),
        ("RS256", "sig", Some("AQAB"), true)
    );
    let n = b64url_decode(rsa.n.as_deref().unwrap()).unwrap();
    assert_eq!(n.len(), 256, "RSA-2048");
    // The JSON members a relying party reads.
    let v = serde_json::to_value(rsa).unwrap();
    let mut members: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);

    let keys = k.idm.signing_keys();
    let now = k.idm.now();
    for (alg, kid) in [(EdDsa, &ed.kid), (Rs256, &rsa.kid)] {
        assert_eq!(keys.signing_kid(alg), Some(kid.as_str()));
        let t = keys.sign_jwt(alg, "JWT", &id_claims(&k)).unwrap();
        assert_eq!(
            part(&t, 0),
            json!({"alg": alg.as_str(), "typ": "JWT", "kid": kid})
        );
        let claims = keys.verify_jwt(&t, now).unwrap();
        assert_eq!(Value::Object(claims), id_claims(&k));
    }

    // The access token's claims signed RS256 by our own RSA key are no
    // access token: access tokens are EdDSA only.
    let access_claims = part(&k.admin_token, 1);
    let rs = keys.sign_jwt(Rs256, "JWT", &access_claims).unwrap();
    assert!(k.idm.validate(&rs).is_none());
    assert!(!k.valid(&rs));
    // Signed EdDSA with RFC 9068's `typ`, they are.
    let at = keys.sign_jwt(EdDsa, "at+jwt", &access_claims).unwrap();
    assert!(k.valid(&at));

    // The RS256 header with the Ed25519 kid, and the other way round.
    let mut parts: Vec<String> = rs.split('.').map(str::to_owned).collect();
    for (alg, kid) in [("RS256", &ed.kid), ("EdDSA", &rsa.kid)] {
        parts[0] = mcias_core::crypto::b64url(
            json!({"alg": alg, "typ": "JWT", "kid": kid})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(
            keys.verify_jwt(&parts.join("."), now),
            Err(JwtError::KeyAlgorithm(alg.into()))
        );
    }
}

#[tokio::test]
async fn a_rotated_key_is_published_before_it_signs() {
    let mut k = Kit::new().await; // the default lead time, 5m
    let (old_ed, old_rs) = signers(&k).await;
    let id_before = k
        .idm
        .signing_keys()
        .sign_jwt(Rs256, "JWT", &id_claims(&k))
        .unwrap();
    let rotated_at = k.idm.now();
    let new = k.idm.rotate_signing_keys(&k.admin()).await.unwrap();
    assert!(new.eddsa != old_ed && new.rs256 != old_rs && new.eddsa != new.rs256);

    // Published at once, both algorithms, newest first.
    assert_eq!(
        published(&k),
        [
            new.rs256.clone(),
            new.eddsa.clone(),
            old_rs.clone(),
            old_ed.clone()
        ],
        "the new keys are published before they sign"
    );
    // The previous keys keep signing through the lead time.
    assert_eq!(signers(&k).await, (old_ed.clone(), old_rs.clone()));
    k.clock.advance(LEAD - 1);
    assert_eq!(signers(&k).await, (old_ed.clone(), old_rs.clone()));
    // A restart within it changes nothing.
    k.reopen().await;
    assert_eq!(signers(&k).await, (old_ed.clone(), old_rs.clone()));

    // When the time comes the new keys sign: no restart, no maintenance.
    k.clock.advance(1);
    assert_eq!(signers(&k).await, (new.eddsa.clone(), new.rs256.clone()));
    let fresh = k.login("admin", ADMIN_PASSWORD).await.unwrap().token;
    assert!(k.valid(&fresh));
    // What the previous keys signed still verifies.
    assert!(k.valid(&k.admin_token));
    let keys = k.idm.signing_keys();
    assert!(keys.verify_jwt(&id_before, k.idm.now()).is_ok());

    // Audited with the algorithm and the time each key signs from.
    let created = k.audit("signing_key_create").await;
    for (event, alg, kid) in [
        (&created[0], "RS256", &new.rs256),
        (&created[1], "EdDSA", &new.eddsa),
    ] {
        let d: Value = serde_json::from_str(&event.details).unwrap();
        assert_eq!(event.target_id.as_ref(), Some(kid));
        assert_eq!(d["alg"], alg);
        assert_eq!(d["active_from"], rotated_at + LEAD);
    }
}

#[tokio::test]
async fn revoking_during_the_lead_time_replaces_the_signer_at_once() {
    let k = Kit::new().await;
    k.account("alice", AccountType::Human, "alice's long password")
        .await;
    let admin = k.admin();
    let (old_ed, old_rs) = signers(&k).await;
    let new = k.idm.rotate_signing_keys(&admin).await.unwrap();

    // The Ed25519 key that signs now is superseded but still signing: its
    // revocation puts a new key in that signs at once.
    let r = k.idm.revoke_signing_key(&admin, &old_ed).await.unwrap();
    let ed_now = r.rotated_to.clone().unwrap();
    assert!(ed_now != old_ed && ed_now != new.eddsa);
    assert!(!k.valid(&k.admin_token), "its tokens stop at once");
    assert_eq!(signers(&k).await.0, ed_now);

    // The RSA key published ahead of its time is the active one: revoking
    // it, too, puts a new key in at once; the previous RSA key stops
    // signing but keeps verifying what it signed.
    let r = k.idm.revoke_signing_key(&admin, &new.rs256).await.unwrap();
    let rs_now = r.rotated_to.clone().unwrap();
    assert!(rs_now != old_rs && rs_now != new.rs256);
    assert_eq!(signers(&k).await, (ed_now.clone(), rs_now.clone()));
    let kids = published(&k);
    assert!(
        !kids.contains(&old_ed) && !kids.contains(&new.rs256),
        "{kids:?}"
    );
    assert!(kids.contains(&old_rs) && kids.contains(&rs_now));

    // After the lead time the overtaken Ed25519 key still never signs.
    k.clock.advance(LEAD + 1);
    assert_eq!(signers(&k).await, (ed_now, rs_now));
    let events = k.audit("signing_key_revoke").await;
    let algs: Vec<String> = events
        .iter()
        .map(|e| {
            let d: Value = serde_json::from_str(&e.details).unwrap();
            d["alg"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(algs, ["RS256", "EdDSA"]);
}

#[tokio::test]
async fn a_database_without_an_rsa_key_gets_one_at_start() {
    let mut k = Kit::new().await;
    let ed = k.idm.signing_keys().signing_kid(EdDsa).unwrap().to_owned();
    // As a database made before RSA keys: migration 0006 marked its keys
    // EdDSA, and there is no RSA key.
    let db = rusqlite::Connection::open(k.db_path()).unwrap();
    assert_eq!(
        db.execute("DELETE FROM signing_keys WHERE alg = 2", [])
            .unwrap(),
        1
    );
    drop(db);
    k.reopen().await;

    let keys = k.idm.signing_keys();
    assert_eq!(keys.signing_kid(EdDsa), Some(ed.as_str()), "kept");
    let rs = keys.signing_kid(Rs256).unwrap().to_owned();
    assert!(published(&k).contains(&rs));
    let t = keys.sign_jwt(Rs256, "JWT", &id_claims(&k)).unwrap();
    assert_eq!(kid_of(&t), rs, "it signs at once");
    assert!(keys.verify_jwt(&t, k.idm.now()).is_ok());
    assert!(k.valid(&k.admin_token));
    let created = k.audit("signing_key_create").await;
    let d: Value = serde_json::from_str(&created[0].details).unwrap();
    assert_eq!(
        (created[0].target_id.as_ref(), d["alg"].as_str()),
        (Some(&rs), Some("RS256"))
    );
}

#[tokio::test]
async fn automatic_rotation_rotates_both_algorithms() {
    let k = Kit::with(Options {
        tokens_extra: "signing_key_rotation = \"30d\"",
        ..Options::default()
    })
    .await;
    let before = signers(&k).await;
    k.idm.maintain_keys().await.unwrap();
    assert_eq!(published(&k).len(), 2, "not due yet");
    k.clock.advance(30 * 86_400);
    k.idm.maintain_keys().await.unwrap();
    assert_eq!(published(&k).len(), 4, "a new key of each algorithm");
    assert_eq!(signers(&k).await, before, "published ahead of signing");
    k.clock.advance(LEAD);
    let after = signers(&k).await;
    assert!(after.0 != before.0 && after.1 != before.1);
    // Not due again until a period after the new keys started signing.
    k.idm.maintain_keys().await.unwrap();
    assert_eq!(published(&k).len(), 4);
}
