// Command mcias-go-rp is a minimal OpenID Connect relying party built on
// github.com/coreos/go-oidc/v3 and golang.org/x/oauth2, for the end-to-end
// tests of the MCIAS provider (tests/oidc).
//
//	GET /login     redirects to the provider's authorization endpoint with
//	               state, nonce and a PKCE (S256) challenge
//	GET /callback  exchanges the code, verifies the ID token with go-oidc
//	               against discovery and the JWKS, checks the nonce and the
//	               at_hash, calls userinfo, and answers the verified claims
//	               as JSON (also printed on stdout, one line)
//	GET /healthz   200 once the provider's discovery document was read
//
// Every setting is a flag with an environment default:
//
//	-issuer        MCIAS_RP_ISSUER         the provider's issuer URL
//	-client-id     MCIAS_RP_CLIENT_ID
//	-client-secret MCIAS_RP_CLIENT_SECRET  empty for a public client
//	-redirect-url  MCIAS_RP_REDIRECT_URL   default http://LISTEN/callback
//	-ca-file       MCIAS_RP_CA_FILE        PEM CA bundle trusted for the issuer
//	-listen        MCIAS_RP_LISTEN         default 127.0.0.1:0
//	-scopes        MCIAS_RP_SCOPES         default "openid email profile"
//
// Once listening it prints "listening: http://HOST:PORT" on stdout.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

type pending struct {
	nonce    string
	verifier string
	created  time.Time
}

type relyingParty struct {
	ctx      context.Context
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	config   oauth2.Config

	mu      sync.Mutex
	pending map[string]pending
	out     *json.Encoder
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

func random() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func httpClient(caFile string) (*http.Client, error) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", caFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: transport, Timeout: 30 * time.Second}, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (rp *relyingParty) fail(w http.ResponseWriter, status int, stage string, err error) {
	body := map[string]any{"ok": false, "stage": stage, "error": err.Error()}
	rp.mu.Lock()
	_ = rp.out.Encode(body)
	rp.mu.Unlock()
	writeJSON(w, status, body)
}

func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	rp.mu.Lock()
	for k, p := range rp.pending {
		if time.Since(p.created) > 10*time.Minute {
			delete(rp.pending, k)
		}
	}
	rp.pending[state] = pending{nonce: nonce, verifier: verifier, created: time.Now()}
	rp.mu.Unlock()
	// The browser that started the flow must be the one that finishes it.
	http.SetCookie(w, &http.Cookie{Name: "rp_state", Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if p := r.URL.Query().Get("prompt"); p != "" {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", p))
	}
	http.Redirect(w, r, rp.config.AuthCodeURL(state, opts...), http.StatusFound)
}

func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		rp.fail(w, http.StatusBadRequest, "authorize", fmt.Errorf("%s: %s", e, q.Get("error_description")))
		return
	}
	state := q.Get("state")
	cookie, err := r.Cookie("rp_state")
	if err != nil || cookie.Value != state {
		rp.fail(w, http.StatusBadRequest, "state", errors.New("state does not match this browser's"))
		return
	}
	rp.mu.Lock()
	p, ok := rp.pending[state]
	delete(rp.pending, state)
	rp.mu.Unlock()
	if !ok {
		rp.fail(w, http.StatusBadRequest, "state", errors.New("unknown or used state"))
		return
	}
	// RFC 9207: the iss parameter, when present, must name our issuer.
	if iss := q.Get("iss"); iss != "" && iss != rp.verifierIssuer() {
		rp.fail(w, http.StatusBadRequest, "iss", fmt.Errorf("iss %q is not the issuer", iss))
		return
	}
	token, err := rp.config.Exchange(rp.ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "exchange", err)
		return
	}
	raw, ok := token.Extra("id_token").(string)
	if !ok || raw == "" {
		rp.fail(w, http.StatusBadGateway, "exchange", errors.New("no id_token in the token response"))
		return
	}
	idToken, err := rp.verifier.Verify(rp.ctx, raw)
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "verify", err)
		return
	}
	if idToken.Nonce != p.nonce {
		rp.fail(w, http.StatusBadGateway, "nonce", errors.New("nonce does not match"))
		return
	}
	if err := idToken.VerifyAccessToken(token.AccessToken); err != nil {
		rp.fail(w, http.StatusBadGateway, "at_hash", err)
		return
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		rp.fail(w, http.StatusBadGateway, "claims", err)
		return
	}
	header, err := jwsHeader(raw)
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "header", err)
		return
	}
	info, err := rp.provider.UserInfo(rp.ctx, oauth2.StaticTokenSource(token))
	if err != nil {
		rp.fail(w, http.StatusBadGateway, "userinfo", err)
		return
	}
	var userinfo map[string]any
	if err := info.Claims(&userinfo); err != nil {
		rp.fail(w, http.StatusBadGateway, "userinfo", err)
		return
	}
	body := map[string]any{
		"ok":            true,
		"claims":        claims,
		"header":        header,
		"userinfo":      userinfo,
		"scope":         token.Extra("scope"),
		"token_type":    token.TokenType,
		"refresh_token": token.RefreshToken != "",
	}
	rp.mu.Lock()
	_ = rp.out.Encode(body)
	rp.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

