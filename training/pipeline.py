"""One training run: split, fit the components, calibrate on validation, write and evaluate the bundle."""

from __future__ import annotations

import platform
import shutil
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from model.calibration import Array
from model.encoder import default_threads
from model.manifest import (
    MANIFEST,
    BundleManifest,
    Component,
    DataInfo,
    HeadName,
    HeadSpec,
    RoutingSettings,
    TaxonomyInfo,
    write_manifest,
)
from model.records import ColumnMap
from model.router import Router, combine
from model.taxonomy import Taxonomy
from model.text import Strategy, TextConfig, WindowTokenizer, special_ids
from model.tfidf import TfidfScorer
from training.baseline import BaselineModel
from training.calibrate import auto_threshold, best_multilabel_threshold, fit_blend, fit_temperature
from training.data import Example, LabelledData, duty_examples
from training.evaluate import Evaluation, write_evaluation
from training.splits import stratified_split

BLEND_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


class TrainConfig(BaseModel):
    model_type: Literal["transformer", "baseline"] = "transformer"
    base_model: str | None = None
    epochs: int = Field(default=4, ge=1)
    batch_size: int = Field(default=16, ge=1)
    max_length: int = Field(default=256, ge=16, le=512)
    strategy: Strategy = "head_tail"
    max_chunks: int = Field(default=4, ge=1)
    encoder_lr: float = 1e-4
    head_lr: float = 2e-3
    layer_decay: float = 1.0
    baseline_c: float = 0.5
    ensemble: bool = True
    use_duties: bool = True
    target_precision: float = Field(default=0.95, gt=0.0, le=1.0)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    seed: int = 0
    threads: int | None = None


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("numpy", "scikit-learn", "torch", "transformers", "onnxruntime", "tokenizers"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def _targets(examples: list[Example], head: str, labels: list[str]) -> tuple[np.ndarray, Array]:
    """Rows with a known label for `head` and their targets (class index, or a 0/1 matrix for `co`)."""
    if head == "co":
        rows = np.array([i for i, e in enumerate(examples) if e.co is not None], dtype=int)
        y = np.array([[name in (examples[i].co or []) for name in labels] for i in rows], dtype=float)
        return rows, y.reshape(len(rows), len(labels))
    index = {name: k for k, name in enumerate(labels)}
    rows = np.array([i for i, e in enumerate(examples) if getattr(e, head) in index], dtype=int)
    return rows, np.array([index[getattr(examples[i], head)] for i in rows], dtype=int)


def _calibrate_heads(
    data: LabelledData, val: list[Example], logits: dict[str, dict[str, Array]], blend: bool
) -> dict[HeadName, HeadSpec]:
    specs: dict[HeadName, HeadSpec] = {}
    primary: Component = "transformer" if "transformer" in logits else "baseline"
    for head in cast(list[HeadName], data.heads):
        kind: Literal["softmax", "sigmoid"] = "sigmoid" if head == "co" else "softmax"
        rows, y = _targets(val, head, data.labels[head])
        weights: dict[Component, float] = {primary: 1.0}
        temperature = 1.0
        if len(rows):
            z = logits[primary][head][rows]
            if blend and "baseline" in logits and primary != "baseline":
                weight, temperature = fit_blend(z, logits["baseline"][head][rows], y, kind, BLEND_GRID)
                weights["baseline"] = weight
            else:
                temperature = fit_temperature(z, y, kind)
        specs[head] = HeadSpec(labels=data.labels[head], kind=kind, weights=weights, temperature=temperature)
    return specs


def _fit_transformer(
    config: TrainConfig, data: LabelledData, train: list[Example], val: list[Example], work: Path, threads: int
) -> tuple[TextConfig, Any, list[dict[str, float]]]:
    """Fine-tune, then leave in `work` what serving and later exports need: tokenizer, heads, ONNX, torch."""
    from training.export import save_training_state, write_onnx
    from training.transformer import FitConfig, check_base_model, fine_tune, save_tokenizer

    assert config.base_model is not None
    check_base_model(config.base_model)
    tokenizer_file = save_tokenizer(config.base_model, work)
    text = TextConfig(
        max_length=config.max_length,
        strategy=config.strategy,
        max_chunks=config.max_chunks,
        **special_ids(tokenizer_file),
    )
    fit = FitConfig(
        epochs=config.epochs,
        batch_size=config.batch_size,
        encoder_lr=config.encoder_lr,
        head_lr=config.head_lr,
        layer_decay=config.layer_decay,
        seed=config.seed,
        threads=threads,
    )
    tokenizer = WindowTokenizer(tokenizer_file, text)
    model, history = fine_tune(config.base_model, tokenizer, train, val, data.heads, data.labels, fit)
    save_training_state(model, val, work)
    write_onnx(model, work / "encoder.onnx", text)
    return text, model, history


def _set_thresholds(manifest: BundleManifest, val: list[Example], probs: dict[str, Array]) -> None:
    """Co-department threshold for micro-F1; lead threshold for the target precision (both on validation)."""
    heads = manifest.heads
    if "co" in heads:
        rows, y = _targets(val, "co", heads["co"].labels)
        heads["co"].threshold = best_multilabel_threshold(probs["co"][rows], y) if len(rows) else 0.5
    if "lead" in heads:
        rows, y = _targets(val, "lead", heads["lead"].labels)
        confidence = probs["lead"][rows].max(axis=1)
        correct = (probs["lead"][rows].argmax(axis=1) == y).astype(float)
        target = manifest.routing.target_precision
        threshold, precision, coverage = auto_threshold(confidence, correct, target)
        manifest.routing.lead_threshold = threshold
        manifest.routing.validation_precision = None if np.isnan(precision) else precision
        manifest.routing.validation_coverage = coverage


def train_bundle(
    data: LabelledData,
    taxonomy: Taxonomy | None,
    out: Path,
    config: TrainConfig,
    columns: ColumnMap | None = None,
) -> BundleManifest:
    """Write a complete, evaluated bundle to `out`: built beside it, moved into place only when whole."""
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise ValueError(f"{out}: exists and is not a model bundle; refusing to overwrite it (choose another --out)")
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        manifest = _build_bundle(data, taxonomy, work, config, columns)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)
    return manifest


