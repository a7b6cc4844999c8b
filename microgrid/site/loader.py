"""Read a site file: YAML syntax → pydantic field checks → cross-field checks, every problem named by path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from microgrid.errors import UserError
from microgrid.site.checks import check_site
from microgrid.site.models import Site

SITE_FILE_NAME = "site.yaml"


class SiteError(UserError):
    """A site file that cannot be used; ``problems`` has one ``path: what is wrong`` line each."""

    exit_code = 2


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict[Any, int] = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key '{key}' (first at line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_unique(text: str) -> Any:
    """``yaml.safe_load`` that raises :class:`yaml.YAMLError` on a duplicate key (for every YAML input file)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - SafeLoader subclass


def format_loc(loc: tuple[Any, ...]) -> str:
    """``('assets', 'batteries', 0, 'soc_min_pct')`` → ``assets.batteries[0].soc_min_pct``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


_MESSAGE_REWRITES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown field (check the spelling; see site_configs/README.md)",
}


def _pydantic_problems(error: ValidationError) -> list[str]:
    problems = []
    for item in error.errors(include_url=False):
        # Union/literal branches add a type tag to the location; drop tags that are not field names.
        loc = tuple(p for p in item["loc"] if not (isinstance(p, str) and p.startswith(("function-", "literal["))))
        message = _MESSAGE_REWRITES.get(item["type"])
        if message is None:
            message = item["msg"]
            message = message.removeprefix("Value error, ")
            message = message[0].lower() + message[1:] if message else message
            if item["type"] not in ("missing",) and "input" in item and not isinstance(item["input"], dict | list):
                message += f" (got {item['input']!r})"
        problems.append(f"{format_loc(loc)}: {message}")
    return problems


def resolve_site_path(path: str | Path) -> Path:
    """Accept a site directory or the YAML file itself; return the YAML path."""
    candidate = Path(path)
    if candidate.is_dir():
        candidate = candidate / SITE_FILE_NAME
    if not candidate.exists():
        raise SiteError.of("uerr.site_not_found", path=str(candidate)).with_problem(
            "uerr.site_not_found_hint", path=str(candidate), file=SITE_FILE_NAME)
    return candidate


def parse_site_yaml(text: str, source: str = "<string>") -> dict[str, Any]:
    """Parse YAML text into a mapping, turning syntax errors into a SiteError with the line number."""
    try:
        data = load_yaml_unique(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        what = exc.problem or exc.context or "invalid YAML"
        raise SiteError.of("uerr.site_bad_yaml", [f"{source}:{where}: {what}"], source=source) from None
    except yaml.YAMLError as exc:
        raise SiteError.of("uerr.site_bad_yaml", [f"{source}: {exc}"], source=source) from None
    if not isinstance(data, dict):
        raise SiteError.of("uerr.site_not_mapping", source=source).with_problem("uerr.site_not_mapping_hint")
    return data


def site_from_mapping(data: dict[str, Any], base_dir: str | Path = ".", source: str = "<string>") -> Site:
    """Validate a parsed mapping into a :class:`Site`, running every cross-field check."""
    try:
        site = Site.model_validate({**data, "base_dir": str(base_dir)})
    except ValidationError as exc:
        problems = _pydantic_problems(exc)
        raise SiteError.of("uerr.site_problems", problems, source=source, n=len(problems)) from None
    problems = check_site(site)
    if problems:
        raise SiteError.of("uerr.site_problems", problems, source=source, n=len(problems))
    return site


def read_site_mapping(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The site file's path and its parsed (not yet validated) mapping, e.g. to apply scenario overrides."""
    yaml_path = resolve_site_path(path)
    try:
        text = yaml_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteError.of("uerr.site_unreadable", [f"{yaml_path}: {exc}"], path=str(yaml_path)) from None
    return yaml_path, parse_site_yaml(text, source=str(yaml_path))


def load_site(path: str | Path) -> Site:
    """Load and validate a site from a directory (containing ``site.yaml``) or a YAML file path.

    Raises :class:`SiteError` listing every problem found; never returns a half-valid site.
    """
    yaml_path, data = read_site_mapping(path)
    return site_from_mapping(data, base_dir=yaml_path.parent, source=str(yaml_path))
