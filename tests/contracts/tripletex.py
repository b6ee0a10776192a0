"""Contract checks against Tripletex's published OpenAPI description (2.72.00, kept in
connectors/tripletex/spec/ with its source).

`ContractTransport` wraps the httpx transport of a Tripletex client: every request the client
makes and every answer it gets are checked, and a breach fails the test at once, naming the
operation and what is wrong. Checked with openapi-core (path, method, parameters, their types
and enums, required ones, the body; the answer's JSON against the operation's schema, an
error's against `ApiError`), plus what openapi-core leaves open: a query parameter the
operation does not declare, a `fields` or `sorting` name the record model does not have, a
read-only or unknown property in a body, and the headers SPEC-INFO promises on every answer.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from urllib.parse import unquote

import httpx
import jsonschema_rs
from jsonschema_path import SchemaPath
from openapi_core.datatypes import RequestParameters
from openapi_core.validation.request import V30RequestParametersValidator
from werkzeug.datastructures import Headers, ImmutableMultiDict

from connectors.tripletex import spec
from connectors.tripletex.fields import parse_fields

SERVER = "https://tripletex.no"  # the spec's server is https://tripletex.no/v2
# SPEC-INFO: "Every response carries the header x-tlx-request-id"; "Rate limiting": the three
# X-Rate-Limit headers on responses.
ANSWER_HEADERS = (
    "x-tlx-request-id",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
)


class ContractError(AssertionError):
    """A request or an answer the published spec does not allow."""


@cache
def _parameters() -> V30RequestParametersValidator:
    """openapi-core's check of a request's path, method and parameters (the spec itself is not
    validated: see SOURCE.md). Bodies are checked with the answers' validator below: this
    openapi-core version refuses every body of a model with read-only fields."""
    return V30RequestParametersValidator(SchemaPath.from_dict(_integer_defaults(spec.document())))


def _integer_defaults(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the known flaw of the source mended: `from`/`count` declare string
    defaults ("0", "1000") for integer parameters, which openapi-core applies and then
    refuses (SOURCE.md)."""
    fixed = copy.deepcopy(document)
    for operations in fixed["paths"].values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if schema.get("type") == "integer" and isinstance(schema.get("default"), str):
                    schema["default"] = int(schema["default"])
    return fixed


@dataclass
class _Request:
    """An httpx request as openapi-core reads one, always on the spec's own server."""

    request: httpx.Request
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(list(self.request.url.params.multi_items())),
            header=Headers(list(self.request.headers.items())),
        )

    host_url = SERVER

    @property
    def path(self) -> str:
        return unquote(self.request.url.path)

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("content-type", "application/json").lower()


def _template(request: httpx.Request) -> str:
    path = unquote(request.url.path).removeprefix("/v2")
    paths = spec.document()["paths"]
    if path in paths:
        return path
    parts = path.split("/")
    # The most literal template first: `/invoice/paymentType` before `/invoice/{id}`.
    for candidate in sorted(paths, key=lambda c: c.count("{")):
        pieces = candidate.split("/")
        if len(pieces) == len(parts) and all(
            p == q or (p.startswith("{") and p.endswith("}") and q)
            for p, q in zip(pieces, parts, strict=True)
        ):
            if request.method.lower() in paths[candidate]:
                return candidate
    raise ContractError(f"{request.method} {path}: no such path in Tripletex {spec.VERSION}")


def _fail(where: str, problem: str) -> None:
    raise ContractError(f"{where}: {problem} (Tripletex OpenAPI {spec.VERSION})")


def check_request(request: httpx.Request) -> str:
    """Check one request; returns `METHOD /template`."""
    path = _template(request)
    where = f"{request.method} {path}"
    op = spec.operation(path, request.method)
    declared = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "query"}
    sent = set(request.url.params.keys())
    unknown = sorted(sent - declared.keys())
    if unknown:
        _fail(where, f"query parameter(s) {unknown} not declared")
    try:
        _parameters().validate(_Request(request))
    except Exception as exc:  # noqa: BLE001 - openapi-core raises many kinds; all mean a breach
        _fail(where, f"request refused by the spec: {_cause(exc)}")
    record = spec.record_model(path, request.method)
    if "fields" in request.url.params and record:
        bad = spec.unknown_fields(parse_fields(request.url.params["fields"]), record)
        if bad:
            _fail(where, f"fields {bad} not in {record}")
    if "sorting" in request.url.params and record:
        names = [
            s.strip().lstrip("-").split(".")[0] for s in request.url.params["sorting"].split(",")
        ]
        bad = [n for n in names if n and n not in spec.model(record)]
        if bad:
            _fail(where, f"sorting by {bad}, not fields of {record}")
    if request.content:
        _check_body(where, op, request)
    return f"{request.method} {path}"


