"""The service's main flows, driven through the Python client that
openapi-python-client generates from the OpenAPI document (docs/clients.md).

    python flow.py [base-url]        (default http://127.0.0.1:8080)

Needs the generated package `owned_api_client` on the path. Every call goes
through the client, never raw HTTP; each check prints one line, and the first
that fails stops the script with status 1. Usernames get a random suffix, so
the flow runs against a service that already has users.

Each user logs in, makes an API key with the login token, and does the rest
(posts, cleanings, offers) with a client that sends only `X-API-Key`; the
key's limits are checked too: it cannot list keys (login only), a `read` key
cannot write, and a revoked key is 401 on its next call.
"""

import secrets
import sys
from http import HTTPStatus
from typing import TypeVar
from uuid import UUID

from owned_api_client import AuthenticatedClient, Client
from owned_api_client.api.api_keys import create_api_key, list_api_keys, revoke_api_key
from owned_api_client.api.auth import login, refresh, register
from owned_api_client.api.cleanings import create_cleaning, list_cleaning_feed
from owned_api_client.api.offers import accept_offer, create_offer, list_cleaning_offers
from owned_api_client.api.posts import (
    create_post,
    delete_post,
    get_post,
    list_posts,
    update_post,
)
from owned_api_client.api.users import get_me
from owned_api_client.models import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPage,
    CleaningCreate,
    CleaningPage,
    CleaningResponse,
    CleaningType,
    LoginForm,
    LoginRequest,
    OfferCreate,
    OfferPage,
    OfferResponse,
    OfferStatus,
    PasswordGrant,
    PostCreate,
    PostPage,
    PostResponse,
    PostUpdate,
    ProblemDetails,
    RefreshRequest,
    Scope,
    TokenResponse,
    UserCreate,
    UserResponse,
)
from owned_api_client.types import Response

BASE = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
RUN = secrets.token_hex(3)
PASSWORD = "Secret123"
checks = 0
T = TypeVar("T")


def expect(what: str, response: Response, status: int, kind: type[T]) -> T:
    """The response's parsed body, if it has this status and type; else stop."""
    global checks
    parsed = response.parsed
    if response.status_code != status or not isinstance(parsed, kind):
        sys.exit(
            f"FAIL {what}: expected {status} {kind.__name__}, got "
            f"{int(response.status_code)} {type(parsed).__name__}: {response.content[:300]!r}"
        )
    checks += 1
    print(f"ok   {what}: {status} {kind.__name__}")
    return parsed


def ensure(what: str, condition: bool, detail: object = "") -> None:
    global checks
    if not condition:
        sys.exit(f"FAIL {what} {detail}")
    checks += 1
    print(f"ok   {what}")


def problem(what: str, response: Response, status: int) -> ProblemDetails:
    """A documented error: the client parses it into the typed ProblemDetails."""
    body = expect(what, response, status, ProblemDetails)
    ensure(f"{what}: the problem's status is {status}", body.status == status, body)
    return body


anonymous = Client(base_url=BASE, raise_on_unexpected_status=True)


def sign_up(name: str) -> tuple[str, TokenResponse]:
    """Registers `name` (made unique) and logs in with the OAuth2 form."""
    username = f"{name}_{RUN}"
    user = expect(
        f"register {username}",
        register.sync_detailed(
            client=anonymous,
            body=UserCreate(username=username, email=f"{username}@example.com", password=PASSWORD),
        ),
        HTTPStatus.CREATED,
        UserResponse,
    )
    ensure(f"{username} is a user", user.role.value == "user", user.role)
    tokens = expect(
        f"log in as {username} (form)",
        login.sync_detailed(
            client=anonymous,
            body=LoginForm(grant_type=PasswordGrant.PASSWORD, username=username, password=PASSWORD),
        ),
        HTTPStatus.OK,
        TokenResponse,
    )
    return username, tokens


def as_user(tokens: TokenResponse) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=BASE, token=tokens.access_token, raise_on_unexpected_status=True)


def make_key(who: str, login_client: AuthenticatedClient, scopes: list[Scope]) -> ApiKeyCreated:
    """An API key made with a login token; its secret is in this answer only."""
    names = ",".join(s.value for s in scopes)
    response = create_api_key.sync_detailed(
        client=login_client,
        body=ApiKeyCreate(name=f"flow.py {names} {RUN}", scopes=scopes, expires_in_days=1),
    )
    key = expect(f"{who} makes a {names} API key", response, HTTPStatus.CREATED, ApiKeyCreated)
    ensure(
        f"{who}'s key: oak_, 47 characters, the asked scopes, its Location",
        key.key.startswith("oak_")
        and len(key.key) == 47
        and key.key.startswith(key.prefix)
        and key.scopes == scopes
        and response.headers.get("Location") == f"/api/v1/users/me/api-keys/{key.id}",
        (key.prefix, len(key.key), key.scopes, response.headers.get("Location")),
    )
    return key


