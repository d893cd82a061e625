// Package mcias is the Go client library for MCIAS, the identity and access
// service. It wraps the generated gRPC stubs (github.com/mcias/mcias/gen/go)
// with one Client that holds the current token, maps failures to *Error and
// iterates paged listings.
//
// Every method takes a context first and is safe for concurrent use.
package mcias

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"iter"
	"os"
	"strings"
	"sync"
	"time"

	pb "github.com/mcias/mcias/gen/go/mcias/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Option configures New.
type Option func(*options)

type options struct {
	caCert string
	token  string
}

// WithCACert trusts the CA certificate(s) in this PEM file instead of the
// system roots (for example `mcias-dev/tls/ca.pem`).
func WithCACert(path string) Option { return func(o *options) { o.caCert = path } }

// WithToken starts the client with this bearer token.
func WithToken(token string) Option { return func(o *options) { o.token = token } }

// Client talks to one MCIAS server over gRPC with TLS. Create it with New and
// release it with Close.
type Client struct {
	conn     *grpc.ClientConn
	auth     pb.AuthServiceClient
	tokens   pb.TokenServiceClient
	accounts pb.AccountServiceClient
	admin    pb.AdminServiceClient

	mu    sync.RWMutex
	token string
}

// New connects lazily to server ("host:port", an "https://" prefix is
// accepted).
func New(server string, opts ...Option) (*Client, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	target := strings.TrimSuffix(strings.TrimPrefix(server, "https://"), "/")
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caCert != "" {
		pem, err := os.ReadFile(o.caCert)
		if err != nil {
			return nil, fmt.Errorf("mcias: reading CA certificate: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("mcias: no certificate in %s", o.caCert)
		}
		cfg.RootCAs = pool
	}
	c := &Client{token: o.token}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(credentials.NewTLS(cfg)),
		grpc.WithPerRPCCredentials(bearer{c}),
	)
	if err != nil {
		return nil, fmt.Errorf("mcias: %w", err)
	}
	c.conn = conn
	c.auth = pb.NewAuthServiceClient(conn)
	c.tokens = pb.NewTokenServiceClient(conn)
	c.accounts = pb.NewAccountServiceClient(conn)
	c.admin = pb.NewAdminServiceClient(conn)
	return c, nil
}

// bearer adds the client's current token to each call.
type bearer struct{ c *Client }

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if t := b.c.Token(); t != "" {
		return map[string]string{"authorization": "Bearer " + t}, nil
	}
	return nil, nil
}

func (b bearer) RequireTransportSecurity() bool { return true }

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Token returns the token the client currently sends ("" when none).
func (c *Client) Token() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.token
}

// SetToken replaces the token the client sends ("" sends none).
func (c *Client) SetToken(token string) {
	c.mu.Lock()
	c.token = token
	c.mu.Unlock()
}

// Token is an issued access token.
type Token struct {
	// Token is the signed JWT.
	Token string
	// ExpiresAt is when it expires.
	ExpiresAt time.Time
}

func newToken(tok string, exp *timestamppb.Timestamp) Token {
	return Token{Token: tok, ExpiresAt: exp.AsTime()}
}

// Login exchanges credentials for a token, which the client then holds.
// totpCode is "" unless the account has TOTP enrolled.
func (c *Client) Login(ctx context.Context, username, password, totpCode string) (Token, error) {
	res, err := c.auth.Login(ctx, &pb.LoginRequest{Username: username, Password: password, TotpCode: totpCode})
	if err != nil {
		return Token{}, wrap(err)
	}
	c.SetToken(res.GetToken())
	return newToken(res.GetToken(), res.GetExpiresAt()), nil
}

// Logout revokes the held token and forgets it.
func (c *Client) Logout(ctx context.Context) error {
	if _, err := c.auth.Logout(ctx, &pb.LogoutRequest{}); err != nil {
		return wrap(err)
	}
	c.SetToken("")
	return nil
}

// Renew replaces the held token with a fresh one; the old one is revoked.
func (c *Client) Renew(ctx context.Context) (Token, error) {
	res, err := c.auth.RenewToken(ctx, &pb.RenewTokenRequest{})
	if err != nil {
		return Token{}, wrap(err)
	}
	c.SetToken(res.GetToken())
	return newToken(res.GetToken(), res.GetExpiresAt()), nil
}

// Validate checks any token. An invalid token is not an error: the answer has
// Valid == false and no claims.
func (c *Client) Validate(ctx context.Context, token string) (*pb.ValidateTokenResponse, error) {
	res, err := c.tokens.ValidateToken(ctx, &pb.ValidateTokenRequest{Token: token})
	return res, wrap(err)
}

// PublicKeys returns the JWKs that verify tokens.
func (c *Client) PublicKeys(ctx context.Context) ([]*pb.Jwk, error) {
	res, err := c.tokens.ListPublicKeys(ctx, &pb.ListPublicKeysRequest{})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetKeys(), nil
}

// Health returns the server's status, "SERVING" when it can serve.
func (c *Client) Health(ctx context.Context) (string, error) {
	res, err := c.admin.Health(ctx, &pb.HealthRequest{})
	if err != nil {
		return "", wrap(err)
	}
	return res.GetStatus(), nil
}

// CreateAccount creates an account (admin). password is required for human
// accounts and must be "" for system accounts.
func (c *Client) CreateAccount(ctx context.Context, username string, accountType pb.AccountType, password string) (*pb.Account, error) {
	res, err := c.accounts.CreateAccount(ctx, &pb.CreateAccountRequest{Username: username, AccountType: accountType, Password: password})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetAccount(), nil
}

