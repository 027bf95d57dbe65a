"""Baseline for the serving benchmark: a bare FastAPI endpoint answering a fixed JSON list."""

from __future__ import annotations

import uuid

from fastapi import FastAPI

ITEMS = [
    {
        "product_id": str(uuid.UUID(int=number)),
        "sku": f"SKU-{number}",
        "name": f"Product {number}",
        "score": 1.0 / (number + 1),
        "source": "personal",
        "reason": f"because you bought Product {number + 100}",
        "because_of": str(uuid.UUID(int=number + 100)),
    }
    for number in range(10)
]


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/v1/recommendations/{customer_id}")
    async def recommend(customer_id: str) -> dict[str, object]:
        return {"model_version": 1, "fallback": False, "items": ITEMS}

    return app
