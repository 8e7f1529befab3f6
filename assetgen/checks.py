"""Type and value predicates for spec validation.

TOML gives ``bool`` as a subclass of ``int``: these keep the two apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

SIZE_PATTERN = re.compile(r"^(auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4})$")
COLOUR_PATTERN = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$")


def is_str(value: Any) -> bool:
    return isinstance(value, str)


def is_non_empty_str(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_int(value: Any) -> bool:
    return is_int(value) and value >= 1


def is_non_negative_int(value: Any) -> bool:
    return is_int(value) and value >= 0


def is_percent(value: Any) -> bool:
    return is_int(value) and 0 <= value <= 100


def is_percent_nonzero(value: Any) -> bool:
    return is_int(value) and 1 <= value <= 100


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_positive_number(value: Any) -> bool:
    return is_number(value) and value > 0


def is_non_negative_number(value: Any) -> bool:
    return is_number(value) and value >= 0


def is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def is_table_of_tables(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, dict) for v in value.values())


def is_list_of(value: Any, check: Callable[[Any], bool]) -> bool:
    return isinstance(value, list) and all(check(item) for item in value)


def is_size(value: Any) -> bool:
    return isinstance(value, str) and bool(SIZE_PATTERN.match(value))
