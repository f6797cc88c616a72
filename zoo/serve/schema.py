"""The JSON API of `zoo serve` as Pydantic models, for its OpenAPI document (/openapi.json, /docs).

The server writes its answers itself (the batcher's results are already JSON-ready, and skipping
a validation pass per request keeps it fast); tests/serve/test_api.py checks that real answers
have exactly the fields these models document.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every error: what went wrong and what to fix."""

    error: str = Field(examples=["'image' is not valid base64"])


class PredictRequest(BaseModel):
    """A drawing or photo of one digit."""

    image: str = Field(
        description="A PNG, JPEG, BMP or WebP image as a base64 data URL (what a canvas's "
        "toDataURL() gives) or as plain base64.",
        examples=["data:image/png;base64,iVBORw0KGgo..."],
    )


class ModelPrediction(BaseModel):
    """One model's reading of the image."""

    model: str = Field(description="The weight's key, `model.tag`.")
    probabilities: list[float] = Field(description="One per category, in the model's order.")
    top: str = Field(description="The most probable category.")


class PredictResponse(BaseModel):
    """What every model read, and the 28×28 input they all saw."""

    input: list[list[int]] = Field(
        description="The 28×28 uint8 image the models saw: inverted to light on dark, "
        "cropped, scaled to fit 20×20 and centred by its mass, as MNIST's digits were."
    )
    predictions: list[ModelPrediction]


class ModelInfo(BaseModel):
    """A model on the page."""

    model_config = ConfigDict(populate_by_name=True)

    key: str
    model: str
    class_: str = Field(alias="class", description="The model's Python class.")
    accuracy: float = Field(description="Test accuracy of the weight, 0 to 1.")
    params: int
    categories: list[str]


class ModelsResponse(BaseModel):
    """The models every prediction runs, most accurate first."""

    models: list[ModelInfo]


class Metric(BaseModel):
    """A weight's headline test result."""

    name: str
    value: float


class WeightInfo(BaseModel):
    """A published weight and its card."""

    model_config = ConfigDict(populate_by_name=True)

    key: str
    model: str
    class_: str = Field(alias="class")
    dataset: str
    default: bool = Field(description="Whether this is the model's default weight.")
    metric: Metric
    card: str | None = Field(description="The model card, Markdown.")
    card_html: str | None = Field(
        description="The card rendered as HTML by markdown-it-py, raw HTML off, links and "
        "images limited to what the page serves."
    )
    curve: str | None = Field(description="URL of the training-curves PNG.")


class WeightsResponse(BaseModel):
    """Every published weight, the README's table of them, and which the page runs."""

    table: str = Field(description="The README's weights table, Markdown.")
    table_html: str = Field(description="The table rendered as HTML (see card_html).")
    shown: list[str] = Field(description="The keys of the weights the Draw tab runs.")
    weights: list[WeightInfo]


class Batching(BaseModel):
    """The dynamic batcher: its settings and what it has run."""

    max_batch: int
    wait_ms: float
    batches: int = Field(description="Batches run since the server started.")
    items: int = Field(description="Images run in them.")
    largest: int = Field(description="The largest batch so far.")
    queued: int = Field(description="Images waiting for the next batch now.")
    preparing: int = Field(description="Requests decoding their image now.")


class HealthResponse(BaseModel):
    """The server is up and its models are loaded."""

    status: str = Field(examples=["ok"])
    models: list[str]
    batching: Batching
