"""Check a handler's answer against botocore's output shape of its operation."""

from __future__ import annotations

from typing import Any

from botocore.model import ServiceModel, Shape

from shoal.api.json_protocol import to_wire

_WIRE_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "double": (float, int),
    "timestamp": (float, int),  # epoch seconds on the wire
}


def assert_output_shape(model: ServiceModel, operation: str, answer: dict[str, Any]) -> None:
    """Every field of ``answer``, as sent on the wire, exists in the operation's output
    shape with a value of its type (and enum); required members are present."""
    _check_shape(model.operation_model(operation).output_shape, to_wire(answer), operation)


def _check_shape(shape: Shape | None, value: Any, path: str) -> None:
    if shape is None:
        assert value == {}, path
    elif shape.type_name == "structure":
        assert isinstance(value, dict), path
        for key, item in value.items():
            assert key in shape.members, f"{path}.{key} is not in {shape.name}"
            _check_shape(shape.members[key], item, f"{path}.{key}")
        for key in shape.required_members:
            assert key in value, f"{path}.{key} is required"
    elif shape.type_name == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            _check_shape(shape.member, item, f"{path}[{i}]")  # type: ignore[attr-defined]
    elif shape.type_name == "map":
        assert isinstance(value, dict) and all(isinstance(v, str) for v in value.values()), path
    else:
        assert isinstance(value, _WIRE_TYPES[shape.type_name]), f"{path}: {value!r}"
        if enum := shape.metadata.get("enum"):
            assert value in enum, f"{path}: {value!r}"
