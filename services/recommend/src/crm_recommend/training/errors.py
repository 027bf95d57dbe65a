"""Expected failures of the model lifecycle."""

from __future__ import annotations

from crm_shared.errors import Conflict, NotFound, Unprocessable


class TrainingRunNotFound(NotFound):
    slug = "training-run-not-found"
    title = "The training run does not exist"


class ModelVersionNotFound(NotFound):
    slug = "model-version-not-found"
    title = "The model version does not exist"


class ArtefactUnavailable(Conflict):
    slug = "model-artefact-unavailable"
    title = "The model version's files cannot be loaded"


class UnknownModel(Unprocessable):
    slug = "unknown-model"
    title = "The model or its parameters are not known"
