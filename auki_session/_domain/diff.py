"""Field-level differences between two JSON values (two versions of an entry): each changed,
added or removed field by its path (`calibration.fx`, `fields[1].name`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ChangeKind", "FieldChange", "diff_values"]

ChangeKind = Literal["added", "removed", "changed"]


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs: its path, how, and its value before and after (`before` is
    meaningless when added, `after` when removed)."""

    path: str
    change: ChangeKind
    before: Any = None
    after: Any = None

    def to_dict(self) -> dict[str, Any]:
        """As JSON: `before` only when there was a value, `after` only when there is one."""
        value: dict[str, Any] = {"path": self.path, "change": self.change}
        if self.change != "added":
            value["before"] = self.before
        if self.change != "removed":
            value["after"] = self.after
        return value


def _same(before: Any, after: Any) -> bool:
    """Equal as JSON values: `1` and `True` differ, `1` and `1.0` do not (canonical JSON
    writes them alike)."""
    return (type(before) is type(after) and before == after) or (
        _number(before) and _number(after) and before == after
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def diff_values(before: Any, after: Any, path: str = "") -> list[FieldChange]:
    """The changes turning `before` into `after`: objects compared key by key (keys in sorted
    order), lists index by index (a longer list's tail added or removed), anything else as a
    whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[FieldChange] = []
        for key in sorted(before.keys() | after.keys()):
            where = f"{path}.{key}" if path else str(key)
            if key not in after:
                changes.append(FieldChange(where, "removed", before=before[key]))
            elif key not in before:
                changes.append(FieldChange(where, "added", after=after[key]))
            else:
                changes += diff_values(before[key], after[key], where)
        return changes
    if isinstance(before, list) and isinstance(after, list):
        changes = []
        for index in range(max(len(before), len(after))):
            where = f"{path}[{index}]"
            if index >= len(after):
                changes.append(FieldChange(where, "removed", before=before[index]))
            elif index >= len(before):
                changes.append(FieldChange(where, "added", after=after[index]))
            else:
                changes += diff_values(before[index], after[index], where)
        return changes
    if _same(before, after):
        return []
    return [FieldChange(path or "(value)", "changed", before, after)]
