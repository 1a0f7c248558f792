"""Plain coercion of option values, instead of typer's pydantic TypeAdapters; and tidier help.

typer 0.29 coerces every parameter of the command being run through a pydantic ``TypeAdapter`` built on
first use: importing pydantic and building some 30 adapters costs about 150 ms and 10 MB before the first
byte of a request is sent, more than the rest of mimo's start-up. mimo's options are all plain types
(str, int, float, bool, Path, lists of str), which need none of that: :func:`lighten` gives each such
parameter a small coercer of its own, with the same messages for bad values. On a typer without these
internals (older or newer), it changes nothing and typer does the work as usual.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_PLAIN = (str, int, float, bool, Path)


def _coercer() -> Any:
    try:
        from typer._click.exceptions import BadParameter
        from typer._coercion import RuntimeParam
        from typer.core import _TyperParameter
    except ImportError:  # a typer without runtime params: nothing to do
        return None

    class PlainParam(RuntimeParam):
        """Coerce to one of :data:`_PLAIN` (or a list of one), checking min and max like click does."""

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            annotation = self.annotation
            if getattr(annotation, "__origin__", None) is list:
                (item,) = annotation.__args__
                return [self._one(item, v, param, ctx) for v in value]
            return self._one(annotation, value, param, ctx)

        def _one(self, kind: type, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
                converted = value
            elif kind is bool:
                converted = _bool(value)
            else:
                try:
                    converted = kind(value)
                except (TypeError, ValueError):
                    names = {int: "integer", float: "float", str: "string", Path: "path"}
                    raise BadParameter(f"{value!r} is not a valid {names.get(kind, kind.__name__)}.",
                                       ctx=ctx, param=param) from None  # fmt: skip
            low: Any = self.parameter_info.min
            high: Any = self.parameter_info.max
            if (low is not None and converted < low) or (high is not None and converted > high):
                raise BadParameter(_range(converted, low, high), ctx=ctx, param=param)
            return converted

    return PlainParam, _TyperParameter


def _bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "t", "yes", "y", "on"):
        return True
    if text in ("0", "false", "f", "no", "n", "off", ""):
        return False
    raise ValueError(f"{value!r} is not a valid boolean")


def _range(value: Any, low: Any, high: Any) -> str:
    if low is not None and high is not None:
        return f"{value} is not in the range {low}<=x<={high}."
    if low is not None:
        return f"{value} is not in the range x>={low}."
    return f"{value} is not in the range x<={high}."


def _plain(annotation: Any) -> bool:
    if getattr(annotation, "__origin__", None) is list:
        return len(annotation.__args__) == 1 and annotation.__args__[0] in _PLAIN
    return annotation in _PLAIN


def _argument_usage(param: Any) -> str:
    """An argument as the usage line names it: ``INPUT``, ``PATH...``, ``[VALUE]`` (typer 0.29 would write
    ``{INPUT}`` and ``{PATH}...``)."""
    name = param.metavar or param.name.upper()
    if param.nargs != 1 and "..." not in name:
        name += "..."
    return name if param.required else f"[{name}]"


def tidy_help(group: Any) -> None:
    """Usage lines and argument help as a user reads them: no braces, no ``<list[str]>`` type names."""
    todo = [group]
    while todo:
        command = todo.pop()
        todo.extend(getattr(command, "commands", {}).values())
        for param in getattr(command, "params", ()):
            if getattr(param, "param_type_name", "") == "argument" and hasattr(param, "_usage_display_name"):
                param.get_usage_pieces = lambda ctx, p=param: [_argument_usage(p)]  # noqa: ARG005
                param.display_type_rich = lambda ctx: None  # noqa: ARG005


def lighten(group: Any) -> None:
    """Give every plain parameter of every command a :class:`PlainParam` (once per command)."""
    tidy_help(group)
    found = _coercer()
    if found is None:
        return
    plain_param, typer_param = found
    from typer._click import Context

    names = (group.context_settings or {}).get("help_option_names", ["--help"])
    todo = [group]
    while todo:
        command = todo.pop()
        todo.extend(getattr(command, "commands", {}).values())
        # the help option is made (and cached) on first use: make it now, with the names it gets at run time
        help_option = command.get_help_option(Context(command, help_option_names=names))
        for param in [*getattr(command, "params", ()), help_option]:
            if not isinstance(param, typer_param) or getattr(param, "_runtime_param", 1) is not None:
                continue
            descriptor = getattr(param, "type_descriptor", None)
            if descriptor is None or descriptor.file_annotation is not None:
                continue
            if _plain(descriptor.annotation):
                param._runtime_param = plain_param(
                    annotation=descriptor.annotation, parameter_info=descriptor.parameter_info
                )
