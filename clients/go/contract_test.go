package mcias_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	mcias "github.com/mcias/mcias/clients/go"
	pb "github.com/mcias/mcias/gen/go/mcias/v1"
)

// env reads the variables clients/testdata/with-server.sh sets.
func env(t *testing.T) (server, ca, adminPassword, contract string) {
	t.Helper()
	server, ca = os.Getenv("MCIAS_SERVER"), os.Getenv("MCIAS_CA_CERT")
	adminPassword, contract = os.Getenv("MCIAS_ADMIN_PASSWORD"), os.Getenv("MCIAS_CONTRACT")
	if server == "" || ca == "" || adminPassword == "" || contract == "" {
		t.Fatal("run the tests through clients/testdata/with-server.sh (make test-go)")
	}
	return
}

type step struct {
	Name   string            `json:"name"`
	Client string            `json:"client"`
	Call   string            `json:"call"`
	Args   map[string]any    `json:"args"`
	Save   map[string]string `json:"save"`
	Expect struct {
		Error    string         `json:"error"`
		Result   map[string]any `json:"result"`
		Contains map[string]any `json:"contains"`
		Excludes map[string]any `json:"excludes"`
		Nonempty []string       `json:"nonempty"`
	} `json:"expect"`
}

var varRe = regexp.MustCompile(`\$\{(\w+)\}`)

func subst(v any, vars map[string]any) any {
	switch x := v.(type) {
	case string:
		return varRe.ReplaceAllStringFunc(x, func(m string) string {
			return fmt.Sprint(vars[varRe.FindStringSubmatch(m)[1]])
		})
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = subst(e, vars)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = subst(e, vars)
		}
		return out
	default:
		return v
	}
}

func str(args map[string]any, k string) string { s, _ := args[k].(string); return s }

func num(args map[string]any, k string) int64 { f, _ := args[k].(float64); return int64(f) }

func strs(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	default:
		return []any{v}
	}
}

func account(a *pb.Account) map[string]any {
	return map[string]any{
		"id": a.GetId(), "username": a.GetUsername(),
		"account_type": strings.TrimPrefix(a.GetAccountType().String(), "ACCOUNT_TYPE_"),
		"status":       strings.TrimPrefix(a.GetStatus().String(), "ACCOUNT_STATUS_"),
		"totp_enabled": a.GetTotpEnabled(),
	}
}

// call runs one contract call and returns its normalized result.
func call(ctx context.Context, c *mcias.Client, name string, a map[string]any) (map[string]any, error) {
	switch name {
	case "health":
		s, err := c.Health(ctx)
		return map[string]any{"status": s}, err
	case "public_keys":
		keys, err := c.PublicKeys(ctx)
		kids := []any{}
		for _, k := range keys {
			kids = append(kids, k.GetKid())
		}
		return map[string]any{"kids": kids}, err
	case "login":
		t, err := c.Login(ctx, str(a, "username"), str(a, "password"), str(a, "totp_code"))
		return map[string]any{"token": t.Token}, err
	case "logout":
		return map[string]any{}, c.Logout(ctx)
	case "renew":
		t, err := c.Renew(ctx)
		return map[string]any{"token": t.Token}, err
	case "validate":
		r, err := c.Validate(ctx, str(a, "token"))
		if err != nil {
			return nil, err
		}
		cl := r.GetClaims()
		return map[string]any{"valid": r.GetValid(), "subject": cl.GetSubject(), "roles": strs(cl.GetRoles()),
			"jti": cl.GetJti(), "token_type": cl.GetTokenType()}, nil
	case "create_account":
		t := pb.AccountType(pb.AccountType_value["ACCOUNT_TYPE_"+str(a, "account_type")])
		acc, err := c.CreateAccount(ctx, str(a, "username"), t, str(a, "password"))
		if err != nil {
			return nil, err
		}
		return account(acc), nil
	case "get_account":
		acc, err := c.GetAccount(ctx, str(a, "id"))
		if err != nil {
			return nil, err
		}
		return account(acc), nil
	case "update_account":
		s := pb.AccountStatus(pb.AccountStatus_value["ACCOUNT_STATUS_"+str(a, "status")])
		acc, err := c.UpdateAccount(ctx, str(a, "id"), s)
		if err != nil {
			return nil, err
		}
		return account(acc), nil
	case "delete_account":
		return map[string]any{}, c.DeleteAccount(ctx, str(a, "id"))
	case "list_accounts":
		names := []any{}
		for acc, err := range c.ListAccounts(ctx, int32(num(a, "page_size"))) {
			if err != nil {
				return nil, err
			}
			names = append(names, acc.GetUsername())
		}
		return map[string]any{"usernames": names}, nil
	case "get_roles":
		r, err := c.GetRoles(ctx, str(a, "account_id"))
		return map[string]any{"roles": strs(r)}, err
	case "set_roles":
		var roles []string
		for _, r := range strs(a["roles"]) {
			roles = append(roles, r.(string))
		}
		r, err := c.SetRoles(ctx, str(a, "account_id"), roles)
		return map[string]any{"roles": strs(r)}, err
	case "issue_service_token":
		t, err := c.IssueServiceToken(ctx, str(a, "account_id"))
		return map[string]any{"token": t.Token}, err
	case "revoke_token":
		return map[string]any{}, c.RevokeToken(ctx, str(a, "jti"), str(a, "reason"))
	case "get_pg_creds":
		p, err := c.GetPgCreds(ctx, str(a, "account_id"))
		if err != nil {
			return nil, err
		}
		return map[string]any{"host": p.GetHost(), "port": int64(p.GetPort()), "database": p.GetDatabase(),
			"username": p.GetUsername(), "password": p.GetPassword()}, nil
	case "set_pg_creds":
		return map[string]any{}, c.SetPgCreds(ctx, str(a, "account_id"), &pb.PgCreds{
			Host: str(a, "host"), Port: uint32(num(a, "port")), Database: str(a, "database"),
			Username: str(a, "username"), Password: str(a, "password"),
		})
	case "list_audit_events":
		types := []any{}
		f := mcias.AuditFilter{AccountID: str(a, "account_id"), EventType: str(a, "event_type")}
		for e, err := range c.ListAuditEvents(ctx, f) {
			if err != nil {
				return nil, err
			}
			types = append(types, e.GetEventType())
		}
		return map[string]any{"event_types": types}, nil
	}
	return nil, fmt.Errorf("unknown call %q", name)
}

