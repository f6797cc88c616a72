"""jsonargparse's verdict on a bad option, as the one line `zoo fit` prints.

jsonargparse explains a rejected value in 8-12 lines: every type of the union it tried
(`Expected a <class 'NoneType'>`), the type of the value and the whole namespace it was part of.
What the user needs is the option, the value given and the one real reason.
"""

from __future__ import annotations

import re

_SECTIONS = {"ZooModule": "model", "LightningDataModule": "data"}
_SKIPPED = ("Given value type", "Subtypes:", "Errors:", "Does not validate")


def short_config_error(error: BaseException | str) -> str:
    """`--model.lr -0.1: lr must be positive, got -0.1` from jsonargparse's message."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__ if isinstance(error, BaseException) else "invalid option"
    key, lines = _parser_key(lines)
    reasons, given = _reasons_and_value(lines)
    reason = "; ".join(dict.fromkeys(map(_plain, reasons))) or _plain(lines[0])
    key, given = _name_the_option(key, given, reason)
    if not key or reason.startswith(f"--{key}"):  # zoo's own checks name the option already
        return reason
    return f"--{key}{f' {given}' if given else ''}: {reason}"


def _parser_key(lines: list[str]) -> tuple[str | None, list[str]]:
    found = re.match(r'Parser key "([^"]+)":\s*(.*)', lines[0])
    if found:
        return found[1], [found[2]] * bool(found[2]) + lines[1:]
    subtypes = next((line for line in lines if line.startswith("Subtypes:")), "")
    section = next((name for cls, name in _SECTIONS.items() if f".{cls}'" in subtypes), None)
    return section, lines


def _reasons_and_value(lines: list[str]) -> tuple[list[str], str | None]:
    reasons: list[str] = []
    given = None
    for line in lines:
        if line.startswith("Given value:"):
            given = line.split(":", 1)[1].strip()
        elif line.startswith(_SKIPPED):
            continue
        elif line.startswith("- ") or not reasons:
            reasons.append(line.removeprefix("- "))
        else:  # an indented continuation of the reason above
            reasons[-1] += " " + line
    return [r for r in reasons if "NoneType" not in r], given


Option = tuple[str | None, str | None]  # the option's name and the value given, where known


def _name_the_option(key: str | None, given: str | None, reason: str) -> Option:
    nested = re.fullmatch(r"NestedArg\(key='([^']+)', val='(.*)'\)", given or "")
    if key and nested:
        return f"{key}.{nested[1]}", nested[2]
    if given and given.startswith("Namespace("):
        # The value is a whole class's settings: name the one argument the reason is about.
        word = re.match(r"(\w+) ", reason)
        value = word and re.search(rf"\b{word[1]}=([^,)]+)", given)
        return (f"{key}.{word[1]}", value[1]) if key and value else (key, None)
    return key, given


def _plain(reason: str) -> str:
    reason = re.sub(r"^Problem with given class_path '[^']*':\s*", "", reason)
    reason = re.sub(r'Parser key "[^"]*":\s*', "", reason)
    reason = reason.removeprefix("ValueError: ")
    reason = re.sub(r"Expected a <class '(\w+)'>\.?", r"expected \1", reason)
    return re.sub(r"\s*Got value: (.*)", r", got \1", reason)
