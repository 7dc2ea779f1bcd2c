"""The bundle manifest: what a trained model is, how to run it, and how good it was measured to be."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from proposal_router.model.errors import BundleError
from proposal_router.model.screening import ScreeningInfo
from proposal_router.model.text import TextConfig

SCHEMA_VERSION = 3
MANIFEST = "manifest.json"
Part = Literal["serving", "training"]
SERVING: Part = "serving"
"""What routing reads: the components, tokenizer, ONNX encoders and the taxonomy; all a worker is sent."""
TRAINING: Part = "training"
"""What only training and export read: the torch weights, the parity texts and the training evaluation."""
TAXONOMY_FILE = f"{SERVING}/taxonomy.yaml"
Component = Literal["transformer", "baseline", "cases", "mentions", "prior"]
HeadName = Literal["topic", "lead", "co"]
Precision = Literal["fp32", "int8"]
ENCODER_FILES: dict[Precision, str] = {"fp32": "encoder.onnx", "int8": "encoder.int8.onnx"}


class HeadSpec(BaseModel):
    """One output head: sigmoid/softmax((Σ weight·component logits + bias) / temperature).

    The weights are the linear stacker fitted on out-of-fold logits, so they carry the calibration too.
    """

    labels: list[str]
    kind: Literal["softmax", "sigmoid"]
    weights: dict[Component, float]
    bias: float = 0.0
    temperature: float = Field(default=1.0, gt=0.0)
    threshold: float | None = None


class CrossFit(BaseModel):
    """How the served stack was chosen: k-fold out-of-fold predictions of every row, never the refit model."""

    folds: int
    seed: int
    rows: int
    stacker: str
    out_of_fold: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="head → component (or 'stack') → out-of-fold score"
    )
    score: str = Field(default="", description="what out_of_fold measures per head")


NEVER_AUTO = 1.01
"""A lead threshold above any calibrated confidence: with it nothing is routed automatically (a bundle whose
validation could not show the target precision, or a test that wants every proposal reviewed)."""


class RoutingSettings(BaseModel):
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0)
    lead_threshold: float = Field(default=NEVER_AUTO, description="calibrated lead confidence needed for auto")
    validation_precision: float | None = None
    validation_coverage: float | None = None
    min_chars: int = 20
    tie_margin: float = 0.1


class TaxonomyInfo(BaseModel):
    city: str
    version: str
    fingerprint: str
    file: str | None = Field(default=None, description="the taxonomy as trained with, inside the bundle")


class DataFileInfo(BaseModel):
    file: str
    sha256: str
    rows: int


class DataInfo(BaseModel):
    file: str = Field(description="the file's name; several files' names joined by 、")
    sha256: str = Field(description="the file's digest; of several files, the digest of their digests in order")
    rows: int
    splits: dict[str, int] = Field(default_factory=dict)
    files: list[DataFileInfo] = Field(default_factory=list, description="each file, when there were several")


class Parity(BaseModel):
    """How closely an exported encoder reproduces the torch model on the bundle's validation split."""

    rows: int
    max_abs_diff: float = Field(description="largest difference of any calibrated probability")
    lead_agreement: float = Field(description="share of identical top lead departments (or topics)")
    decision_agreement: float = Field(description="share of identical auto/review decisions")
    bar: float
    passed: bool


class ExportInfo(BaseModel):
    file: str
    precision: Precision
    created_at: datetime
    parity: Parity | None = None


class BundleManifest(BaseModel):
    schema_version: int = SCHEMA_VERSION
    version: str
    model_type: Literal["baseline", "transformer"]
    base_model: str | None = None
    created_at: datetime
    components: list[Component]
    heads: dict[HeadName, HeadSpec]
    routing: RoutingSettings
    text: TextConfig | None = None
    encoder_file: str | None = None
    exports: dict[str, ExportInfo] = Field(default_factory=dict)
    crossfit: CrossFit | None = None
    taxonomy: TaxonomyInfo | None = None
    screening: ScreeningInfo | None = Field(default=None, description="审查立案 screener, when trained with rejections")
    training_data: DataInfo
    training: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    files: dict[str, str] = Field(
        default_factory=dict, description="relative path → sha256; the first folder (serving/, training/) is its part"
    )

    def files_of(self, *parts: Part) -> dict[str, str]:
        """The files of some parts of the bundle: a server needs only serving/."""
        return {name: digest for name, digest in self.files.items() if name.split("/", 1)[0] in parts}

    def co_threshold(self) -> float:
        spec = self.heads.get("co")
        return 0.5 if spec is None or spec.threshold is None else spec.threshold


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(directory: Path, manifest: BundleManifest) -> None:
    """Hash every file in the bundle into the manifest, then write it."""
    manifest.files = {
        str(p.relative_to(directory)): sha256_file(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    (directory / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")


def load_manifest(
    directory: str | Path, verify_files: bool = True, parts: tuple[Part, ...] = (SERVING, TRAINING)
) -> BundleManifest:
    """The manifest, with the files of `parts` checked against it (routing needs and checks only serving/)."""
    directory = Path(directory)
    path = directory / MANIFEST
    try:
        exists = directory.is_dir()
    except OSError as exc:  # a name too long for the file system, say: no such directory either
        raise BundleError(f"{str(directory)[:200]}：无法打开模型目录（{exc.strerror}）") from None
    if not exists:
        raise BundleError(f"{directory}：模型目录不存在")
    if not path.is_file():
        raise BundleError(f"{directory}：不是模型目录（没有 {MANIFEST}）；请用 proposal-router train 训练一个")
    try:
        raw: Any = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}：不是有效的 JSON（{exc}）") from exc
    found = raw.get("schema_version") if isinstance(raw, dict) else None
    if found != SCHEMA_VERSION:
        raise BundleError(
            f"{path}：模型包格式版本为 {found!r}，本版本只能读取版本 {SCHEMA_VERSION}：请用本版本重新训练"
        )
    try:
        manifest = BundleManifest.model_validate(raw)
    except ValidationError as exc:
        raise BundleError(f"{path}：manifest 内容无效\n{exc}") from exc
    if verify_files:
        for name, digest in manifest.files_of(*parts).items():
            file = directory / name
            if not file.is_file():
                raise BundleError(f"{directory}：manifest 所列文件 {name} 缺失")
            if sha256_file(file) != digest:
                raise BundleError(f"{file}：内容与 manifest 不符，文件已损坏或被替换")
    return manifest