def _build_bundle(
    data: LabelledData, taxonomy: Taxonomy | None, work: Path, config: TrainConfig, columns: ColumnMap | None
) -> BundleManifest:
    started = time.perf_counter()
    examples = data.examples
    main = "lead" if "lead" in data.heads else "topic"
    strata = [str(getattr(e, main) or "") for e in examples]
    val_idx, test_idx, train_idx = stratified_split(strata, (config.val_fraction, config.test_fraction), config.seed)
    train = [examples[i] for i in train_idx]
    val, test = [examples[i] for i in val_idx], [examples[i] for i in test_idx]
    if taxonomy is not None and config.use_duties and "lead" in data.heads:
        train += [e for e in duty_examples(taxonomy) if e.lead in data.labels["lead"]]

    components: list[Component] = []
    text: TextConfig | None = None
    history: list[dict[str, float]] = []
    model = None
    threads = config.threads or default_threads()

    baseline_wanted = config.model_type == "baseline" or config.ensemble
    if baseline_wanted:
        BaselineModel(data.heads, data.labels, c=config.baseline_c).fit(train).save(work / "baseline")
        components.append("baseline")
    if config.model_type == "transformer":
        if not config.base_model:
            raise ValueError("a transformer needs --base-model (a local directory or a hub id)")
        text, model, history = _fit_transformer(config, data, train, val, work, threads)
        components.insert(0, "transformer")

    trained_at = time.perf_counter()
    val_texts = [e.text for e in val]
    logits: dict[str, dict[str, Array]] = {}
    if "baseline" in components:
        logits["baseline"] = TfidfScorer(work / "baseline").logits(val_texts)
    if "transformer" in components and text is not None:
        from model.encoder import TransformerScorer

        scorer = TransformerScorer(work, WindowTokenizer(work / "tokenizer.json", text), "encoder.onnx", threads)
        logits["transformer"] = scorer.logits(val_texts)
    heads = _calibrate_heads(data, val, logits, config.ensemble)
    if config.model_type == "transformer" and all(h.weights.get("baseline", 0.0) == 0.0 for h in heads.values()):
        shutil.rmtree(work / "baseline", ignore_errors=True)
        components = ["transformer"]
        for spec in heads.values():
            spec.weights.pop("baseline", None)

    routing = RoutingSettings(target_precision=config.target_precision)
    created = datetime.now(UTC)
    manifest = BundleManifest(
        version=f"{config.model_type}-{created:%Y%m%dT%H%M%S}-{data.sha256[:8]}",
        model_type=config.model_type,
        base_model=config.base_model if config.model_type == "transformer" else None,
        created_at=created,
        components=components,
        heads=heads,
        routing=routing,
        text=text,
        encoder_file="encoder.onnx" if text is not None else None,
        taxonomy=TaxonomyInfo(city=taxonomy.city, version=taxonomy.version, fingerprint=taxonomy.fingerprint())
        if taxonomy
        else None,
        training_data=DataInfo(
            file=Path(data.path).name,
            sha256=data.sha256,
            rows=len(examples),
            splits={"train": len(train_idx), "validation": len(val), "test": len(test)},
        ),
        training={
            **config.model_dump(exclude={"threads"}),
            "columns": (columns or ColumnMap()).model_dump(),
            "history": history,
            "train_seconds": round(trained_at - started, 1),
        },
        versions=_versions(),
    )
    write_manifest(work, manifest)

    if val:
        _set_thresholds(manifest, val, {name: combine(spec, logits, name) for name, spec in heads.items()})
    if model is not None:
        from training.export import record_export

        record_export(work, manifest, model, "fp32")
    if test:
        router = Router(work, threads=threads)  # the bundle as written: evaluation runs the serving path
        evaluation = Evaluation(
            examples=test,
            probs=router.probabilities([e.text for e in test]),
            labels={h: s.labels for h, s in heads.items()},
            routing=manifest.routing,
            co_threshold=manifest.co_threshold(),
        )
        manifest.metrics = write_evaluation(work / "evaluation", evaluation, f"Held-out test split of {data.path}")
    write_manifest(work, manifest)
    return manifest
