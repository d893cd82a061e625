"""A relying party built from standard libraries only: PyJWT with
PyJWKClient on the JWKS validates a token issued by Login; revocation is
seen through ValidateToken."""

import ssl

import jwt
import pytest


def jwks_client(server) -> jwt.PyJWKClient:
    ctx = ssl.create_default_context(cafile=server.ca)
    return jwt.PyJWKClient(f"{server.base}/.well-known/jwks.json", ssl_context=ctx)


def test_pyjwt_validates_a_login_token_and_revocation_is_seen(server):
    token = server.login("admin", server.admin_password)
    discovery = server.session().get(f"{server.base}/.well-known/openid-configuration").json()
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256", "EdDSA"]

    key = jwks_client(server).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["EdDSA"],
        audience="mcias",
        issuer=discovery["issuer"],
        options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti"]},
    )
    assert claims["roles"] == ["admin"]
    assert claims["typ"] == "human"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA"
    assert header["kid"] == key.key_id

    s = server.session()
    assert s.post(f"{server.base}/v1/tokens/validate", json={"token": token}).json()["valid"] is True

    # Revoke (log out); the signature still verifies offline, the server says no.
    r = s.post(f"{server.base}/v1/auth/logout", json={}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    jwt.decode(token, key.key, algorithms=["EdDSA"], audience="mcias", issuer=discovery["issuer"])
    assert s.post(f"{server.base}/v1/tokens/validate", json={"token": token}).json() == {"valid": False}


def test_pyjwt_refuses_other_algorithms_and_tampering(server):
    token = server.login("admin", server.admin_password)
    key = jwks_client(server).get_signing_key_from_jwt(token)
    with pytest.raises(jwt.exceptions.InvalidAlgorithmError):
        jwt.decode(token, key.key, algorithms=["HS256"], audience="mcias")
    head, body, sig = token.split(".")
    tampered = ".".join([head, body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1], sig])
    with pytest.raises(jwt.exceptions.InvalidSignatureError):
        jwt.decode(tampered, key.key, algorithms=["EdDSA"], audience="mcias")
    s = server.session()
    assert s.post(f"{server.base}/v1/tokens/validate", json={"token": tampered}).json()["valid"] is False
