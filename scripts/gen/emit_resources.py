"""Resource modules (one per tag) and the ``AtomaSDK`` facade in ``sdk.py``."""

from __future__ import annotations

from . import HEADER, raw_types, signatures
from . import stream_forms as forms
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
    """The public module-level descriptor (``CREATE``, ``CREATE_STREAM``): the openai transport uses them."""
    return op.method_name.upper()


def _signature(
    name: str,
    params: tuple[Param, ...],
    result: str,
    *,
    is_async: bool,
    extra: str = "",
    stream: tuple[str, str] | None = None,
) -> str:
    """``stream``: the annotation and default that replace the ``stream`` parameter's (overloads)."""
    lines = ""
    for p in params:
        a, d = stream if stream and p.field.wire == "stream" else annotation(p.field, "param", "models.")
        lines += f"        {p.name}: {a}{f' = {d}' if d else ''},\n"
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


def _plain_method(op: Operation, *, is_async: bool, twin: Operation | None, module: str) -> str:
    name = op.method_name + ("_async" if is_async else "")
    call = ("stream" if op.stream else "call") + ("_async" if is_async else "")
    result = _result(op, is_async=is_async)
    extra = forms.STREAM_PARAM if forms.takes_fixed_stream(op) else ""
    out = ""
    if twin is not None:
        twin_result = _result(twin, is_async=is_async)
        for variant, returns in forms.overloads(result, twin_result):
            sig = _signature(name, op.params, returns, is_async=is_async, stream=variant)
            out += f"    @overload\n{sig}        ...\n\n"
        result = f"{result} | {twin_result}"
    out += _signature(name, op.params, result, is_async=is_async, extra=extra)
    out += _doc(op, op.params)
    out += forms.fixed_stream_check(f"{module}.{name}", extra)
    body = _body(op.params, op.fixed)
    wait = "await " if is_async else ""
    if twin is not None:
        out += f"        body = {body.replace(chr(10) + '    ', chr(10))}\n"
        out += f"        options = {_OPTIONS}\n        if stream is True:\n"
        out += f"            return {wait}self._runtime.stream{call[4:]}({_const(twin)}, body, options)\n"
        return out + f"        return {wait}self._runtime.{call}({_const(op)}, body, options)\n"
    out += f"        return {wait}self._runtime.{call}(\n"
    out += f"            {_const(op)},\n            {body},\n"
    out += f"            {_OPTIONS},\n        )\n"
    return out


def _plain_result(op: Operation, *, is_async: bool) -> str:
    conf = op.confidential
    assert conf is not None
    if op.stream:
        stream_cls = "ConfidentialStreamAsync" if is_async else "ConfidentialStream"
        return f"{stream_cls}[models.{conf.stream_item}]"
    return f"models.{conf.response}"


def _confidential_method(op: Operation, *, is_async: bool, twin: Operation | None = None) -> str:
    conf = op.confidential
    assert conf is not None
    name = op.method_name + ("_async" if is_async else "")
    raw_result = _result(op, is_async=is_async)
    plain_result = _plain_result(op, is_async=is_async)
    verification = "        verification: VerificationPolicy | None = None,\n"
    extra = forms.STREAM_PARAM if forms.takes_fixed_stream(op) else ""
    no_stream = forms.NO_STREAM if twin is not None else None
    out = "    @overload\n"
    out += _signature(name, op.params, raw_result, is_async=is_async, extra=extra, stream=no_stream)
    out += "        ...\n\n"
    variants = [(no_stream, plain_result)]
    if twin is not None:
        variants = forms.overloads(plain_result, _plain_result(twin, is_async=is_async))
    for variant, returns in variants:
        sig = _signature(
            name, op.plain_params, returns, is_async=is_async, extra=extra + verification, stream=variant
        )
        out += f"    @overload\n{sig}        ...\n\n"
    head = "async def" if is_async else "def"
    out += f"    @plaintext_signature({signatures.stub_name(name)})\n"
    out += f"    {head} {name}(self, **kwargs: Any) -> Any:\n"
    text = signatures.forms_doc(op, twin, fixed_stream=forms.takes_fixed_stream(op))
    out += docstring(text, "        ")
    twin_arg = f", stream_twin=({_const(twin)}, {_const(twin)}_FORMS)" if twin is not None else ""
    out += "        from .confidential.seam import dispatch\n\n"
    out += (
        f"        return {'await ' if is_async else ''}dispatch(\n"
        f"            self._runtime, {_const(op)}, {_const(op)}_FORMS, kwargs, "
        f"is_async={is_async}{twin_arg}\n"
        "        )\n"
    )
    return out


