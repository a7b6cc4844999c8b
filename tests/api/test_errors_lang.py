"""A refusal raised below the API in context (``UserError.of("uerr.where_detail", detail=<library error>)``) reads
in the request's language as a whole, with the same code; English stays word for word."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from api.errors import install_error_handlers
from microgrid.errors import UserError
from optimizer.errors import ForecastError


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/refuse")
    async def refuse():
        inner = ForecastError.of("uerr.forecast_duplicate", source="f.csv", time="2026-01-01T00:00:00+08:00")
        raise UserError.of("uerr.where_detail", where="--loads", detail=inner)

    return app


async def _get(language: str) -> dict:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://127.0.0.1") as client:
        reply = await client.get("/refuse", headers={"Accept-Language": language})
    assert reply.status_code == 422
    return reply.json()


def test_nested_refusal_in_both_languages():
    zh, en = asyncio.run(_get("zh-CN,zh;q=0.9")), asyncio.run(_get("en"))
    assert zh["detail"] == "--loads：f.csv：时间戳 2026-01-01T00:00:00+08:00 出现了不止一次"
    assert en["detail"] == "--loads: f.csv: timestamp 2026-01-01T00:00:00+08:00 appears more than once"
    assert zh["code"] == en["code"] == "uerr.where_detail"