def _check_body(where: str, op: dict[str, Any], request: httpx.Request) -> None:
    content = op.get("requestBody", {}).get("content", {})
    # The media type without its parameters: the spec declares "application/json" for some
    # operations and "application/json; charset=utf-8" for others, both UTF-8 JSON.
    by_type = {k.split(";")[0].strip(): v for k, v in content.items()}
    sent_type = request.headers.get("content-type", "").split(";")[0].strip()
    if sent_type not in by_type:
        _fail(where, f"body sent as {sent_type!r}, the spec takes {sorted(content)}")
    name = by_type[sent_type].get("schema", {}).get("$ref", "").rsplit("/", 1)[-1]
    _validate(where, name, request.content)
    body = json.loads(request.content)
    if not isinstance(body, dict):
        return
    fields = spec.model(name)
    unknown = sorted(set(body) - fields.keys())
    read_only = sorted(k for k in body if k in fields and fields[k].read_only)
    if unknown:
        _fail(where, f"body field(s) {unknown} not in {name}")
    if read_only:
        _fail(where, f"body sets read-only field(s) {read_only} of {name}")


def check_response(request: httpx.Request, response: httpx.Response) -> None:
    """Check one answer to `request`."""
    path = _template(request)
    where = f"{request.method} {path} -> {response.status_code}"
    missing = [h for h in ANSWER_HEADERS if h not in response.headers]
    if missing:
        _fail(where, f"answer without header(s) {missing}")
    if response.status_code == 304:
        # The checksum feature (CHECKSUM doc): a 304 to If-None-Match, never otherwise.
        if "if-none-match" not in request.headers:
            _fail(where, "304 without If-None-Match")
        return
    if response.status_code >= 400:
        _check_error(where, response)
        return
    if response.status_code == 204 or not response.content:
        return
    schema = _answer_schema(path, request.method)
    if schema is None:
        _fail(where, "the operation declares no JSON answer")
    _validate(where, str(schema), response.content)


def _answer_schema(path: str, method: str) -> str | None:
    responses = spec.operation(path, method)["responses"]
    answer = responses.get("200") or responses.get("201") or responses.get("default") or {}
    ref = (answer.get("content") or {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref.rsplit("/", 1)[-1] if ref else None


@cache
def _validator(schema: str) -> Any:
    # jsonschema-rs (Rust) for answers: a page of a thousand invoices in milliseconds. The
    # spec declares nothing nullable, so JSON Schema's types read it as OpenAPI 3.0 does.
    document = spec.document()
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    )


def _validate(where: str, schema: str, content: bytes) -> None:
    try:
        body = json.loads(content)
    except ValueError:
        _fail(where, "not JSON")
    errors = list(itertools.islice(_validator(schema).iter_errors(body), 3))
    if errors:
        found = "; ".join(
            f"{'.'.join(map(str, e.instance_path)) or '(body)'}: {e.message[:120]}" for e in errors
        )
        _fail(where, f"not a {schema}: {found}")


def _check_error(where: str, response: httpx.Response) -> None:
    # SPEC-INFO documents the error envelope; the spec's ApiError is its schema.
    _validate(where, "ApiError", response.content)


def _cause(exc: BaseException) -> str:
    """The schema errors behind an openapi-core refusal (path: message), else its message."""
    seen: BaseException | None = exc
    head = f"{exc}: " if len(str(exc)) < 100 else ""  # "Invalid query parameter: type"
    while seen is not None:
        errors = getattr(seen, "schema_errors", None)
        if errors:
            return head + "; ".join(
                f"{'.'.join(str(p) for p in e.absolute_path) or '(value)'}: {e.message[:120]}"
                for e in errors[:3]
            )
        seen = seen.__cause__ or seen.__context__
    return f"{type(exc).__name__}: {str(exc)[:300]}"


class ContractTransport(httpx.BaseTransport):
    """An httpx transport that checks every exchange against the spec (see the module)."""

    def __init__(self, inner: httpx.BaseTransport | None = None):
        self.inner = inner or httpx.HTTPTransport()
        self.seen: set[str] = set()
        # Off only where a test makes the sandbox break the contract on purpose.
        self.check_answers = True
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        operation = check_request(request)
        response = self.inner.handle_request(request)
        response.read()
        if self.check_answers:
            check_response(request, response)
        with self._lock:
            self.seen.add(operation)
        return response

    def close(self) -> None:
        self.inner.close()
