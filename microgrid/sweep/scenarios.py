"""The scenario file: named overrides of site-file fields, explicit lists and product/zip sweeps (docs/sweeps.md).

```yaml
scenarios:                         # explicit scenarios
  - name: base
  - name: big_battery
    set: {assets.batteries[*].e_kwh: 800}
    scale: {assets.pv[*].kwp: 1.5}
    sites: [small_factory]         # optional: only these sites
sweeps:                            # every combination (product) or position (zip) of the dimensions
  - name: "pv{pv}-ess{ess}"        # optional template over the dimension names
    set: {grid.export_limit_kw: 0} # common to every point
    product:
      pv:  {scale: [assets.pv[*].kwp, assets.pv[*].inverter_ac_kw], values: [1.0, 1.5]}
      ess: {set: assets.batteries[*].e_kwh, values: [400, 800]}
```

The whole file is checked before anything runs: its own shape (pydantic), then every (site, scenario)
pair is applied to the site's parsed YAML and validated with the site schema and cross-field checks
(:func:`microgrid.site.site_from_mapping`). Any problem is one :class:`ScenarioError` line naming the file,
the scenario, the site and the field.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from microgrid.errors import UserError
from microgrid.site.loader import (
    SiteError,
    format_loc,
    load_yaml_unique,
    read_site_mapping,
    site_from_mapping,
)
from microgrid.site.models import Site
from microgrid.sweep.overrides import Override, PathError, apply_override, check_value

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.=,+-]{0,79}$"


class ScenarioError(UserError):
    """A scenario file that cannot be used (exit code 2); the message is one line."""

    exit_code = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Changes(_Strict):
    set: dict[str, Any] = {}
    """Field path → new value."""
    scale: dict[str, float] = {}
    """Field path → factor the number (or list of numbers) at the path is multiplied by."""
    sites: list[str] | None = None
    """Site ids this applies to (default: every site of the sweep)."""


class ScenarioSpec(_Changes):
    name: str = Field(pattern=NAME_PATTERN)


class Dimension(_Strict):
    """One axis of a sweep: the values given to one or more fields together."""

    set: str | list[str] | None = None
    scale: str | list[str] | None = None
    values: list[Any]

    @field_validator("values")
    @classmethod
    def _not_empty(cls, v: list[Any]) -> list[Any]:
        if not v:
            raise ValueError("empty sweep: give at least one value")
        return v

    def paths(self) -> tuple[str, list[str]]:
        if (self.set is None) == (self.scale is None):
            raise ValueError("give exactly one of 'set' or 'scale' (the field path(s) the values go to)")
        chosen = self.set if self.set is not None else self.scale
        return ("set" if self.set is not None else "scale"), [chosen] if isinstance(chosen, str) else chosen


class SweepSpec(_Changes):
    name: str | None = None
    """Template of the scenario names over the dimension names, e.g. ``pv{pv}-ess{ess}`` (default
    ``pv=1.5,ess=800``)."""
    product: dict[str, Dimension] | None = None
    zip: dict[str, Dimension] | None = None


class ScenarioFile(_Strict):
    scenarios: list[ScenarioSpec] = []
    sweeps: list[SweepSpec] = []


@dataclass(frozen=True)
class Scenario:
    """One named set of changes to a site file."""

    name: str
    overrides: tuple[Override, ...]
    sites: tuple[str, ...] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    """The sweep dimensions' values that made this scenario (empty for an explicit one)."""

    def applies_to(self, site_id: str) -> bool:
        return self.sites is None or site_id in self.sites


@dataclass(frozen=True)
class Case:
    """One (site, scenario) pair, validated: what one task computes."""

    site_id: str
    scenario: Scenario
    site: Site
    digest: str
    """Hash of the scenario's effective site mapping: a stored result is reused only for the same digest."""

    @property
    def key(self) -> str:
        return f"{self.site_id}/{self.scenario.name}"


def _changes(spec: _Changes, where: str) -> list[Override]:
    out = [Override(p, "set", v) for p, v in spec.set.items()] + [Override(p, "scale", v) for p, v in spec.scale.items()]
    for o in out:
        try:
            check_value(o)
        except PathError as exc:
            raise ScenarioError.of("uerr.where_detail", where=where, detail=exc) from None
    return out