def by_key(key: ApiKeyCreated) -> AuthenticatedClient:
    """A client whose only credential is the key, in `X-API-Key`."""
    return AuthenticatedClient(
        base_url=BASE, token=key.key, prefix="", auth_header_name="X-API-Key", raise_on_unexpected_status=True
    )


# Accounts and sessions.
alice_name, alice_tokens = sign_up("alice")
alice = as_user(alice_tokens)
expect(
    "log in with JSON too",
    login.sync_detailed(client=anonymous, body=LoginRequest(username=alice_name, password=PASSWORD)),
    HTTPStatus.OK,
    TokenResponse,
)
me_response = get_me.sync_detailed(client=alice)
me = expect("users/me", me_response, HTTPStatus.OK, UserResponse)
ensure("users/me is alice", me.username == alice_name, me.username)
ensure("users/me has an ETag", me_response.headers.get("ETag", "").startswith('"'), me_response.headers)

refreshed = expect(
    "refresh the tokens",
    refresh.sync_detailed(client=anonymous, body=RefreshRequest(refresh_token=alice_tokens.refresh_token)),
    HTTPStatus.OK,
    TokenResponse,
)
ensure("a new refresh token", refreshed.refresh_token != alice_tokens.refresh_token)
alice = as_user(refreshed)
ensure(
    "the new access token works",
    expect("users/me with it", get_me.sync_detailed(client=alice), HTTPStatus.OK, UserResponse).id == me.id,
)
problem(
    "the spent refresh token again",
    refresh.sync_detailed(client=anonymous, body=RefreshRequest(refresh_token=alice_tokens.refresh_token)),
    HTTPStatus.UNAUTHORIZED,
)

# API keys: alice makes one with her login token; from here on her client
# sends only the key. A key may not manage keys: listing them is 403.
alice_login = alice
alice_key = make_key("alice", alice_login, [Scope.WRITE])
alice = by_key(alice_key)
ensure(
    "the key acts as alice",
    expect("users/me with the key", get_me.sync_detailed(client=alice), HTTPStatus.OK, UserResponse).id == me.id,
)
problem("list API keys with the key alone (login only)", list_api_keys.sync_detailed(client=alice), HTTPStatus.FORBIDDEN)

# Posts, with the key: create, list page by page, update with If-Match, delete.
created: list[UUID] = []
for n in range(1, 4):
    post = expect(
        f"create post {n}",
        create_post.sync_detailed(
            client=alice,
            body=PostCreate(title=f"Post {n} of {alice_name}", body="Written through the SDK.", published=True),
            idempotency_key=f"{RUN}-post-{n}",
        ),
        HTTPStatus.CREATED,
        PostResponse,
    )
    ensure(f"post {n} is alice's", post.author_username == alice_name)
    created.append(post.id)

seen: list[UUID] = []
page = expect(
    "list posts, limit 2",
    list_posts.sync_detailed(client=anonymous, author=alice_name, limit=2),
    HTTPStatus.OK,
    PostPage,
)
ensure("first page: 2 posts and more", len(page.data) == 2 and page.has_more and page.next_cursor, page)
seen += [p.id for p in page.data]
page = expect(
    "follow next_cursor",
    list_posts.sync_detailed(client=anonymous, author=alice_name, limit=2, cursor=page.next_cursor),
    HTTPStatus.OK,
    PostPage,
)
ensure("last page: 1 post, no cursor", len(page.data) == 1 and not page.has_more and page.next_cursor is None, page)
seen += [p.id for p in page.data]
ensure("the pages hold every post once, newest first", seen == created[::-1], seen)

