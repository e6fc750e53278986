"""Fuzzing every operation of the OpenAPI document, as an admin and as a member: nothing a client can send is
answered with a 5xx, and every answer matches the document (documented status, problem+json media type and
schema, headers, Allow on unsupported methods, 401 without a token).

Bounded and deterministic: Hypothesis is derandomized with a few examples per operation; the app runs in-process
(schemathesis's ASGI client) over SQLite in a temporary directory with the scripted extractor. The fuller,
time-boxed ``st run`` against a real server (a few minutes per role) found the problems this guards against.

Two checks are left out. ``positive_data_acceptance``: the document cannot express every rule the services apply
(an email must be unused, a role must exist, a correction needs a version), so schema-valid requests are rightly
refused with a documented 4xx. ``negative_data_rejection``: its "invalid" requests are often valid on the wire (a
query value made an array arrives as one string, unknown query parameters are ignored as HTTP APIs do, a mangled
Authorization header is replaced by ours) and too many files is a 413, not in its list; the 5xx and conformance
checks still run on every negative case. ``/api/events`` is left out: a stream that never ends (test_events_api).

Stateful: schemathesis infers the links between operations from the document (a ``POST /users`` answer's ``id``
feeds ``/users/{user_id}/...``, a listing's receipt ids feed ``/api/receipts/{rid}``...) and Hypothesis walks
sequences of linked calls, as an admin and as a member, each on an app and data dir of its own (a sequence may
disable or demote the very caller), with the same checks on every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.core.transport import Response
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from receiptcore.entrypoints.container import close_container
from receiptcore.entrypoints.http.app import create_app
from receiptcore.entrypoints.http.security import PUBLIC_ROUTES
from receiptcore.services.receipts import Upload
from tests.api.conftest import ADMIN_EMAIL, MAX_FILES, PASSWORD, jpeg, make_container, make_settings

MEMBER_EMAIL = "fuzz-member@example.com"
FUZZ_ROLE = "fuzz-role"
EXAMPLES_PER_OPERATION = 25


async def _seed(data_dir: Path) -> dict[str, Any]:
    """Users (an admin, a member, a third user to be managed), a custom role, an extracted receipt of the admin
    and of the member, and the access tokens, made with a container of their own (closed again, so that the app's
    container opens its connections on the fuzzer's event loop)."""
    container = make_container(make_settings(data_dir, access_token_ttl_seconds=3600))
    try:
        users, auth = container.user_service(), container.auth_service()
        await users.create_admin(ADMIN_EMAIL, PASSWORD)
        admin = await auth.login(ADMIN_EMAIL, PASSWORD)
        admin_principal = await auth.authenticate(admin.access_token)
        await users.create_user(admin_principal, MEMBER_EMAIL, PASSWORD)
        managed = await users.create_user(admin_principal, "fuzz-managed@example.com", PASSWORD)
        await container.role_service().create_role(admin_principal, FUZZ_ROLE, ["receipts:read"])
        member = await auth.login(MEMBER_EMAIL, PASSWORD)
        receipts = {}
        for role, session in (("admin", admin), ("member", member)):
            principal = await auth.authenticate(session.access_token)
            (outcome,) = await container.receipt_service().upload(principal, [Upload(content=jpeg(), filename="r.jpg")])
            receipts[role] = outcome.receipt.id
        while await container.extraction_service().run_once("fuzz-seed") is not None:
            pass
        return {
            "tokens": {"admin": admin.access_token, "member": member.access_token},
            "receipts": receipts,
            "managed_user": managed.id,
        }
    finally:
        await close_container(container)


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any]]:
    """The app over a seeded data dir, and what was seeded (one app for both roles). Schemathesis's ASGI client
    runs the app's lifespan on its own event loop until the process exits."""
    data_dir = tmp_path_factory.mktemp("fuzz")
    seeded = asyncio.run(_seed(data_dir))
    return create_app(make_container(make_settings(data_dir, access_token_ttl_seconds=3600))), seeded


_FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is reported as found
)


