// Command gatehouseclient calls Gatehouse from Go with google.golang.org/grpc: it registers a
// user, logs in, validates the access token, then makes two calls that fail and prints the
// google.rpc error details they carry (status.FromError(err).Details()). It exits 0 only when
// every step had the expected outcome. With -service-config, the channel loads that gRPC
// service config (deadlines, waitForReady, retries of the idempotent RPCs).
//
//	npx buf generate --template clients/go/buf.gen.yaml
//	cd clients/go && go run . [-service-config ../service-config.json] [host:port]
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"time"

	authv1 "gatehouseclient/gen/gatehouse/auth/v1"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// deadline of every call: always set one.
const deadline = 5 * time.Second

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		fail("random: %v", err)
	}
	return hex.EncodeToString(b)
}

// details are the google.rpc details of a failed call's grpc-status-details-bin trailer.
type details struct {
	errorInfo       *errdetails.ErrorInfo
	fieldViolations []*errdetails.BadRequest_FieldViolation
	retryDelay      *time.Duration
}

func errorDetails(st *status.Status) details {
	var d details
	for _, detail := range st.Details() {
		switch v := detail.(type) {
		case *errdetails.ErrorInfo:
			d.errorInfo = v
		case *errdetails.BadRequest:
			d.fieldViolations = v.GetFieldViolations()
		case *errdetails.RetryInfo:
			delay := time.Duration(v.GetRetryDelay().GetSeconds())*time.Second +
				time.Duration(v.GetRetryDelay().GetNanos())
			d.retryDelay = &delay
		}
	}
	return d
}

// expectError checks that err is a status with code and ErrorInfo reason, printing what it carried.
func expectError(label string, err error, code codes.Code, reason string) details {
	if err == nil {
		fail("%s: succeeded, expected %s", label, code)
	}
	st, _ := status.FromError(err)
	d := errorDetails(st)
	info := d.errorInfo
	fmt.Printf("%s: %s reason=%s domain=%s message=%q\n",
		label, st.Code(), info.GetReason(), info.GetDomain(), st.Message())
	for _, v := range d.fieldViolations {
		fmt.Printf("  field violation: %s: %s\n", v.GetField(), v.GetDescription())
	}
	if d.retryDelay != nil {
		fmt.Printf("  retry after %d ms\n", d.retryDelay.Milliseconds())
	}
	if st.Code() != code || info.GetReason() != reason || info.GetDomain() != "gatehouse" {
		fail("%s: expected %s with reason %s", label, code, reason)
	}
	return d
}

func main() {
	serviceConfig := flag.String("service-config", "", "gRPC service config JSON file for the channel")
	flag.Parse()
	target := "127.0.0.1:50051"
	if flag.NArg() > 0 {
		target = flag.Arg(0)
	}

	// grpc.WithInsecure: grpc-go before 1.34 (Debian 12's) has no insecure.NewCredentials().
	opts := []grpc.DialOption{grpc.WithInsecure()}
	if *serviceConfig != "" {
		config, err := os.ReadFile(*serviceConfig)
		if err != nil {
			fail("%v", err)
		}
		opts = append(opts, grpc.WithDefaultServiceConfig(string(config)))
	}
	conn, err := grpc.Dial(target, opts...)
	if err != nil {
		fail("dial %s: %v", target, err)
	}
	defer conn.Close()
	client := authv1.NewAuthServiceClient(conn)

	var ctx context.Context
	var cancel context.CancelFunc
	email := "go-" + randomHex(6) + "@example.com"
	password := randomHex(9) + " staple horse"

	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	registered, err := client.Register(ctx, &authv1.RegisterRequest{Email: email, Password: password})
	cancel()
	if err != nil {
		fail("register: %v", err)
	}
	fmt.Printf("register: ok user_id=%s\n", registered.GetUser().GetId())

	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	loggedIn, err := client.Login(ctx, &authv1.LoginRequest{Identifier: email, Password: password})
	cancel()
	if err != nil || loggedIn.GetTokens() == nil {
		fail("login: %v", err)
	}
	fmt.Printf("login: ok session_id=%s\n", loggedIn.GetTokens().GetSessionId())

	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	validated, err := client.ValidateToken(ctx,
		&authv1.ValidateTokenRequest{AccessToken: loggedIn.GetTokens().GetAccessToken()})
	cancel()
	if err != nil {
		fail("validate: %v", err)
	}
	fmt.Printf("validate: active=%t user_id=%s\n", validated.GetActive(), validated.GetUserId())
	if !validated.GetActive() || validated.GetUserId() != registered.GetUser().GetId() {
		fail("validate: not active")
	}

	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	_, err = client.Register(ctx, &authv1.RegisterRequest{Email: "not-an-email", Password: password})
	cancel()
	invalid := expectError("register (invalid email)", err, codes.InvalidArgument, "VALIDATION_FAILED")
	found := false
	for _, v := range invalid.fieldViolations {
		found = found || v.GetField() == "email"
	}
	if !found {
		fail("no violation for email")
	}

	ctx, cancel = context.WithTimeout(context.Background(), deadline)
	_, err = client.Login(ctx, &authv1.LoginRequest{Identifier: email, Password: password + "-wrong"})
	cancel()
	expectError("login (wrong password)", err, codes.Unauthenticated, "INVALID_CREDENTIALS")

	fmt.Println("ok")
}
