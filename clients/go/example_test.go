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

// Log in as the admin of a `mciassrv dev` server, create an account and list
// every account.
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
	acc, err := c.CreateAccount(ctx, "example-user", pb.AccountType_ACCOUNT_TYPE_HUMAN, "a long enough password")
	if errors.Is(err, mcias.ErrAlreadyExists) {
		fmt.Println("example-user exists already")
	} else if err != nil {
		log.Fatal(err)
	} else {
		fmt.Println("created", acc.GetUsername())
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
	// created example-user
	// listed example-user ACCOUNT_STATUS_ACTIVE
}
