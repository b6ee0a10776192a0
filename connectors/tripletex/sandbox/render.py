"""Objects as Tripletex sends them, shaped by the `fields` parameter and the published models.

Sources (Tripletex OpenAPI 2.72.00): SPEC-INFO "fields": `project` alone returns only
`{id, url}` of the related object, `project(*)` all its fields, `project(name)` the name;
without `fields`, related objects come back as `{id, url}` stubs; `changes` only when asked
for by name; every model's `url` (readOnly) is the object's own address. The error table:
a name the model does not have is 400, code 11000 "Illegal Filter". The models, and which
of their properties are related objects, come from the spec itself (`connectors.tripletex.spec`).
A field whose value is null is left out (the spec declares no field nullable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from connectors.tripletex import spec
from connectors.tripletex.fields import Tree, parse_fields
from connectors.tripletex.sandbox.envelope import SandboxError

ALL: Tree = {"*": None}
_RESOURCES = {
    "Posting": "ledger/posting",
    "Voucher": "ledger/voucher",
    "Subscription": "event/subscription",
    "PaymentType": "invoice/paymentType",
}

Resolver = Callable[[int], dict[str, Any] | None]


def selection(fields: str | None, model: str) -> Tree:
    """The selection tree of a `fields` parameter for records of `model`; refused with
    400/11000 when it names a field the model does not have."""
    try:
        tree = parse_fields(fields) if fields else ALL
    except ValueError as exc:
        raise SandboxError(400, 11000, f"Illegal Filter: {exc}", "fields") from exc
    tree = tree if tree is not None else ALL
    unknown = spec.unknown_fields(tree, model)
    if unknown:
        raise SandboxError(
            400, 11000, f"Illegal Filter: {', '.join(unknown)} not in {model}", "fields"
        )
    return tree


class Renderer:
    """Renders stored objects (plain dicts, related objects as `{id}` or whole) as the API
    sends them. `resolvers` look a related object up by id where the store keeps only its id
    (a customer on an invoice, an invoice's reminders)."""

    def __init__(self, base_url: str, resolvers: dict[str, Resolver]):
        self.base_url, self.resolvers = base_url.rstrip("/"), resolvers

    def url(self, model: str, object_id: Any) -> str:
        """An object's own address."""
        resource = _RESOURCES.get(model, model[:1].lower() + model[1:])
        return f"{self.base_url}/{resource}/{object_id}"

    def render(self, obj: dict[str, Any], model: str, tree: Tree) -> dict[str, Any]:
        """`obj` as a `model` shaped by `tree` (from `selection`)."""
        fields = spec.model(model)
        star = "*" in tree
        out: dict[str, Any] = {}
        for key in obj if star else (k for k in tree if k != "*"):
            field = fields.get(key)
            value = obj.get(key)
            if field is None or value is None or (key == "changes" and key not in tree):
                continue  # the store's own keys, nulls, and changes unless named
            sub = tree.get(key)
            if field.related:
                assert field.target is not None
                if field.is_list:
                    out[key] = [self._related(v, field.target, sub) for v in value]
                else:
                    out[key] = self._related(value, field.target, sub)
            elif field.target is not None:  # an embedded value object: all of it by default
                target = field.target
                inner = sub if sub is not None else ALL
                out[key] = (
                    [self.render(v, target, inner) for v in value]
                    if field.is_list
                    else self.render(value, target, inner)
                )
            else:
                out[key] = value
        if "url" in fields and "id" in obj and (star or "url" in tree):
            out["url"] = self.url(model, obj["id"])
        return out

    def _related(self, ref: dict[str, Any], model: str, sub: Tree | None) -> dict[str, Any]:
        if sub is None:
            return {"id": ref["id"], "url": self.url(model, ref["id"])}
        whole = ref
        if set(ref) == {"id"} and model in self.resolvers:
            whole = self.resolvers[model](ref["id"]) or ref
        return self.render(whole, model, sub)
