"""Request and response bodies. Requests are strict (wrong types and unknown fields are 422, with the field named)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_TITLE = 2_000
MAX_ID = 256


def _check_text(v: str | None, what: str) -> str | None:
    """Reject whitespace-only text and strings that cannot be UTF-8 (JSON `\\ud800` escapes)."""
    if v is None:
        return v
    try:
        v.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{what} contains an unpaired surrogate (not valid Unicode)") from None
    if what == "text" and not v.strip():
        raise ValueError("text is empty or whitespace only")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


# -- classify --------------------------------------------------------------------------------------------------
class ArticleIn(_Strict):
    """One article; long texts are cut into overlapping token windows (up to the server's window cap)."""

    text: str = Field(..., min_length=1, description="article body (plain text)")
    title: str | None = Field(None, max_length=MAX_TITLE, description="headline; prepended unless the body repeats it")
    id: str | None = Field(None, max_length=MAX_ID, description="your id, echoed back")

    @field_validator("text", "title", "id")
    @classmethod
    def _valid(cls, v, info):
        return _check_text(v, info.field_name)


class ClassifyRequest(_Strict):
    """Either one article (`text`, `title`, `id`) or `articles` (a list of them), plus options for all."""

    text: str | None = Field(None, min_length=1, description="article body, for a single-article request")
    title: str | None = Field(None, max_length=MAX_TITLE)
    id: str | None = Field(None, max_length=MAX_ID)
    articles: list[ArticleIn] | None = Field(None, min_length=1, description="up to 64 articles (more is 413)")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="one cut-off for every label instead of "
                                                                      "the model's per-label thresholds")
    evidence: bool = Field(True, description="attach the sentences that most support each predicted label")
    regions: bool = Field(True, description="tag Kemendagri regions")
    lang: Literal["id", "en"] = Field("id", description="language of issue display names")
    return_text: bool = Field(False, description="echo the normalised text that evidence offsets refer to")

    @field_validator("text", "title", "id")
    @classmethod
    def _valid(cls, v, info):
        return _check_text(v, info.field_name)

    @model_validator(mode="after")
    def _one_shape(self):
        if (self.text is None) == (self.articles is None):
            raise ValueError("give either `text` (one article) or `articles` (a list), not both or neither")
        if self.articles is not None and (self.title is not None or self.id is not None):
            raise ValueError("`title` and `id` belong inside each item of `articles`")
        return self

    def items(self) -> list[ArticleIn]:
        if self.articles is not None:
            return list(self.articles)
        return [ArticleIn.model_construct(text=self.text, title=self.title, id=self.id)]


class ModelRef(BaseModel):
    name: str
    version: str


class IssueScore(BaseModel):
    id: str
    name: str
    score: float = Field(..., ge=0, le=1, description="sigmoid probability")
    predicted: bool


class EvidenceSentence(BaseModel):
    sentence: str
    start: int = Field(..., ge=0, description="character offset into the (NFC-normalised, title-joined) text")
    end: int = Field(..., ge=0)
    score: float


class RegionOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    name: str
    level: str | None = None
    score: float | None = None
    province: dict[str, Any] | None = None
    mentions: list[dict[str, Any]] = []


class ArticleResult(BaseModel):
    id: str | None
    labels: list[str]
    issues: list[IssueScore]
    regions: list[RegionOut]
    evidence: dict[str, list[EvidenceSentence]]
    windows: int
    truncated: bool
    text: str | None = Field(None, description="the text the offsets refer to (when the request asked for it)")
    model: ModelRef


class BatchResult(BaseModel):
    articles: list[ArticleResult]
    model: ModelRef


# -- errors ----------------------------------------------------------------------------------------------------
class ErrorResponse(BaseModel):
    """Every error: a readable message, a machine type, and field details for validation errors."""

    error: str
    error_type: Literal["validation", "too_large", "bad_encoding", "overloaded", "not_ready", "unauthorized",
                        "forbidden", "not_found", "method_not_allowed", "conflict", "internal", "http"]
    detail: list[dict[str, Any]] | None = None
    request_id: str | None = None


# -- meta ------------------------------------------------------------------------------------------------------
class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    state: str
    model: ModelRef | None = None
    error: str | None = None


class LabelInfo(BaseModel):
    id: str
    name: dict[str, str]
    description: str
    threshold: float
    test: dict[str, Any] | None = None


