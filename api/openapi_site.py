"""The site's own constraints written into the OpenAPI document, so clients and fuzzers see what the API
checks: asset ids as an enumeration on ``{asset_id}`` paths, and the envelope of every asset's override
range on ``OverrideRequest.value_kw`` (each asset's own ``[min_kw, max_kw]`` is in ``GET /site/topology``
and still checked per request, answered 422)."""

from __future__ import annotations

from typing import Any

from api.site_view import AssetInfo


def add_site_constraints(schema: dict[str, Any], assets: dict[str, AssetInfo]) -> dict[str, Any]:
    """``schema`` (changed in place, idempotent) with the asset ids and the override envelope of ``assets``."""
    if not assets:
        return schema
    ids = sorted(assets)
    for path, operations in schema.get("paths", {}).items():
        if "{asset_id}" not in path:
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("name") == "asset_id" and parameter.get("in") == "path":
                    parameter.setdefault("schema", {})["enum"] = ids
    body = schema.get("components", {}).get("schemas", {}).get("OverrideRequest", {})
    value = body.get("properties", {}).get("value_kw")
    if value is not None:
        value["minimum"] = min(a.min_kw for a in assets.values())
        value["maximum"] = max(a.max_kw for a in assets.values())
    return schema
