"""Load gen.yaml, the OpenAPI document and its overlay into one intermediate form (:class:`Api`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from . import overlay
from .naming import field_name, param_name, pascal, snake

_PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
_REF_PREFIX = "#/components/schemas/"


class SpecError(Exception):
    """The document uses something the generator does not support (or is inconsistent)."""


@dataclass(frozen=True)
class Type:
    """A type in the intermediate form; nullability lives on :class:`Field`."""

    kind: str  # "prim" | "ref" | "list" | "map" | "literal" | "union" | "any"
    name: str = ""  # prim: Python builtin; ref: model name
    args: tuple[Type, ...] = ()
    values: tuple[str, ...] = ()  # literal values


ANY = Type("any")


@dataclass(frozen=True)
class Field:
    wire: str
    attr: str
    type: Type
    required: bool
    nullable: bool
    description: str = ""
    example: Any = None
    deprecated: bool = False


@dataclass(frozen=True)
class Model:
    name: str
    module: str
    kind: str  # "object" | "enum" | "union"
    description: str = ""
    fields: tuple[Field, ...] = ()
    values: tuple[str, ...] = ()
    variants: tuple[Type, ...] = ()
    discriminator: str | None = None
    example: Any = None
    #: For SSE item models: the field that wraps the bare object the wire sends (``data``).
    envelope: str | None = None

    @property
    def nullable_fields(self) -> tuple[str, ...]:
        return tuple(sorted(f.wire for f in self.fields if f.nullable))


@dataclass(frozen=True)
class Param:
    name: str
    field: Field


@dataclass(frozen=True)
class Confidential:
    flow: str
    marker: str
    request: str
    response: str
    stream_item: str | None


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method_name: str
    http_method: str
    path: str
    summary: str
    description: str
    request: str | None
    response: str | None
    stream: bool
    sentinel: str | None
    security: bool
    retry_rule: str
    params: tuple[Param, ...]
    fixed: tuple[tuple[str, Any], ...]
    errors: tuple[tuple[str, str], ...]
    confidential: Confidential | None = None
    plain_params: tuple[Param, ...] = ()
    plain_fixed: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Resource:
    tag: str
    module: str
    class_name: str
    description: str
    operations: tuple[Operation, ...]

    @property
    def docs_dir(self) -> str:
        return self.class_name.lower()


@dataclass
class Api:
    title: str
    server_url: str
    config: dict[str, Any]
    models: dict[str, Model] = field(default_factory=dict)
    resources: tuple[Resource, ...] = ()
    spec_sha256: str = ""
    overlay_sha256: str = ""
    config_sha256: str = ""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Builder:
    """Turns component schemas into :class:`Model` s; inline objects get their owner's name."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.schemas: dict[str, Any] = doc.get("components", {}).get("schemas", {})
        self.models: dict[str, Model] = {}

    # -- schemas ----------------------------------------------------------------------------------
    def ref_name(self, schema: dict[str, Any]) -> str:
        ref = schema["$ref"]
        if not ref.startswith(_REF_PREFIX) or ref[len(_REF_PREFIX) :] not in self.schemas:
            raise SpecError(f"unsupported $ref {ref!r}")
        return str(ref[len(_REF_PREFIX) :])

    def deref(self, schema: dict[str, Any]) -> dict[str, Any]:
        return self.schemas[self.ref_name(schema)] if "$ref" in schema else schema

    def flatten(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Merge ``allOf`` parts into one object schema (later parts win, ``required`` is the union)."""
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
        for ref in schema["allOf"]:
            part = self.flatten(self.deref(ref))
            merged["properties"].update(part.get("properties", {}))
            merged["required"] += [r for r in part.get("required", []) if r not in merged["required"]]
        for key in ("description", "title"):
            if key in schema:
                merged[key] = schema[key]
        return merged

    def build_all(self) -> dict[str, Model]:
        for name in sorted(self.schemas):
            self.build(name, self.schemas[name], snake(name))
        return dict(sorted(self.models.items()))

    def build(self, name: str, schema: dict[str, Any], module: str) -> Model:
        if name in self.models:
            return self.models[name]
        schema = self.flatten(schema)
        description = str(schema.get("description", "")).strip()
        if "enum" in schema:
            model = Model(name, module, "enum", description, values=tuple(str(v) for v in schema["enum"]))
        elif "oneOf" in schema or "anyOf" in schema:
            variants: list[Type] = []
            for index, variant in enumerate(schema.get("oneOf") or schema.get("anyOf"), 1):
                if variant.get("type") == "null":
                    raise SpecError(f"{name}: a nullable top-level union is not supported")
                title = pascal(str(variant.get("title", ""))) or str(index)
                variants.append(self.type_of(variant, name + title, module)[0])
            model = Model(
                name,
                module,
                "union",
                description,
                variants=tuple(variants),
                discriminator=self.discriminator(variants),
            )
        elif schema.get("type", "object") == "object":
            required = set(schema.get("required", []))
            fields = []
            for wire, prop in schema.get("properties", {}).items():
                typ, nullable = self.type_of(prop, name + pascal(wire), module)
                fields.append(
                    Field(
                        wire=wire,
                        attr=field_name(wire),
                        type=typ,
                        required=wire in required,
                        nullable=nullable,
                        description=_description(prop),
                        example=prop.get("example"),
                        deprecated=bool(prop.get("deprecated")),
                    )
                )
            model = Model(
                name, module, "object", description, fields=tuple(fields), example=schema.get("example")
            )
        else:
            raise SpecError(f"{name}: top-level schema of type {schema.get('type')!r} is not supported")
        self.models[name] = model
        return model

    def discriminator(self, variants: list[Type]) -> str | None:
        """The property whose single-valued literal tells the variants apart, if there is one."""
        if len(variants) < 2 or any(v.kind != "ref" for v in variants):
            return None
        models = [self.models.get(v.name) for v in variants]
        if any(m is None or m.kind != "object" for m in models):
            return None
        candidates = None
        for model in models:
            assert model is not None
            keys = {
                f.wire
                for f in model.fields
                if f.required and f.type.kind == "literal" and len(f.type.values) == 1
            }
            candidates = keys if candidates is None else candidates & keys
        for key in sorted(candidates or ()):
            values = [next(f.type.values[0] for f in m.fields if f.wire == key) for m in models if m]
            if len(set(values)) == len(values):
                return key
        return None

    def type_of(self, schema: dict[str, Any], inline_name: str, module: str) -> tuple[Type, bool]:
        """The type of ``schema`` and whether it admits null; inline objects become models."""
        if "$ref" in schema:
            name = self.ref_name(schema)
            return Type("ref", name), False
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type_of(schema["allOf"][0], inline_name, module)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                variants = schema[key]
                nullable = any(v.get("type") == "null" for v in variants)
                rest = [v for v in variants if v.get("type") != "null"]
                types = [self.type_of(v, f"{inline_name}{i}", module)[0] for i, v in enumerate(rest, 1)]
                if len(types) == 1:
                    return types[0], nullable
                return Type("union", args=tuple(types)), nullable
        raw = schema.get("type")
        kinds = raw if isinstance(raw, list) else ([raw] if raw else [])
        nullable = "null" in kinds
        kinds = [k for k in kinds if k != "null"]
        if "enum" in schema:
            return Type("literal", values=tuple(str(v) for v in schema["enum"] if v is not None)), nullable
        if not kinds:
            return ANY, nullable
        if len(kinds) > 1:
            raise SpecError(f"{inline_name}: multi-type schemas are not supported")
        kind = kinds[0]
        if kind in _PRIMITIVES:
            return Type("prim", _PRIMITIVES[kind]), nullable
        if kind == "array":
            item, _ = self.type_of(schema.get("items") or {}, inline_name + "Item", module)
            return Type("list", args=(item,)), nullable
        if kind == "object":
            if schema.get("properties"):
                return Type("ref", self.build(inline_name, schema, module).name), nullable
            extra = schema.get("additionalProperties", True)
            value = self.type_of(extra, inline_name + "Value", module)[0] if isinstance(extra, dict) else ANY
            return Type("map", args=(value,)), nullable
        raise SpecError(f"{inline_name}: type {kind!r} is not supported")


def _description(prop: dict[str, Any]) -> str:
    if prop.get("description"):
        return str(prop["description"]).strip()
    for key in ("oneOf", "anyOf"):
        for variant in prop.get(key, []):
            if variant.get("description"):
                return str(variant["description"]).strip()
    return ""


def _params(
    fields: tuple[Field, ...], *, stream: bool
) -> tuple[tuple[Param, ...], tuple[tuple[str, Any], ...]]:
    """Keyword parameters (required first, then optional, in spec order) and the fixed body values."""
    kept = [f for f in fields if not (stream and f.wire == "stream")]
    ordered = [f for f in kept if f.required] + [f for f in kept if not f.required]
    fixed = (("stream", True),) if stream and any(f.wire == "stream" for f in fields) else ()
    return tuple(Param(param_name(f.wire), f) for f in ordered), fixed


def load(root: Path) -> Api:
    """Read ``.speakeasy/gen.yaml``, the spec and overlays under ``root`` and build the :class:`Api`."""
    config_bytes = (root / ".speakeasy" / "gen.yaml").read_bytes()
    config = yaml.safe_load(config_bytes)
    gen = config["generation"]
    spec_bytes = (root / gen["spec"]).read_bytes()
    doc = yaml.safe_load(spec_bytes)
    overlay_hash = hashlib.sha256()
    for path in gen.get("overlays", []):
        data = (root / path).read_bytes()
        overlay_hash.update(data)
        overlay.apply(doc, yaml.safe_load(data))
    builder = _Builder(doc)
    models = builder.build_all()
    for name, envelope in _envelopes(doc).items():
        models[name] = replace(models[name], envelope=envelope)
    api = Api(
        title=str(doc.get("info", {}).get("title", "")),
        server_url=str((doc.get("servers") or [{}])[0].get("url", "")),
        config=config,
        models=models,
        spec_sha256=_sha(spec_bytes),
        overlay_sha256=overlay_hash.hexdigest(),
        config_sha256=_sha(config_bytes),
    )
    api.resources = _resources(doc, config["python"], models)
    return api


def _envelopes(doc: dict[str, Any]) -> dict[str, str]:
    """SSE item models whose ``x-atoma-sse-envelope`` field wraps the bare event data."""
    found: dict[str, str] = {}
    for path_item in doc.get("paths", {}).values():
        for spec in path_item.values():
            for response in (spec.get("responses") or {}).values() if isinstance(spec, dict) else ():
                media = (response.get("content") or {}).get("text/event-stream") or {}
                ref = (media.get("schema") or {}).get("$ref", "")
                if media.get("x-atoma-sse-envelope") and ref.startswith(_REF_PREFIX):
                    found[ref[len(_REF_PREFIX) :]] = str(media["x-atoma-sse-envelope"])
    return found


def _resources(doc: dict[str, Any], config: dict[str, Any], models: dict[str, Model]) -> tuple[Resource, ...]:
    overrides = {o["operationId"]: o["methodNameOverride"] for o in doc.get("x-speakeasy-name-override", [])}
    names = config.get("resourceNames", {})
    ignored = set(config.get("ignoredTags", []))
    by_tag: dict[str, list[Operation]] = {}
    for path in sorted(doc.get("paths", {})):
        for method, spec in sorted(doc["paths"][path].items()):
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            tag = (spec.get("tags") or ["Default"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, spec, overrides, models))
    resources = []
    for tag_spec in doc.get("tags", []):
        tag = tag_spec["name"]
        if tag in ignored or tag not in by_tag:
            continue
        module = names.get(tag, snake(tag))
        operations = tuple(sorted(by_tag.pop(tag), key=lambda op: op.method_name))
        seen = {op.method_name for op in operations}
        if len(seen) != len(operations):
            raise SpecError(f"tag {tag!r}: two operations share a method name")
        resources.append(Resource(tag, module, pascal(tag), str(tag_spec.get("description", "")), operations))
    if by_tag:
        raise SpecError(f"operations with undeclared tags: {sorted(by_tag)}")
    return tuple(sorted(resources, key=lambda r: r.module))


def _content(responses: dict[str, Any]) -> tuple[str | None, dict[str, Any], str]:
    for status in sorted(responses):
        if status.startswith("2"):
            content = responses[status].get("content") or {}
            for media in sorted(content):
                return media, content[media], status
            return None, {}, status
    return None, {}, ""


def _operation(
    path: str, method: str, spec: dict[str, Any], overrides: dict[str, str], models: dict[str, Model]
) -> Operation:
    op_id = spec["operationId"]
    media, content, _ = _content(spec.get("responses", {}))
    stream = media == "text/event-stream"
    response = None
    if content.get("schema", {}).get("$ref"):
        response = content["schema"]["$ref"][len(_REF_PREFIX) :]
    elif content.get("schema") is not None:
        raise SpecError(f"{op_id}: the 2XX response needs a named schema (add one in the overlay)")
    if stream:
        envelope = content.get("x-atoma-sse-envelope")
        item = models.get(response or "")
        if envelope and (item is None or not any(f.wire == envelope and f.required for f in item.fields)):
            raise SpecError(f"{op_id}: stream item {response} lacks the {envelope!r} envelope field")
    request = None
    body = spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    fields: tuple[Field, ...] = ()
    if body is not None:
        if "$ref" not in body:
            raise SpecError(f"{op_id}: request bodies must be named schemas")
        request = body["$ref"][len(_REF_PREFIX) :]
        fields = models[request].fields
    params, fixed = _params(fields, stream=stream)
    conf = spec.get("x-atoma-confidential")
    confidential = None
    plain_params: tuple[Param, ...] = ()
    plain_fixed: tuple[tuple[str, Any], ...] = ()
    if conf:
        confidential = Confidential(
            flow=conf["flow"],
            marker=conf["plaintext-marker"],
            request=conf["plaintext-request"],
            response=conf["plaintext-response"],
            stream_item=conf.get("plaintext-stream-item"),
        )
        plain_params, plain_fixed = _params(models[confidential.request].fields, stream=stream)
        # Wire fields the plaintext form also takes (e.g. num_compute_units, which sizes the lock too).
        shared = set(conf.get("plaintext-envelope-params", ()))
        plain_params += tuple(p for p in params if p.field.wire in shared)
        if confidential.marker not in {p.field.wire for p in plain_params}:
            raise SpecError(f"{op_id}: plaintext marker {confidential.marker!r} is not a request property")
        if stream and not confidential.stream_item:
            raise SpecError(f"{op_id}: a confidential stream needs plaintext-stream-item")
    errors = tuple(
        (status, str(spec["responses"][status].get("description", "")))
        for status in sorted(spec.get("responses", {}))
        if status[:1] in ("4", "5")
    )
    return Operation(
        operation_id=op_id,
        method_name=overrides.get(op_id, op_id),
        http_method=method.upper(),
        path=path.split("#", 1)[0],
        summary=str(spec.get("summary", "")).strip(),
        description=str(spec.get("description", "")).strip(),
        request=request,
        response=response,
        stream=stream,
        sentinel=content.get("x-speakeasy-sse-sentinel"),
        security=bool(spec.get("security")),
        retry_rule=str(spec.get("x-atoma-retry", "default")),
        params=params,
        fixed=fixed,
        errors=errors,
        confidential=confidential,
        plain_params=plain_params,
        plain_fixed=plain_fixed,
    )
