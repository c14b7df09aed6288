"""Resource modules (one per tag) and the ``AtomaSDK`` facade in ``sdk.py``."""

from __future__ import annotations

from . import HEADER
from .imports import block
from .naming import COMMON_OPTIONS
from .pytypes import annotation, uses
from .spec import Api, Operation, Param, Resource
from .text import docstring, literal, wrap

PACKAGE = "src/atoma_sdk"
_COMMON = (
    "        retries: OptionalNullable[utils.RetryConfig] = UNSET,\n"
    "        server_url: str | None = None,\n"
    "        timeout_ms: int | None = None,\n"
    "        http_headers: Mapping[str, str] | None = None,\n"
    "        extra_body: Mapping[str, Any] | None = None,\n"
)
_OPTIONS = "RequestOptions(retries, server_url, timeout_ms, http_headers, extra_body)"
assert all(name in _COMMON for name in COMMON_OPTIONS)


def _const(op: Operation) -> str:
    return "_" + op.method_name.upper()


def _signature(name: str, params: tuple[Param, ...], result: str, *, is_async: bool, extra: str = "") -> str:
    lines = "".join(
        f"        {p.name}: {a}{f' = {d}' if d else ''},\n"
        for p in params
        for a, d in [annotation(p.field, "param", "models.")]
    )
    head = "async def" if is_async else "def"
    return f"    {head} {name}(\n        self,\n        *,\n{lines}{extra}{_COMMON}    ) -> {result}:\n"


def _doc(op: Operation, params: tuple[Param, ...], note: str = "") -> str:
    text = "\n\n".join(t for t in (op.summary or op.method_name, op.description, note) if t)
    args = []
    for p in params:
        desc = p.field.description.split("\n\n")[0].replace("\n", " ")
        if desc:
            args.append(f":param {p.name}: {desc}")
    if args:
        text += "\n\n" + "\n".join(args)
    return docstring(text, "        ")


def _body(params: tuple[Param, ...], fixed: tuple[tuple[str, object], ...]) -> str:
    items = [f"{literal(p.field.wire)}: {p.name}" for p in params] + [
        f"{literal(k)}: {literal(v)}" for k, v in fixed
    ]
    if not items:
        return "{}"
    return "{\n" + "".join(f"                {i},\n" for i in items) + "            }"


def _result(op: Operation, *, is_async: bool) -> str:
    if op.response is None:
        return "None"
    if op.stream:
        return f"{'EventStreamAsync' if is_async else 'EventStream'}[models.{op.response}]"
    return f"models.{op.response}"


def _plain_method(op: Operation, *, is_async: bool) -> str:
    name = op.method_name + ("_async" if is_async else "")
    call = ("stream" if op.stream else "call") + ("_async" if is_async else "")
    out = _signature(name, op.params, _result(op, is_async=is_async), is_async=is_async)
    out += _doc(op, op.params)
    out += f"        return {'await ' if is_async else ''}self._runtime.{call}(\n"
    out += f"            {_const(op)},\n            {_body(op.params, op.fixed)},\n"
    out += f"            {_OPTIONS},\n        )\n"
    return out


def _confidential_method(op: Operation, *, is_async: bool) -> str:
    conf = op.confidential
    assert conf is not None
    name = op.method_name + ("_async" if is_async else "")
    if op.stream:
        raw_result = _result(op, is_async=is_async)
        stream_cls = "ConfidentialStreamAsync" if is_async else "ConfidentialStream"
        plain_result = f"{stream_cls}[models.{conf.stream_item}]"
    else:
        raw_result = _result(op, is_async=is_async)
        plain_result = f"models.{conf.response}"
    verification = "        verification: VerificationPolicy | None = None,\n"
    out = "    @overload\n" + _signature(name, op.params, raw_result, is_async=is_async) + "        ...\n\n"
    out += "    @overload\n" + _signature(
        name, op.plain_params, plain_result, is_async=is_async, extra=verification
    )
    out += "        ...\n\n"
    head = "async def" if is_async else "def"
    out += f"    {head} {name}(self, **kwargs: Any) -> Any:\n"
    note = (
        f"Two forms: the plaintext form (``{conf.marker}=...`` and the other {conf.request} fields, plus "
        f"``verification``) encrypts to a locked node, verifies and returns {conf.response}; the raw wire "
        f"form (``ciphertext=...``) sends an already encrypted {op.request}. Passing both or neither raises "
        "TypeError."
    )
    out += _doc(op, (), note)
    out += (
        f"        return {'await ' if is_async else ''}dispatch_confidential(\n"
        f"            self._runtime, {_const(op)}, {_const(op)}_FORMS, kwargs, "
        f"stream={op.stream}, is_async={is_async}\n        )\n"
    )
    return out


def _operation_const(op: Operation) -> str:
    result = op.response and f"models.{op.response}"
    args = [
        f"operation_id={literal(op.operation_id)}",
        f"method={literal(op.http_method)}",
        f"path={literal(op.path)}",
    ]
    if op.request:
        args.append(f"request={literal(op.request)}")
    if op.response:
        args.append(f"response={literal(op.response)}")
    if op.stream:
        args.append("stream=True")
    if op.sentinel:
        args.append(f"sentinel={literal(op.sentinel)}")
    if not op.security:
        args.append("security=False")
    if op.retry_rule != "default":
        args.append(f"retry_rule=RetryRule.{op.retry_rule.upper().replace('-', '_')}")
    if op.confidential:
        args.append(f"confidential={literal(op.confidential.flow)}")
    inner = "".join(f"    {a},\n" for a in args)
    out = f"{_const(op)}: Operation[{result or 'None'}] = Operation(\n{inner})\n"
    if op.confidential:
        out += "\n" + _forms_const(op)
    return out