func (rp *relyingParty) verifierIssuer() string {
	var meta struct {
		Issuer string `json:"issuer"`
	}
	_ = rp.provider.Claims(&meta)
	return meta.Issuer
}

func jwsHeader(raw string) (map[string]any, error) {
	part, _, ok := strings.Cut(raw, ".")
	if !ok {
		return nil, errors.New("not a JWS")
	}
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return nil, err
	}
	var h map[string]any
	return h, json.Unmarshal(b, &h)
}

func main() {
	issuer := flag.String("issuer", env("MCIAS_RP_ISSUER", ""), "the provider's issuer URL")
	clientID := flag.String("client-id", env("MCIAS_RP_CLIENT_ID", ""), "the client id")
	clientSecret := flag.String("client-secret", env("MCIAS_RP_CLIENT_SECRET", ""), "the client secret (empty: public client)")
	redirectURL := flag.String("redirect-url", env("MCIAS_RP_REDIRECT_URL", ""), "the redirect URI (default http://LISTEN/callback)")
	caFile := flag.String("ca-file", env("MCIAS_RP_CA_FILE", ""), "PEM CA bundle to trust for the issuer")
	listen := flag.String("listen", env("MCIAS_RP_LISTEN", "127.0.0.1:0"), "the address to listen on")
	scopes := flag.String("scopes", env("MCIAS_RP_SCOPES", "openid email profile"), "space-separated scopes")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("mcias-go-rp: ")
	if *issuer == "" || *clientID == "" {
		log.Fatal("-issuer and -client-id are required")
	}

	client, err := httpClient(*caFile)
	if err != nil {
		log.Fatal(err)
	}
	ctx := oidc.ClientContext(context.Background(), client)
	discoveryCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	provider, err := oidc.NewProvider(discoveryCtx, *issuer)
	cancel()
	if err != nil {
		log.Fatalf("discovery: %v", err)
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	redirect := *redirectURL
	if redirect == "" {
		redirect = "http://" + ln.Addr().String() + "/callback"
	}
	var authStyle oauth2.AuthStyle = oauth2.AuthStyleInHeader
	if *clientSecret == "" {
		authStyle = oauth2.AuthStyleInParams
	}
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = authStyle

	rp := &relyingParty{
		ctx:      ctx,
		provider: provider,
		// The accepted algorithms are those discovery advertises.
		verifier: provider.Verifier(&oidc.Config{ClientID: *clientID}),
		config: oauth2.Config{
			ClientID:     *clientID,
			ClientSecret: *clientSecret,
			Endpoint:     endpoint,
			RedirectURL:  redirect,
			Scopes:       strings.Fields(*scopes),
		},
		pending: map[string]pending{},
		out:     json.NewEncoder(os.Stdout),
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": true, "issuer": *issuer})
	})
	fmt.Printf("listening: http://%s\n", ln.Addr())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(srv.Serve(ln))
}