post_id = created[0]
read = get_post.sync_detailed(post_id, client=alice)
expect("get a post", read, HTTPStatus.OK, PostResponse)
etag = read.headers["ETag"]
patched = update_post.sync_detailed(post_id, client=alice, body=PostUpdate(title="Hello again"), if_match=etag)
ensure("PATCH with the current ETag", expect("PATCH", patched, HTTPStatus.OK, PostResponse).title == "Hello again")
ensure("the ETag changed", patched.headers["ETag"] != etag)
problem(
    "PATCH with the stale ETag",
    update_post.sync_detailed(post_id, client=alice, body=PostUpdate(title="Too late"), if_match=etag),
    HTTPStatus.PRECONDITION_FAILED,
)
deleted = delete_post.sync_detailed(post_id, client=alice, if_match=patched.headers["ETag"])
ensure("DELETE is 204", deleted.status_code == HTTPStatus.NO_CONTENT, deleted.content)
problem("the deleted post", get_post.sync_detailed(post_id, client=alice), HTTPStatus.NOT_FOUND)

# A key's limits: a read key reads but may not write, not even alice's own
# post; a revoked key is 401 on its very next call.
reader = by_key(make_key("alice", alice_login, [Scope.READ]))
expect("get a post with the read key", get_post.sync_detailed(created[1], client=reader), HTTPStatus.OK, PostResponse)
refused = problem(
    "PATCH alice's post with the read key",
    update_post.sync_detailed(created[1], client=reader, body=PostUpdate(title="Not with read")),
    HTTPStatus.FORBIDDEN,
)
ensure("the 403 names the write scope", "`write`" in str(refused.detail), refused.detail)
keys = expect(
    "alice lists her keys (login token)", list_api_keys.sync_detailed(client=alice_login), HTTPStatus.OK, ApiKeyPage
)
ensure(
    "the write key is listed, without the key itself",
    any(k.id == alice_key.id for k in keys.data) and all("key" not in k.additional_properties for k in keys.data),
    keys.data,
)
revoked = revoke_api_key.sync_detailed(alice_key.id, client=alice_login)
ensure("revoke the write key (login token): 204", revoked.status_code == HTTPStatus.NO_CONTENT, revoked.content)
problem("users/me with the revoked key", get_me.sync_detailed(client=alice), HTTPStatus.UNAUTHORIZED)
keys = expect(
    "alice lists her keys again", list_api_keys.sync_detailed(client=alice_login), HTTPStatus.OK, ApiKeyPage
)
ensure("the revoked key is gone from the list", all(k.id != alice_key.id for k in keys.data), keys.data)

# The marketplace, each with a write key: olivia posts a job, carlos
# offers, olivia accepts.
_, olivia_tokens = sign_up("olivia")
olivia = by_key(make_key("olivia", as_user(olivia_tokens), [Scope.WRITE]))
carlos_name, carlos_tokens = sign_up("carlos")
carlos = by_key(make_key("carlos", as_user(carlos_tokens), [Scope.WRITE]))
cleaning = expect(
    "olivia posts a cleaning",
    create_cleaning.sync_detailed(
        client=olivia,
        body=CleaningCreate(name="Two-room flat", description="Windows too", price=49.5,
                            cleaning_type=CleaningType.FULL_CLEAN),
    ),
    HTTPStatus.CREATED,
    CleaningResponse,
)
ensure("the price comes back as 49.5", cleaning.price == 49.5, cleaning.price)
# The feed is newest first: on a fresh service the cleaning leads the first
# page; on a busy one, others may have posted since.
feed = expect(
    "carlos reads the feed",
    list_cleaning_feed.sync_detailed(client=carlos, limit=100),
    HTTPStatus.OK,
    CleaningPage,
)
ensure("the cleaning is in carlos's feed", any(c.id == cleaning.id for c in feed.data))
offer = expect(
    "carlos offers",
    create_offer.sync_detailed(cleaning.id, client=carlos, body=OfferCreate()),
    HTTPStatus.CREATED,
    OfferResponse,
)
ensure("the offer is pending", offer.status == OfferStatus.PENDING, offer.status)
offers = expect(
    "olivia lists the offers",
    list_cleaning_offers.sync_detailed(cleaning.id, client=olivia),
    HTTPStatus.OK,
    OfferPage,
)
ensure("carlos's offer is listed", [o.username for o in offers.data] == [carlos_name], offers.data)
accepted = expect(
    "olivia accepts",
    accept_offer.sync_detailed(cleaning.id, carlos_name, client=olivia),
    HTTPStatus.OK,
    OfferResponse,
)
ensure("the offer is accepted", accepted.status == OfferStatus.ACCEPTED, accepted.status)
problem(
    "carlos tries to accept his own offer",
    accept_offer.sync_detailed(cleaning.id, carlos_name, client=carlos),
    HTTPStatus.FORBIDDEN,
)

print(f"{checks} passed, 0 failed")