class ModelInfo(BaseModel):
    name: str
    version: str
    created: str | None
    loaded_at: str
    onnx_file: str = Field(..., description="the ONNX file being run")
    backend: str = Field("ort", description="runtime running it: ort or openvino")
    fallback: str | None = Field(None, description="why classifier.json's variant is not the one running (it "
                                                   "cannot run on this machine), or null")
    base_encoder: str
    taxonomy_version: str
    max_length: int
    stride: int
    pooling: str
    labels: list[LabelInfo]
    thresholds: dict[str, float]
    metrics: dict[str, Any]


# -- annotations and admin -------------------------------------------------------------------------------------
class AnnotationIn(_Strict):
    """An analyst's labels for one article: issue ids from the taxonomy, Kemendagri region codes (e.g. 32.75)."""

    text: str = Field(..., min_length=1)
    title: str | None = Field(None, max_length=MAX_TITLE)
    issues: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list, description="province or regency/city codes")

    @field_validator("text", "title")
    @classmethod
    def _valid(cls, v, info):
        return _check_text(v, info.field_name)


class AnnotationRequest(_Strict):
    """One record (the fields of AnnotationIn at top level) or `records`; `annotator`/`source` apply to all."""

    text: str | None = Field(None, min_length=1)
    title: str | None = Field(None, max_length=MAX_TITLE)
    issues: list[str] | None = None
    regions: list[str] | None = None
    records: list[AnnotationIn] | None = Field(None, min_length=1, max_length=1000)
    annotator: str = Field("anonymous", min_length=1, max_length=128)
    source: str = Field("api", min_length=1, max_length=64)

    @field_validator("text", "title")
    @classmethod
    def _valid(cls, v, info):
        return _check_text(v, info.field_name)

    @model_validator(mode="after")
    def _one_shape(self):
        single = any(v is not None for v in (self.text, self.title, self.issues, self.regions))
        if single == (self.records is not None) or (single and self.text is None):
            raise ValueError("give either `text` (+ `title`, `issues`, `regions`) or `records`, not both or neither")
        return self

    def items(self) -> list[dict[str, Any]]:
        if self.records is not None:
            return [r.model_dump() for r in self.records]
        return [{"text": self.text, "title": self.title, "issues": self.issues or [], "regions": self.regions or []}]


class AnnotationsSaved(BaseModel):
    ids: list[int]
    count: int = Field(..., description="active annotations in the store after this write")


class ReloadResult(BaseModel):
    changed: bool
    previous: ModelRef | None
    current: ModelRef | None


# -- Label Studio ML backend (/ls) -----------------------------------------------------------------------------
class _LabelStudioBody(BaseModel):
    """Label Studio's bodies carry more than Rawan reads (and more with each release): extra fields are kept, not
    rejected."""

    model_config = ConfigDict(extra="allow")


class LSSetupRequest(_LabelStudioBody):
    project: str | int | None = Field(None, description="'<id>.<created timestamp>'")
    label_schema: str = Field(..., alias="schema", min_length=1, description="the project's labelling config (XML)")
    hostname: str | None = None
    access_token: str | None = Field(None, description="ignored: Rawan never calls Label Studio back")
    model_version: str | None = None


class LSPredictRequest(_LabelStudioBody):
    tasks: list[dict[str, Any]] = Field(..., description="tasks as Label Studio stores them: {id, data: {...}}")
    project: str | int | None = None
    label_config: str | None = Field(None, description="the project's labelling config (XML)")
    params: dict[str, Any] | None = None
    model_version: str | None = None


class LSWebhookRequest(_LabelStudioBody):
    action: str = Field(..., min_length=1, description="e.g. ANNOTATION_CREATED, ANNOTATION_UPDATED")
    annotation: dict[str, Any] | None = None
    task: dict[str, Any] | None = None
    project: dict[str, Any] | int | str | None = None


class LSHealth(BaseModel):
    status: Literal["UP"]
    model_class: str
    model_version: str | None = Field(None, description="name@version once the model is loaded")
    ready: bool


class LSSetupResult(BaseModel):
    model_version: str


class LSPrediction(BaseModel):
    result: list[dict[str, Any]] = Field(..., description="choices results: {from_name, to_name, type, value}")
    score: float = Field(..., description="highest issue probability of the article")
    model_version: str


class LSPredictResult(BaseModel):
    results: list[LSPrediction]
    model_version: str


class LSWebhookResult(BaseModel):
    status: Literal["stored", "unchanged", "skipped", "ignored", "training"]
    action: str
    id: int | None = Field(None, description="the annotation store row (new, or the unchanged active one)")
    reason: str | None = None
    retrain: str | None = Field(None, description="started | already running | off (RAWAN_LS_RETRAIN)")
