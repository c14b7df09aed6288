"""The ``stream`` keyword of generated methods (openai-python's habit, the seed's call forms).

* A non-stream method with a ``stream`` parameter and a ``<name>_stream`` twin gets ``typing.overload`` s on
  ``stream``: ``Literal[False]`` / omitted returns its own result, ``Literal[True]`` returns the twin's
  stream, a plain ``bool`` returns either.
* A stream method whose body always carries ``stream: true`` takes ``stream: Literal[True] = True`` (passing
  ``stream=False`` is a TypeError).
"""

from __future__ import annotations

from .spec import Operation, Resource, SpecError

#: The extra keyword of a stream method (placed after its own parameters).
STREAM_PARAM = "        stream: Literal[True] = True,\n"
#: The ``stream`` parameter of a non-stream method's own-result overload.
NO_STREAM = ("OptionalNullable[Literal[False]]", "UNSET")
_STREAMS = ("Literal[True]", "")
_EITHER = ("bool", "")


def stream_twin(res: Resource, op: Operation) -> Operation | None:
    """The stream method ``stream=True`` on ``op`` stands for (None: ``op`` has no such keyword)."""
    if op.stream or not any(p.field.wire == "stream" for p in op.params):
        return None
    for other in res.operations:
        if other.stream and other.method_name == f"{op.method_name}_stream":
            # create(stream=True) sends create's keywords as create_stream's body: they must be the same.
            mine = {p.name for p in op.params + op.plain_params if p.field.wire != "stream"}
            if mine != {p.name for p in other.params + other.plain_params}:
                raise SpecError(f"{op.operation_id}: its keywords differ from {other.operation_id}'s")
            return other
    return None


def takes_fixed_stream(op: Operation) -> bool:
    return op.stream and ("stream", True) in op.fixed


def overloads(result: str, twin_result: str) -> list[tuple[tuple[str, str], str]]:
    """``(stream annotation and default, return type)`` of each overload, in declaration order."""
    return [(NO_STREAM, result), (_STREAMS, twin_result), (_EITHER, f"{result} | {twin_result}")]


def fixed_stream_check(name: str, extra: str) -> str:
    """The first statement of a plain stream method that takes ``stream`` (empty when it does not)."""
    if not extra:
        return ""
    return (
        "        if stream is not True:\n"
        f'            raise TypeError("{name}() only accepts stream=True")\n'
    )
