"""Gatehouse from Python with grpcio.

Registers a user, logs in, validates the access token, then makes two calls
that fail and prints the google.rpc error details they carry (decoded from the
grpc-status-details-bin trailer). Exits 0 only when every step had the
expected outcome. The channel loads ../service-config.json (deadlines,
waitForReady, retries of the idempotent RPCs).

    npx buf generate --template clients/python/buf.gen.yaml
    python3 clients/python/client.py [host:port]      (default 127.0.0.1:50051)
"""

import os
import secrets
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "gen"))

import grpc  # noqa: E402
from gatehouse.auth.v1 import auth_service_pb2 as auth  # noqa: E402
from gatehouse.auth.v1 import auth_service_pb2_grpc as auth_grpc  # noqa: E402
from google.rpc import error_details_pb2, status_pb2  # noqa: E402

DEADLINE_SEC = 5.0  # always set a deadline


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def error_details(error):
    """Decodes the google.rpc.Status of the grpc-status-details-bin trailer."""
    details = {"error_info": None, "field_violations": [], "retry_delay_sec": None}
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for any_detail in status.details:
            if any_detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                any_detail.Unpack(info)
                details["error_info"] = info
            elif any_detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                any_detail.Unpack(bad_request)
                details["field_violations"] = list(bad_request.field_violations)
            elif any_detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                any_detail.Unpack(retry)
                details["retry_delay_sec"] = retry.retry_delay.ToTimedelta().total_seconds()
    return details


def expect_error(label, call, code, reason):
    """Runs a call that must fail with `code` and ErrorInfo `reason`; prints what it carried."""
    try:
        call()
    except grpc.RpcError as error:
        details = error_details(error)
        info = details["error_info"]
        print(
            f"{label}: {error.code().name} reason={info and info.reason} "
            f"domain={info and info.domain} message={error.details()!r}"
        )
        for v in details["field_violations"]:
            print(f"  field violation: {v.field}: {v.description}")
        if details["retry_delay_sec"] is not None:
            print(f"  retry after {details['retry_delay_sec'] * 1000:.0f} ms")
        if error.code() != code or info is None or info.reason != reason or info.domain != "gatehouse":
            fail(f"{label}: expected {code.name} with reason {reason}")
        return details
    fail(f"{label}: succeeded, expected {code.name}")


def main():
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:50051"
    with open(os.path.join(HERE, "..", "service-config.json"), encoding="utf-8") as f:
        service_config = f.read()
    options = [("grpc.service_config", service_config), ("grpc.enable_retries", 1)]
    with grpc.insecure_channel(target, options=options) as channel:
        client = auth_grpc.AuthServiceStub(channel)
        email = f"python-{secrets.token_hex(6)}@example.com"
        password = f"{secrets.token_urlsafe(9)} staple horse"

        registered = client.Register(
            auth.RegisterRequest(email=email, password=password), timeout=DEADLINE_SEC
        )
        print(f"register: ok user_id={registered.user.id}")

        logged_in = client.Login(
            auth.LoginRequest(identifier=email, password=password), timeout=DEADLINE_SEC
        )
        if not logged_in.HasField("tokens"):
            fail("login: no tokens")
        print(f"login: ok session_id={logged_in.tokens.session_id}")

        validated = client.ValidateToken(
            auth.ValidateTokenRequest(access_token=logged_in.tokens.access_token),
            timeout=DEADLINE_SEC,
        )
        print(f"validate: active={str(validated.active).lower()} user_id={validated.user_id}")
        if not validated.active or validated.user_id != registered.user.id:
            fail("validate: not active")

        invalid = expect_error(
            "register (invalid email)",
            lambda: client.Register(
                auth.RegisterRequest(email="not-an-email", password=password),
                timeout=DEADLINE_SEC,
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "VALIDATION_FAILED",
        )
        if not any(v.field == "email" for v in invalid["field_violations"]):
            fail("no violation for email")

        expect_error(
            "login (wrong password)",
            lambda: client.Login(
                auth.LoginRequest(identifier=email, password=password + "-wrong"),
                timeout=DEADLINE_SEC,
            ),
            grpc.StatusCode.UNAUTHENTICATED,
            "INVALID_CREDENTIALS",
        )
    print("ok")


if __name__ == "__main__":
    try:
        main()
    except grpc.RpcError as error:
        fail(f"unexpected error: {error.code().name} {error.details()}")
