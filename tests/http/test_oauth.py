"""OAuth 2.0 with an off-the-shelf client library (authlib): the
client_credentials and refresh_token grants, introspection and revocation;
and a relying party (PyJWT + JWKS) across a signing-key rotation, whose new
keys are published ahead of signing."""

import ssl

import jwt
from authlib.integrations.requests_client import OAuth2Session


def admin_headers(server, token):
    return {"Authorization": f"Bearer {token}"}


def make_client(server, admin_token, name):
    s = server.session()
    r = s.post(
        f"{server.base}/v1/accounts",
        json={"username": name, "accountType": "ACCOUNT_TYPE_SYSTEM"},
        headers=admin_headers(server, admin_token),
    )
    assert r.status_code == 200, r.text
    account_id = r.json()["account"]["id"]
    r = s.post(
        f"{server.base}/v1/accounts/{account_id}/client-secret",
        json={},
        headers=admin_headers(server, admin_token),
    )
    assert r.status_code == 200, r.text
    return account_id, r.json()["clientSecret"]


def introspect(server, bearer, token):
    r = server.session().post(
        f"{server.base}/oauth2/introspect",
        data={"token": token},
        headers=admin_headers(server, bearer),
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_client_credentials_with_authlib(server):
    admin = server.login("admin", server.admin_password)
    discovery = server.session().get(f"{server.base}/.well-known/openid-configuration").json()
    assert "client_credentials" in discovery["grant_types_supported"]
    account_id, secret = make_client(server, admin, "authlib-client")

    client = OAuth2Session("authlib-client", secret, token_endpoint_auth_method="client_secret_basic")
    client.verify = server.ca
    client.trust_env = False
    token = client.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"].lower() == "bearer"
    assert token["expires_in"] > 0
    info = introspect(server, admin, token["access_token"])
    assert info["active"] is True and info["sub"] == account_id and info["typ"] == "system"

    # client_secret_post works too; a wrong secret is invalid_client.
    post = OAuth2Session("authlib-client", secret, token_endpoint_auth_method="client_secret_post")
    post.verify = server.ca
    post.trust_env = False
    assert post.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")["access_token"]
    bad = OAuth2Session("authlib-client", "not-the-secret", token_endpoint_auth_method="client_secret_basic")
    bad.verify = server.ca
    bad.trust_env = False
    try:
        bad.fetch_token(discovery["token_endpoint"], grant_type="client_credentials")
        raise AssertionError("a wrong secret must fail")
    except Exception as e:  # authlib raises OAuthError with the error code
        assert "invalid_client" in str(e)

    # Revocation (RFC 7009) of the access token.
    r = server.session().post(discovery["revocation_endpoint"], data={"token": token["access_token"]})
    assert r.status_code == 200
    assert introspect(server, admin, token["access_token"]) == {"active": False}


def test_refresh_with_authlib(server):
    admin = server.login("admin", server.admin_password)
    s = server.session()
    r = s.post(
        f"{server.base}/v1/accounts",
        json={"username": "authlib-user", "accountType": "ACCOUNT_TYPE_HUMAN", "password": "authlib user password"},
        headers=admin_headers(server, admin),
    )
    assert r.status_code == 200, r.text
    login = s.post(
        f"{server.base}/v1/auth/login",
        json={"username": "authlib-user", "password": "authlib user password"},
    ).json()
    endpoint = f"{server.base}/oauth2/token"
    client = OAuth2Session(
        "public-app",
        token_endpoint_auth_method="none",
        token={"access_token": login["token"], "refresh_token": login["refreshToken"], "token_type": "Bearer"},
    )
    client.verify = server.ca
    client.trust_env = False
    first = client.refresh_token(endpoint, refresh_token=login["refreshToken"])
    assert first["refresh_token"] != login["refreshToken"]
    assert introspect(server, admin, first["access_token"])["active"] is True
    assert introspect(server, admin, first["refresh_token"])["token_type"] == "refresh_token"
    second = client.refresh_token(endpoint, refresh_token=first["refresh_token"])
    assert introspect(server, admin, second["access_token"])["active"] is True

    # Revoking the refresh token revokes its family's access tokens.
    r = s.post(f"{server.base}/oauth2/revoke", data={"token": second["refresh_token"], "token_type_hint": "refresh_token"})
    assert r.status_code == 200
    assert introspect(server, admin, second["refresh_token"]) == {"active": False}
    assert introspect(server, admin, second["access_token"]) == {"active": False}


def test_pyjwt_across_a_signing_key_rotation(server):
    admin = server.login("admin", server.admin_password)
    before = server.login("admin", server.admin_password)
    r = server.session().post(f"{server.base}/v1/keys/rotate", json={}, headers=admin_headers(server, admin))
    assert r.status_code == 200, r.text
    new_kid = r.json()["kid"]
    after = server.login("admin", server.admin_password)
    published = server.session().get(f"{server.base}/.well-known/jwks.json").json()["keys"]
    # A new key of each algorithm (Ed25519 and RSA) is published at once,
    # newest first, beside the previous ones.
    okp = [k["kid"] for k in published if k["kty"] == "OKP"]
    rsa = [k for k in published if k["kty"] == "RSA"]
    assert okp[0] == new_kid and len(okp) == 2
    assert len(rsa) == 2 and all(k["alg"] == "RS256" and k["use"] == "sig" for k in rsa)
    ctx = ssl.create_default_context(cafile=server.ca)
    jwks = jwt.PyJWKClient(f"{server.base}/.well-known/jwks.json", ssl_context=ctx, cache_keys=False)
    assert {k.key_id for k in jwks.get_signing_keys()} == {k["kid"] for k in published}
    for token in (before, after):
        key = jwks.get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["EdDSA"], audience="mcias")
        assert claims["sub"]
    # The new key signs only once tokens.signing_key_lead (default 5m) has
    # passed: a token issued now still names the previous key.
    assert jwt.get_unverified_header(after)["kid"] == jwt.get_unverified_header(before)["kid"]
    assert jwt.get_unverified_header(after)["kid"] in okp[1:]