// norm makes JSON numbers and Go integers comparable.
func norm(v any) any {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = norm(e)
		}
		return out
	}
	return v
}

func contains(list any, want any) bool {
	for _, e := range strs(list) {
		if reflect.DeepEqual(norm(e), norm(want)) {
			return true
		}
	}
	return false
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	}
	return false
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestContract runs clients/testdata/contract.json.
func TestContract(t *testing.T) {
	server, ca, adminPassword, path := env(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var contract struct {
		Clients []string `json:"clients"`
		Steps   []step   `json:"steps"`
	}
	if err := json.Unmarshal(raw, &contract); err != nil {
		t.Fatal(err)
	}
	clients := map[string]*mcias.Client{}
	for _, name := range contract.Clients {
		c, err := mcias.New(server, mcias.WithCACert(ca))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients[name] = c
	}
	vars := map[string]any{"admin_password": adminPassword, "run": randomSuffix()}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i, s := range contract.Steps {
		label := fmt.Sprintf("step %d %q (%s)", i+1, s.Name, s.Call)
		args, _ := subst(s.Args, vars).(map[string]any)
		res, err := call(ctx, clients[s.Client], s.Call, args)
		if s.Expect.Error != "" {
			var e *mcias.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: want error %s, got %v (result %v)", label, s.Expect.Error, err, res)
			}
			if got := mcias.CodeName(e.Code); got != s.Expect.Error {
				t.Fatalf("%s: want %s, got %s (%s)", label, s.Expect.Error, got, e.Message)
			}
			if e.Message == "" {
				t.Fatalf("%s: the error carries no message", label)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		for k, want := range subst(s.Expect.Result, vars).(map[string]any) {
			if !reflect.DeepEqual(norm(res[k]), norm(want)) {
				t.Fatalf("%s: %s = %#v, want %#v", label, k, res[k], want)
			}
		}
		for k, want := range subst(s.Expect.Contains, vars).(map[string]any) {
			for _, w := range strs(want) {
				if !contains(res[k], w) {
					t.Fatalf("%s: %s = %v lacks %v", label, k, res[k], w)
				}
			}
		}
		for k, want := range subst(s.Expect.Excludes, vars).(map[string]any) {
			for _, w := range strs(want) {
				if contains(res[k], w) {
					t.Fatalf("%s: %s = %v has %v", label, k, res[k], w)
				}
			}
		}
		for _, k := range s.Expect.Nonempty {
			if empty(res[k]) {
				t.Fatalf("%s: %s is empty", label, k)
			}
		}
		for v, field := range s.Save {
			vars[v] = res[field]
		}
	}
	if len(contract.Steps) < 10 {
		t.Fatalf("the contract has only %d steps", len(contract.Steps))
	}
}

// TestConcurrentTokenUse shares one client between goroutines while its
// token changes (run with -race).
func TestConcurrentTokenUse(t *testing.T) {
	server, ca, adminPassword, _ := env(t)
	c, err := mcias.New(server, mcias.WithCACert(ca))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Login(ctx, "admin", adminPassword, ""); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.GetRoles(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, mcias.ErrNotFound) {
				errs <- fmt.Errorf("want ErrNotFound, got %v", err)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.SetToken(c.Token())
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestErrorKinds checks the sentinel mapping of a real refusal.
func TestErrorKinds(t *testing.T) {
	server, ca, _, _ := env(t)
	c, err := mcias.New(server, mcias.WithCACert(ca))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Login(context.Background(), "admin", "wrong password", "")
	if !errors.Is(err, mcias.ErrUnauthenticated) || errors.Is(err, mcias.ErrServer) {
		t.Fatalf("want only ErrUnauthenticated, got %v", err)
	}
	if _, err := mcias.New(server, mcias.WithCACert("/nonexistent/ca.pem")); err == nil {
		t.Fatal("a missing CA file must fail")
	}
}