def _label(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def _expand_sweep(sweep: SweepSpec, where: str) -> list[Scenario]:
    if (sweep.product is None) == (sweep.zip is None):
        raise ScenarioError.of("uerr.sweep_product_or_zip", where=where)
    dims = sweep.product if sweep.product is not None else sweep.zip
    if not dims:
        raise ScenarioError.of("uerr.sweep_no_dimensions", where=where)
    axes = {}
    for dim_name, dim in dims.items():
        try:
            op, paths = dim.paths()
        except ValueError as exc:
            raise ScenarioError(f"{where}.{dim_name}: {exc}") from None
        axes[dim_name] = (op, paths, dim.values)
    if sweep.zip is not None:
        lengths = {n: len(v) for n, (_, _, v) in axes.items()}
        if len(set(lengths.values())) > 1:
            raise ScenarioError.of("uerr.sweep_zip_lengths", where=where, lengths=str(lengths))
        points = list(zip(*(v for _, _, v in axes.values()), strict=True))
    else:
        points = list(itertools.product(*(v for _, _, v in axes.values())))
    common = _changes(sweep, where)
    sites = tuple(sweep.sites) if sweep.sites is not None else None
    out = []
    for point in points:
        params = dict(zip(axes, point, strict=True))
        changes = list(common)
        for (op, paths, _), value in zip(axes.values(), point, strict=True):
            changes += [Override(p, op, value) for p in paths]
        for o in changes:
            try:
                check_value(o)
            except PathError as exc:
                raise ScenarioError.of("uerr.where_detail", where=where, detail=exc) from None
        labels = {k: _label(v) for k, v in params.items()}
        try:
            name = sweep.name.format(**labels) if sweep.name else ",".join(f"{k}={v}" for k, v in labels.items())
        except (KeyError, IndexError, ValueError) as exc:
            raise ScenarioError.of("uerr.sweep_name_template", where=where, template=sweep.name, name=str(exc),
                                   dimensions=", ".join(axes)) from None
        out.append(Scenario(name, tuple(changes), sites, params))
    return out


def _pydantic_line(exc: ValidationError) -> str:
    item = exc.errors(include_url=False)[0]
    msg = item["msg"].removeprefix("Value error, ")
    if item["type"] == "extra_forbidden":
        msg = "unknown key (allowed: scenarios, sweeps; in an entry: name, set, scale, sites, product, zip)"
    elif item["type"] == "string_pattern_mismatch":
        msg = "a name is 1-80 letters, digits and _ . = , + - (it names files and rows)"
    more = len(exc.errors()) - 1
    return f"{format_loc(item['loc'])}: {msg}" + (f" (and {more} more problem(s))" if more else "")


def read_scenarios(path: str | Path) -> list[Scenario]:
    """Parse and expand a scenario file (its own shape only; the sites are checked by :func:`cases`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.of("uerr.scenarios_unreadable", path=str(path),
                                  reason=str(getattr(exc, 'strerror', None) or exc)) from None
    try:
        data = load_yaml_unique(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ScenarioError.of("uerr.scenarios_bad_yaml", path=str(path), where=where,
                                  detail=str(getattr(exc, 'problem', None) or exc)) from None
    if not isinstance(data, dict):
        raise ScenarioError.of("uerr.scenarios_not_mapping", path=str(path))
    try:
        spec = ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: {_pydantic_line(exc)}") from None
    out: list[Scenario] = []
    for i, s in enumerate(spec.scenarios):
        out.append(Scenario(s.name, tuple(_changes(s, f"{path}: scenarios[{i}] ({s.name})")),
                            tuple(s.sites) if s.sites is not None else None))
    for i, sw in enumerate(spec.sweeps):
        out += _expand_sweep(sw, f"{path}: sweeps[{i}]")
    if not out:
        raise ScenarioError.of("uerr.scenarios_empty", path=str(path))
    seen: set[str] = set()
    for s in out:
        if s.name in seen:
            raise ScenarioError.of("uerr.scenarios_name_twice", path=str(path), name=s.name)
        seen.add(s.name)
    return out


@dataclass(frozen=True)
class SiteSource:
    """A site file read once: its parsed mapping and where it lives (profiles are relative to it)."""

    id: str
    data: dict[str, Any]
    base_dir: Path
    source: str

    @classmethod
    def read(cls, path: str | Path) -> SiteSource:
        yaml_path, data = read_site_mapping(path)
        site = site_from_mapping(data, base_dir=yaml_path.parent, source=str(yaml_path))
        return cls(site.id, data, yaml_path.parent, str(yaml_path))


def _digest(data: dict[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def build_case(source: SiteSource, scenario: Scenario, file: str) -> Case:
    """Apply ``scenario`` to ``source`` and validate the result with the site schema (one-line errors)."""
    where = ScenarioError.of("uerr.scenario_on_site", file=file, scenario=scenario.name, site=source.id)
    data = _apply(source.data, scenario, where)
    try:
        site = site_from_mapping(data, base_dir=source.base_dir, source=source.source)
    except SiteError as exc:
        first = exc.problems[0] if exc.problems else exc.message
        more = f" (and {len(exc.problems) - 1} more problem(s))" if len(exc.problems) > 1 else ""
        raise ScenarioError.of("uerr.where_detail", where=where, detail=f"{first}{more}") from None
    if site.id != source.id:
        raise ScenarioError.of("uerr.scenario_site_id", where=where)
    return Case(source.id, scenario, site, _digest(data))


def _apply(base: dict[str, Any], scenario: Scenario, where: ScenarioError) -> dict[str, Any]:
    """``base`` with the scenario's overrides; ``where`` names the case (a catalogue text, see :func:`build_case`)."""
    data = copy.deepcopy(base)
    for o in scenario.overrides:
        try:
            apply_override(data, o)
        except PathError as exc:
            raise ScenarioError.of("uerr.where_detail", where=where, detail=exc) from None
    return data


def cases(sites: list[SiteSource], scenarios: list[Scenario], file: str) -> list[Case]:
    """Every applicable (site, scenario) pair, validated; errors before anything runs."""
    ids = [s.id for s in sites]
    if len(set(ids)) != len(ids):
        raise ScenarioError.of("uerr.sweep_site_twice", ids=", ".join(ids))
    for sc in scenarios:
        unknown = [s for s in sc.sites or () if s not in ids]
        if unknown:
            raise ScenarioError.of("uerr.sweep_sites_unknown", file=file, scenario=sc.name, unknown=str(unknown),
                                   ids=", ".join(ids))
    out = [build_case(src, sc, file) for src in sites for sc in scenarios if sc.applies_to(src.id)]
    if not out:
        raise ScenarioError.of("uerr.sweep_nothing_applies", file=file)
    return out