def _forms_const(op: Operation) -> str:
    conf = op.confidential
    assert conf is not None

    def mapping(params: tuple[Param, ...]) -> str:
        return "{" + ", ".join(f"{literal(p.name)}: {literal(p.field.wire)}" for p in params) + "}"

    def names(params: tuple[Param, ...]) -> str:
        items = [literal(p.name) for p in params if p.field.required]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"

    def fixed(values: tuple[tuple[str, object], ...]) -> str:
        return "(" + "".join(f"({literal(k)}, {literal(v)}), " for k, v in values).rstrip(" ") + ")"

    fields = [
        f"raw={mapping(op.params)}",
        f"raw_required={names(op.params)}",
        f"plain={mapping(op.plain_params)}",
        f"plain_required={names(op.plain_params)}",
        f"marker={literal(conf.marker)}",
    ]
    if op.fixed:
        fields.append(f"raw_fixed={fixed(op.fixed)}")
    if op.plain_fixed:
        fields.append(f"plain_fixed={fixed(op.plain_fixed)}")
    lines = []
    for item in fields:
        if len(item) + 4 <= 110:
            lines.append(f"    {item},\n")
        else:
            key, _, value = item.partition("=")
            parts = value[1:-1].split(", ")
            lines.append(
                f"    {key}={value[0]}\n" + "".join(f"        {p},\n" for p in parts) + f"    {value[-1]},\n"
            )
    return f"{_const(op)}_FORMS = ConfidentialForms(\n{''.join(lines)})\n"


def _resource(api: Api, res: Resource) -> str:
    consts = "\n".join(_operation_const(op) for op in res.operations)
    methods = []
    for op in res.operations:
        for is_async in (False, True):
            methods.append(
                (_confidential_method if op.confidential else _plain_method)(op, is_async=is_async)
            )
    mixin = api.config["python"].get("resourceMixins", {}).get(res.class_name)
    bases = "Resource" if mixin is None else f"{mixin.rpartition('.')[2]}, Resource"
    cls = f"class {res.class_name}({bases}):\n{docstring(res.description or res.tag, '    ')}\n" + "\n".join(
        methods
    )
    body = consts + "\n\n" + cls
    froms: dict[str, set[str]] = {"__future__": {"annotations"}}
    if mixin is not None:  # hand-written methods (python.resourceMixins in gen.yaml), e.g. parse()
        froms[mixin.rpartition(".")[0]] = {mixin.rpartition(".")[2]}
    wanted = {
        "collections.abc": ["Mapping", "Sequence"],
        "typing": ["TYPE_CHECKING", "Any", "overload"],
        "._runtime.operation": ["Operation", "RequestOptions", "Resource", "RetryRule"],
        "._runtime.seam": ["ConfidentialForms", "dispatch_confidential"],
        ".types": ["UNSET", "Nullable", "OptionalNullable"],
    }
    for module, names in wanted.items():
        froms[module] = {n for n in names if uses(body, n)}
    froms["typing"].add("TYPE_CHECKING")
    checking: dict[str, set[str]] = {".": {"models", "utils"}}
    for module, names in {
        "._runtime.eventstream": ["EventStream", "EventStreamAsync"],
        ".confidential.policy": ["VerificationPolicy"],
        ".confidential.stream": ["ConfidentialStream", "ConfidentialStreamAsync"],
    }.items():
        checking[module] = {n for n in names if uses(body, n)}
    noqa = "# ruff: noqa: E501\n" if any(len(line) > 110 for line in body.splitlines()) else ""
    doc = f'"""{res.class_name}: {res.description or res.tag} (generated)."""'
    return (
        f"{HEADER}\n{noqa}{doc}\n\n{block(froms)}\n\nif TYPE_CHECKING:\n{block(checking, indent='    ')}"
        f"\n\n{body}"
    )


def _sdk(api: Api) -> str:
    sdk_class = api.config["python"].get("sdkClassName", "AtomaSDK")
    props = []
    for res in api.resources:
        props.append(
            f"    @cached_property\n    def {res.module}(self) -> {res.class_name}:\n"
            f"{docstring(res.description or res.tag, '        ')}"
            f"        from .{res.module} import {res.class_name}\n\n"
            f"        return {res.class_name}(self._runtime)\n"
        )
    checking = block({f".{r.module}": {r.class_name} for r in api.resources}, indent="    ")
    listing = "\n".join(f"``{r.module}``" for r in api.resources)
    doc = docstring(
        f"{api.title}: the client. Resources are created on first access and cached.\n\n"
        + ", ".join(f"``{r.module}``" for r in api.resources),
        "    ",
    )
    del listing
    return (
        f'{HEADER}\n"""The {sdk_class} facade (generated): one lazily created resource per API tag."""\n\n'
        "from __future__ import annotations\n\n"
        "from functools import cached_property\nfrom typing import TYPE_CHECKING\n\n"
        f"from ._runtime.sdkbase import SDKBase\n\nif TYPE_CHECKING:\n{checking}\n\n"
        f"__all__ = [{literal(sdk_class)}]\n\n\n"
        f"class {sdk_class}(SDKBase):\n{doc}\n" + "\n".join(props)
    )


def emit(api: Api) -> dict[str, str]:
    """Relative path -> file text for the resource modules and ``sdk.py``."""
    files = {f"{PACKAGE}/{res.module}.py": _resource(api, res) for res in api.resources}
    files[f"{PACKAGE}/sdk.py"] = _sdk(api)
    return files


__all__ = ["emit", "wrap"]