def _fuzz_operation(
    operation: Any, mode: GenerationMode, token: str, path_parameters: dict[str, str] | None = None
) -> None:
    # with real path parameters, If-Match "*" lets corrections reach the service (no version to guess)
    headers = {"If-Match": "*"} if path_parameters and "If-Match" in _header_names(operation) else None
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters, headers=headers)

    @given(case=strategy)
    @_FUZZ_SETTINGS
    def run(case: Any) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"},
            excluded_checks=[positive_data_acceptance, negative_data_rejection],
        )
        assert response.status_code < 500, f"{operation.label}: {response.status_code} {response.text[:500]}"

    try:
        run()
    except Unsatisfiable:
        # an operation with no parameters and no body has no invalid form
        if mode is not GenerationMode.NEGATIVE:
            raise


def _header_names(operation: Any) -> set[str]:
    return {p.get("name") for p in operation.definition.raw.get("parameters", []) if p.get("in") == "header"}


@pytest.mark.parametrize("role", ["admin", "member"])
def test_no_operation_answers_5xx_or_off_the_document(role: str, fuzz_app: tuple[Any, dict[str, Any]]) -> None:
    app, seeded = fuzz_app
    token = seeded["tokens"][role]
    existing = {"rid": seeded["receipts"][role], "user_id": seeded["managed_user"], "name": FUZZ_ROLE}
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25, "the document lost its operations"
    # deletions last, so that the other operations still find the seeded resources
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for operation in operations:
        if operation.path == "/api/events":
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz_operation(operation, mode, token)
        names = [name for name in existing if "{" + name + "}" in operation.path]
        if names:
            # the same operation on a resource that exists (random ids only ever reach "not found")
            _fuzz_operation(operation, GenerationMode.POSITIVE, token, {name: existing[name] for name in names})


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in {"get", "put", "post", "patch", "delete"}:
                yield f"{method.upper()} {path}", operation


def test_document_lists_problem_responses_per_route(fuzz_app: tuple[Any, dict[str, Any]]) -> None:
    """What the fuzzer cannot reach on its own: statuses that need a particular state are still documented."""
    app, _ = fuzz_app
    document = app.openapi_schema.to_schema()
    operations = dict(_operations(document))
    for key, operation in operations.items():
        responses = operation["responses"]
        public = operation.get("security") == [{}]
        assert public == (key in PUBLIC_ROUTES), key
        if not public:
            assert {"401", "403"} <= responses.keys(), key
        for status, response in responses.items():
            if int(status) >= 400 and key != "GET /health/ready":
                assert list(response["content"]) == ["application/problem+json"], (key, status)
            if status == "204":
                assert "content" not in response, key
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= responses.keys(), key
    expected = {
        "POST /auth/login": {"401", "429"},
        "POST /users": {"409", "422"},
        "PATCH /api/receipts/{rid}": {"404", "409", "412", "428"},
        "POST /api/receipts/{rid}/confirm": {"404", "409", "412"},
        "DELETE /roles/{name}": {"404", "409"},
        "POST /api/receipts": {"200", "202", "413", "415", "422"},
        "GET /api/receipts": {"403", "422"},
    }
    for key, statuses in expected.items():
        assert statuses <= operations[key]["responses"].keys(), key
    upload = operations["POST /api/receipts"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert upload["properties"]["file"]["maxItems"] == MAX_FILES
    assert document["components"]["schemas"]["LoginRequest"]["additionalProperties"] is False


STATEFUL_SCENARIOS = 15
STATEFUL_STEPS = 6


@pytest.mark.parametrize("role", ["admin", "member"])
def test_linked_call_sequences_never_answer_5xx_or_off_the_document(
    role: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp(f"stateful-{role}")
    seeded = asyncio.run(_seed(data_dir))
    app = create_app(make_container(make_settings(data_dir, access_token_ttl_seconds=3600)))
    token = seeded["tokens"][role]
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    machine = schema.as_state_machine()
    assert len(machine.bundles) > 10, "schemathesis no longer finds links between the operations"
    steps: list[tuple[str, int]] = []

    class Sequences(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(self, response: Response, case: Any, **kwargs: Any) -> None:
            steps.append((case.operation.label, response.status_code))
            assert response.status_code < 500, f"{case.operation.label}: {response.status_code} {response.text[:500]}"
            case.validate_response(
                response, excluded_checks=[positive_data_acceptance, negative_data_rejection], transport_kwargs=kwargs
            )

    Sequences.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=STATEFUL_STEPS,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
    )
    linked = {label for label, _ in steps if "{" in label}
    print(f"stateful fuzz as {role}: {len(steps)} calls, {len(linked)} operations reached through links")
    assert linked, "no sequence ever followed a link"