def _plaintext_stub(res: Resource, op: Operation, *, is_async: bool, twin: Operation | None) -> str:
    """The module-level stub whose signature the ``**kwargs`` implementation shows (``signatures``)."""
    name = op.method_name + ("_async" if is_async else "")
    result = _plain_result(op, is_async=is_async)
    if twin is not None:
        result += f" | {_plain_result(twin, is_async=is_async)}"
    extra = (forms.STREAM_PARAM if forms.takes_fixed_stream(op) else "") + (
        "        verification: VerificationPolicy | None = None,\n"
    )
    sig = _signature(name, op.plain_params, result, is_async=is_async, extra=extra)
    return signatures.stub(name, res.class_name, sig)


def _operation_const(res: Resource, op: Operation) -> str:
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
        out += "\n" + _forms_const(res, op)
        twin = forms.stream_twin(res, op)
        for is_async in (False, True):
            out += "\n\n" + _plaintext_stub(res, op, is_async=is_async, twin=twin)
    return out


def _forms_const(res: Resource, op: Operation) -> str:
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
        f"method={literal(f'{res.module}.{op.method_name}')}",
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
    consts = "\n".join(_operation_const(res, op) for op in res.operations)
    methods = []
    for op in res.operations:
        twin = forms.stream_twin(res, op)
        for is_async in (False, True):
            if op.confidential:
                methods.append(_confidential_method(op, is_async=is_async, twin=twin))
            else:
                methods.append(_plain_method(op, is_async=is_async, twin=twin, module=res.module))
    mixin = api.config["python"].get("resourceMixins", {}).get(res.class_name)
    bases = "Resource" if mixin is None else f"{mixin.rpartition('.')[2]}, Resource"
    head = f"class {res.class_name}({bases}):\n{docstring(res.description or res.tag, '    ')}"
    cls = head + "\n" + raw_types.attribute(res.class_name) + "\n" + "\n".join(methods)
    body = consts + "\n\n" + cls + raw_types.protocol(res.class_name, "\n".join(methods))
    froms: dict[str, set[str]] = {"__future__": {"annotations"}}
    if mixin is not None:  # hand-written methods (python.resourceMixins in gen.yaml), e.g. parse()
        froms[mixin.rpartition(".")[0]] = {mixin.rpartition(".")[2]}
    wanted = {
        "collections.abc": ["Mapping", "Sequence"],
        "typing": ["TYPE_CHECKING", "Any", "Literal", "overload"],
        "._runtime.forms": ["ConfidentialForms"],
        "._runtime.operation": ["Operation", "RequestOptions", "RetryRule"],
        "._runtime.resource": ["Resource"],
        "._runtime.signature": ["plaintext_signature"],
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
        "._runtime.raw": ["RawResponse"],
        "typing": ["Protocol"],
    }.items():
        checking[module] = {n for n in names if uses(body, n)}
    noqa = "# ruff: noqa: E501\n" if any(len(line) > 110 for line in body.splitlines()) else ""
    doc = f'"""{res.class_name}: {res.description or res.tag} (generated)."""'
    return (
        f"{HEADER}\n{noqa}{doc}\n\n{block(froms)}\n\nif TYPE_CHECKING:\n{block(checking, indent='    ')}"
        f"\n\n{body}"
    )


# The facade (above the confidential layer) reads the pool's counters; the runtime never imports the pool.
_LOCK_POOL_STATS = """
    def lock_pool_stats(self) -> dict[str, int]:
        \"\"\"Counters of the confidential lock prefetch pool (``lock_prefetch=True``): lock calls, hits,
        misses, wasted locks, stack purchases, pooled-lock failures, and the locks ready / in flight
        now.\"\"\"
        from .confidential.lockpool import stats_dict

        return dict(stats_dict(self._runtime))
"""


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
        f"class {sdk_class}(SDKBase):\n{doc}\n" + "\n".join(props) + _LOCK_POOL_STATS
    )


def emit(api: Api) -> dict[str, str]:
    """Relative path -> file text for the resource modules and ``sdk.py``."""
    files = {f"{PACKAGE}/{res.module}.py": _resource(api, res) for res in api.resources}
    files[f"{PACKAGE}/sdk.py"] = _sdk(api)
    return files


__all__ = ["emit", "wrap"]
