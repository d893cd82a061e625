"""The provider's metadata documents checked by an off-the-shelf library:
authlib's OpenID Connect Discovery model (with RP-Initiated Logout and
RFC 9207) for /.well-known/openid-configuration and its RFC 8414 model for
/.well-known/oauth-authorization-server, plus the values the OIDC contract
promises and the JWKS they point at."""

import base64

from authlib.oauth2 import rfc8414, rfc9207
from authlib.oidc import discovery, rpinitiated


def fetch(server, url):
    r = server.session().get(url, timeout=30)
    assert r.status_code == 200, f"{url} → {r.status_code}: {r.text[:500]}"
    assert r.headers["content-type"].startswith("application/json"), r.headers["content-type"]
    return r.json()


def test_openid_configuration_validates_with_authlib(server):
    url = discovery.get_well_known_url(server.base, external=True)
    assert url == f"{server.base}/.well-known/openid-configuration"
    doc = fetch(server, url)
    metadata = discovery.OpenIDProviderMetadata(doc)
    metadata.validate(
        metadata_classes=[rpinitiated.OpenIDProviderMetadata, rfc9207.AuthorizationServerMetadata]
    )

    base = server.base
    assert doc["issuer"] == base
    assert doc["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert doc["token_endpoint"] == f"{base}/oauth2/token"
    assert doc["userinfo_endpoint"] == f"{base}/oauth2/userinfo"
    assert doc["end_session_endpoint"] == f"{base}/oauth2/end_session"
    assert doc["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert doc["introspection_endpoint"].startswith(f"{base}/")
    assert doc["revocation_endpoint"].startswith(f"{base}/")
    assert doc["response_types_supported"] == ["code"]
    assert doc["response_modes_supported"] == ["query"]
    assert set(doc["grant_types_supported"]) == {"authorization_code", "refresh_token", "client_credentials"}
    assert {"openid", "profile", "email", "roles", "offline_access"} <= set(doc["scopes_supported"])
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert set(doc["token_endpoint_auth_methods_supported"]) == {"client_secret_basic", "client_secret_post", "none"}
    assert set(doc["id_token_signing_alg_values_supported"]) == {"RS256", "EdDSA"}
    assert doc["subject_types_supported"] == ["public"]
    for claim in ("sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "name"):
        assert claim in doc["claims_supported"], claim


def test_oauth_authorization_server_metadata_validates_with_authlib(server):
    url = rfc8414.get_well_known_url(server.base, external=True)
    assert url == f"{server.base}/.well-known/oauth-authorization-server"
    doc = fetch(server, url)
    metadata = rfc8414.AuthorizationServerMetadata(doc)
    metadata.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    # RFC 8414 §3.3: the issuer is the one whose well-known URL was used.
    assert doc["issuer"] == server.base
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "authorization_code" in doc["grant_types_supported"]

    # Both documents describe the same server.
    oidc = fetch(server, f"{server.base}/.well-known/openid-configuration")
    for key in (
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "response_types_supported",
        "grant_types_supported",
        "code_challenge_methods_supported",
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint",
        "revocation_endpoint",
    ):
        assert doc.get(key) == oidc.get(key), key


def test_jwks_holds_an_ed25519_and_an_rsa_signing_key(server):
    doc = fetch(server, f"{server.base}/.well-known/openid-configuration")
    jwks = fetch(server, doc["jwks_uri"])
    by_alg = {}
    for key in jwks["keys"]:
        assert key.get("kid"), key
        assert key.get("use") == "sig", key
        assert "d" not in key and "p" not in key, "no private material"
        by_alg.setdefault(key.get("alg"), []).append(key)
    okp = by_alg["EdDSA"][0]
    assert okp["kty"] == "OKP" and okp["crv"] == "Ed25519"
    rsa = by_alg["RS256"][0]
    assert rsa["kty"] == "RSA"
    n = base64.urlsafe_b64decode(rsa["n"] + "=" * (-len(rsa["n"]) % 4))
    assert len(n) * 8 >= 2048, f"RSA modulus of {len(n) * 8} bits"
