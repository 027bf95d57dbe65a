"""Configuration of the recommendation service, from `RECOMMEND_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from crm_shared.settings import ServiceSettings


class RecommendSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="RECOMMEND_", extra="ignore", frozen=True)

    service_name: ClassVar[str] = "recommend"

    port: int = Field(8004, ge=1, le=65535, description="Port the service listens on.")
    orders_url: str = Field(
        "http://127.0.0.1:8002", description="Internal URL of the orders service."
    )
    customer_url: str = Field(
        "http://127.0.0.1:8001", description="Internal URL of the customer service."
    )

    # Sync
    sync_interval_seconds: float = Field(
        60.0, ge=0, description="How often the feeds of orders and customers are pulled; 0 = off."
    )
    sync_timeout_seconds: float = Field(
        30.0, gt=0, description="Read timeout of one feed request to a source service."
    )
    sync_batch_lines: int = Field(
        5000, ge=1, le=100_000, description="Feed lines applied per transaction."
    )

    # Interaction weights
    weight_purchase: float = Field(10.0, ge=0, description="Weight of a purchased product.")
    weight_add_to_cart: float = Field(
        4.0, ge=0, description="Weight of a product in the cart (a later removal cancels it)."
    )
    weight_wishlist: float = Field(3.0, ge=0, description="Weight of a wishlisted product.")
    weight_view: float = Field(1.0, ge=0, description="Weight of a viewed product.")
    weight_rating: float = Field(
        6.0,
        ge=0,
        description=(
            "Weight of a 5-star rating or review; 4 stars give 2/3 of it, 3 stars 1/3, "
            "1 and 2 stars nothing."
        ),
    )
    decay_half_life_days: float = Field(
        0.0,
        ge=0,
        description=(
            "Half-life of an interaction's weight in days, counted back from the newest "
            "interaction; 0 = no decay."
        ),
    )

    # Training and model lifecycle
    model_dir: str = Field(
        "",
        description=(
            "Directory of the versioned model artefacts (shared by the replicas). "
            "Empty means `var/recommend-models`."
        ),
    )
    default_model: str = Field(
        "als", description="Model a training run fits when the request names none."
    )
    default_model_params: dict[str, Any] = Field(
        default_factory=dict,
        description='Hyper-parameters (JSON) of the default model, e.g. `{"factors": 64}`.',
    )
    training_interval_seconds: float = Field(
        0.0,
        ge=0,
        description="How often a scheduled training run starts (e.g. 86400); 0 = off.",
    )
    training_threads: int = Field(
        1, ge=1, le=64, description="BLAS/OpenMP threads of the training process."
    )
    evaluation_k: int = Field(10, ge=1, le=100, description="Cut-off k of the holdout metrics.")
    evaluation_holdout: float = Field(
        0.2,
        ge=0,
        lt=1,
        description=(
            "Share of each customer's interactions held out to evaluate a run; 0 skips the "
            "evaluation."
        ),
    )
    min_interactions: int = Field(
        1, ge=1, description="Customers with fewer weighted products get no personal list."
    )
    candidates_per_customer: int = Field(
        200, ge=10, le=1000, description="Precomputed candidates kept per customer."
    )
    similar_per_product: int = Field(
        50, ge=5, le=500, description="Precomputed similar products kept per product."
    )
    keep_versions: int = Field(
        5, ge=1, le=100, description="Artefacts kept on disk; older ones are deleted."
    )
    model_poll_seconds: float = Field(
        30.0,
        ge=0,
        description=("How often a replica checks which version is active and loads it; 0 = off."),
    )

    # Serving
    serving_threads: int = Field(1, ge=1, le=64, description="BLAS threads of the serving process.")
    exclude_bought: bool = Field(
        True, description="Never recommend a product the customer has already bought."
    )

    def resolved_model_dir(self) -> Path:
        if self.model_dir:
            return Path(self.model_dir)
        return Path("var") / "recommend-models"

    def event_weights(self) -> dict[str, float]:
        return {
            "purchase": self.weight_purchase,
            "add_to_cart": self.weight_add_to_cart,
            "wishlist": self.weight_wishlist,
            "view": self.weight_view,
            "rating": self.weight_rating,
        }
