// Command quickstart logs in to a `mciassrv dev` server as admin, creates an
// account and lists every account. Run it from clients/go after starting
// `cargo run --bin mciassrv -- dev` in the repository root.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"

	mcias "github.com/mcias/mcias/clients/go"
	pb "github.com/mcias/mcias/gen/go/mcias/v1"
)

func main() {
	server := flag.String("server", "localhost:8443", "server address")
	ca := flag.String("ca", "../../mcias-dev/tls/ca.pem", "CA certificate (PEM)")
	pwFile := flag.String("password-file", "../../mcias-dev/admin-password", "admin password file")
	flag.Parse()
	ctx := context.Background()

	c, err := mcias.New(*server, mcias.WithCACert(*ca))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	status, err := c.Health(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("health:", status)

	pw, err := os.ReadFile(*pwFile)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.Login(ctx, "admin", strings.TrimSpace(string(pw)), ""); err != nil {
		log.Fatal(err)
	}
	v, err := c.Validate(ctx, c.Token())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("logged in; roles:", v.GetClaims().GetRoles())

	acc, err := c.CreateAccount(ctx, "quickstart-go", pb.AccountType_ACCOUNT_TYPE_HUMAN, "a long enough password")
	switch {
	case errors.Is(err, mcias.ErrAlreadyExists):
		fmt.Println("quickstart-go exists already")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("created", acc.GetUsername(), acc.GetId())
	}

	for a, err := range c.ListAccounts(ctx, 0) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("account:", a.GetUsername(), a.GetStatus())
	}
	if err := c.Logout(ctx); err != nil {
		log.Fatal(err)
	}
}