// ListAccounts iterates over every account that is not deleted, fetching
// pages of pageSize (0: the server's default) as it goes (admin). Iteration
// stops at the first error, which is yielded.
func (c *Client) ListAccounts(ctx context.Context, pageSize int32) iter.Seq2[*pb.Account, error] {
	return func(yield func(*pb.Account, error) bool) {
		pageToken := ""
		for {
			res, err := c.accounts.ListAccounts(ctx, &pb.ListAccountsRequest{PageSize: pageSize, PageToken: pageToken})
			if err != nil {
				yield(nil, wrap(err))
				return
			}
			for _, a := range res.GetAccounts() {
				if !yield(a, nil) {
					return
				}
			}
			pageToken = res.GetNextPageToken()
			if pageToken == "" {
				return
			}
		}
	}
}

// GetAccount returns one account, deleted ones included (admin).
func (c *Client) GetAccount(ctx context.Context, id string) (*pb.Account, error) {
	res, err := c.accounts.GetAccount(ctx, &pb.GetAccountRequest{Id: id})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetAccount(), nil
}

// UpdateAccount sets an account's status (admin). Leaving ACTIVE revokes the
// account's tokens.
func (c *Client) UpdateAccount(ctx context.Context, id string, status pb.AccountStatus) (*pb.Account, error) {
	res, err := c.accounts.UpdateAccount(ctx, &pb.UpdateAccountRequest{
		Id: id, Status: status, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
	})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetAccount(), nil
}

// DeleteAccount soft-deletes an account and revokes its tokens (admin).
func (c *Client) DeleteAccount(ctx context.Context, id string) error {
	_, err := c.accounts.DeleteAccount(ctx, &pb.DeleteAccountRequest{Id: id})
	return wrap(err)
}

// GetRoles returns an account's roles, sorted (admin).
func (c *Client) GetRoles(ctx context.Context, accountID string) ([]string, error) {
	res, err := c.accounts.GetRoles(ctx, &pb.GetRolesRequest{AccountId: accountID})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetRoles(), nil
}

// SetRoles replaces an account's roles and returns them, sorted (admin).
func (c *Client) SetRoles(ctx context.Context, accountID string, roles []string) ([]string, error) {
	res, err := c.accounts.SetRoles(ctx, &pb.SetRolesRequest{AccountId: accountID, Roles: roles})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetRoles(), nil
}

// IssueServiceToken issues a token for a system account (admin). The client
// keeps its own token.
func (c *Client) IssueServiceToken(ctx context.Context, accountID string) (Token, error) {
	res, err := c.tokens.IssueServiceToken(ctx, &pb.IssueServiceTokenRequest{AccountId: accountID})
	if err != nil {
		return Token{}, wrap(err)
	}
	return newToken(res.GetToken(), res.GetExpiresAt()), nil
}

// RevokeToken revokes a token by its jti (admin).
func (c *Client) RevokeToken(ctx context.Context, jti, reason string) error {
	_, err := c.tokens.RevokeToken(ctx, &pb.RevokeTokenRequest{Jti: jti, Reason: reason})
	return wrap(err)
}

// GetPgCreds returns the PostgreSQL credentials stored for an account,
// password included (the account itself or an admin).
func (c *Client) GetPgCreds(ctx context.Context, accountID string) (*pb.PgCreds, error) {
	res, err := c.accounts.GetPgCreds(ctx, &pb.GetPgCredsRequest{AccountId: accountID})
	if err != nil {
		return nil, wrap(err)
	}
	return res.GetCreds(), nil
}

// SetPgCreds stores PostgreSQL credentials for an account (the account
// itself or an admin). creds.Password is sealed at rest by the server.
func (c *Client) SetPgCreds(ctx context.Context, accountID string, creds *pb.PgCreds) error {
	_, err := c.accounts.SetPgCreds(ctx, &pb.SetPgCredsRequest{
		AccountId: accountID, Host: creds.GetHost(), Port: creds.GetPort(),
		Database: creds.GetDatabase(), Username: creds.GetUsername(), Password: creds.GetPassword(),
	})
	return wrap(err)
}

// AuditFilter selects audit events; zero fields do not filter.
type AuditFilter struct {
	// AccountID keeps events whose actor or target is this account.
	AccountID string
	// EventType keeps events of this type, for example "login_failure".
	EventType string
	// Since keeps events at or after this time.
	Since time.Time
	// PageSize is the page size the iteration fetches (0: server default).
	PageSize int32
}

// ListAuditEvents iterates over matching audit events, newest first,
// fetching pages as it goes (admin). Iteration stops at the first error,
// which is yielded.
func (c *Client) ListAuditEvents(ctx context.Context, f AuditFilter) iter.Seq2[*pb.AuditEvent, error] {
	return func(yield func(*pb.AuditEvent, error) bool) {
		req := &pb.ListAuditEventsRequest{AccountId: f.AccountID, EventType: f.EventType, PageSize: f.PageSize}
		if !f.Since.IsZero() {
			req.Since = timestamppb.New(f.Since)
		}
		for {
			res, err := c.admin.ListAuditEvents(ctx, req)
			if err != nil {
				yield(nil, wrap(err))
				return
			}
			for _, e := range res.GetEvents() {
				if !yield(e, nil) {
					return
				}
			}
			if res.GetNextPageToken() == "" {
				return
			}
			req.PageToken = res.GetNextPageToken()
		}
	}
}
