package mcias_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	mcias "github.com/mcias/mcias/clients/go"
	pb "github.com/mcias/mcias/gen/go/mcias/v1"
)

// Log in as the admin of a `mciassrv dev` server, create an account (unless
// it exists) and find it among every account.
func Example() {
	ctx := context.Background()
	c, err := mcias.New(os.Getenv("MCIAS_SERVER"), mcias.WithCACert(os.Getenv("MCIAS_CA_CERT")))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	if _, err := c.Login(ctx, "admin", os.Getenv("MCIAS_ADMIN_PASSWORD"), ""); err != nil {
		log.Fatal(err)
	}
	_, err = c.CreateAccount(ctx, "example-user", pb.AccountType_ACCOUNT_TYPE_HUMAN, "a long enough password")
	if err != nil && !errors.Is(err, mcias.ErrAlreadyExists) {
		log.Fatal(err)
	}
	for a, err := range c.ListAccounts(ctx, 0) {
		if err != nil {
			log.Fatal(err)
		}
		if a.GetUsername() == "example-user" {
			fmt.Println("listed", a.GetUsername(), a.GetStatus())
		}
	}
	// Output:
	// listed example-user ACCOUNT_STATUS_ACTIVE
}
