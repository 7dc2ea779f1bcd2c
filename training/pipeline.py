"""One training run: embed once, cross-fit every component, stack on out-of-fold logits, refit on all rows.

Every labelled row is used for fitting and for calibration (see training/crossfit.py). `--holdout F`
additionally keeps a stratified share of the rows out of everything, for a true test of the bundle as
served; it is worth its cost only when the data are large.
"""

from __future__ import annotations

import platform
import random
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from proposal_router.model.calibration import Array
from proposal_router.model.encoder import DocumentEmbedder, default_threads
from proposal_router.model.errors import SetupError
from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.manifest import (
    MANIFEST,
    SERVING,
    TAXONOMY_FILE,
    TRAINING,
    BundleManifest,
    Component,
    CrossFit,
    DataFileInfo,
    DataInfo,
    RoutingSettings,
    TaxonomyInfo,
    write_manifest,
)
from proposal_router.model.router import Router
from proposal_router.model.taxonomy import Taxonomy, save_taxonomy
from proposal_router.model.text import TextConfig, WindowTokenizer, special_ids
from proposal_router.training.calibrate import auto_threshold, best_co_threshold
from proposal_router.training.components import (
    Corpus,
    LinearHeads,
    fit_cases,
    fit_prior,
    fit_tfidf,
    mention_scorer,
    targets,
)
from proposal_router.training.config import TrainConfig
from proposal_router.training.crossfit import CrossFitResult, cross_fit
from proposal_router.training.data import Example, LabelledData, duty_examples, remap_lines, topic_examples
from proposal_router.training.evaluate import Evaluation, write_evaluation
from proposal_router.training.screening import Rejected, fit_screener
from proposal_router.training.splits import stratified_split

PARITY_ROWS = 64
EVALUATION = f"{TRAINING}/evaluation"
STACKER = "non-negative weight per component (+ bias for co), minimum out-of-fold log-loss (scipy L-BFGS-B)"


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in ("numpy", "scikit-learn", "scipy", "torch", "transformers", "onnxruntime", "tokenizers"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def train_bundle(
    data: LabelledData,
    taxonomy: Taxonomy | None,
    out: Path,
    config: TrainConfig,
    columns: ColumnMap | None = None,
    rejected: Sequence[Rejected] = (),
) -> BundleManifest:
    """Write a complete, evaluated bundle to `out`: built beside it, moved into place only when whole.

    `rejected` are filings the committee did not accept (不予立案, with their ground): with them the bundle
    also screens each filing for 审查立案 (training/screening.py)."""
    if out.exists() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise SetupError(f"{out} 已存在且不是模型包，不会覆盖它", option="out")
    if config.model_type == "transformer" and not config.base_model:
        raise SetupError("transformer 模型需要预训练模型（本地目录）", option="base_model")
    work = out.with_name(out.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        manifest = _build_bundle(data, taxonomy, work, config, columns, rejected)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    work.rename(out)
    return manifest


def _split(data: LabelledData, config: TrainConfig) -> tuple[list[Example], list[Example]]:
    """(rows to cross-fit, held-out test rows); no test rows unless --holdout asks for them."""
    if config.holdout <= 0:
        return data.examples, []
    main = "lead" if "lead" in data.heads else "topic"
    strata = [str(getattr(e, main) or "") for e in data.examples]
    test_idx, fit_idx = stratified_split(strata, (config.holdout,), config.seed)
    return [data.examples[i] for i in fit_idx], [data.examples[i] for i in test_idx]


def _names(taxonomy: Taxonomy, labels: set[str]) -> dict[str, list[str]]:
    return {d.name: [d.name, *d.aliases] for d in taxonomy.departments if d.name in labels}


def _statements(taxonomy: Taxonomy, labels: dict[str, list[str]], config: TrainConfig) -> list[Example]:
    """Duty statements of the departments that lead here, descriptions of the topics used here."""
    if not config.use_duties:
        return []
    duties = [e for e in duty_examples(taxonomy) if e.lead in labels.get("lead", [])]
    return duties + [e for e in topic_examples(taxonomy) if e.topic in labels.get("topic", [])]


def training_corpus(
    data: LabelledData, examples: list[Example], taxonomy: Taxonomy | None, config: TrainConfig
) -> Corpus:
    """The corpus the components are cross-fitted on: `examples` (the rows fitted), the taxonomy's duty
    statements and department names; also read by `audit-labels` (training/label_audit.py)."""
    labels = data.labels
    statements = _statements(taxonomy, labels, config) if taxonomy is not None else []
    departments = set(labels.get("lead", [])) | set(labels.get("co", []))
    return Corpus(
        examples=examples,
        heads=data.heads,
        labels=labels,
        statements=statements,
        names=_names(taxonomy, departments) if taxonomy is not None else {},
        baseline_c=config.baseline_c,
        head_c=config.head_c,
    )


def _embed(serving: Path, text: TextConfig, texts: list[str], threads: int) -> Array:
    tokenizer = WindowTokenizer(serving / "tokenizer.json", text)
    return DocumentEmbedder(serving, tokenizer, "encoder.onnx", threads).embeddings(texts)


def prepare_encoder(config: TrainConfig, corpus: Corpus, work: Path, threads: int) -> tuple[TextConfig, object]:
    """Export the frozen encoder, then embed every row and taxonomy statement once, through the served ONNX."""
    from proposal_router.training.export import save_training_state, write_onnx
    from proposal_router.training.transformer import FrozenEncoder, check_base_model, save_tokenizer

    assert config.base_model is not None
    check_base_model(config.base_model)
    serving = work / SERVING
    tokenizer_file = save_tokenizer(config.base_model, serving)
    text = TextConfig(
        max_length=config.max_length,
        strategy=config.strategy,
        max_chunks=config.max_chunks,
        prefix=config.query_prefix,
        views=config.views,
        **special_ids(tokenizer_file),
    )
    model = FrozenEncoder(config.base_model)
    write_onnx(model, serving / "encoder.onnx", text)
    sample = random.Random(config.seed).sample(corpus.examples, min(PARITY_ROWS, len(corpus.examples)))
    save_training_state(model, sample, work)
    corpus.docs = _embed(serving, text, [e.text for e in corpus.examples], threads)
    if corpus.statements:
        statements = [e.text for e in corpus.statements]
        corpus.statement_queries = _embed(serving, text, statements, threads)
        passages = text.model_copy(update={"prefix": config.passage_prefix, "views": ["text"]})
        corpus.statement_passages = _embed(serving, passages, statements, threads)
    return text, model


def _report_remapped(report: Path, data: LabelledData) -> None:
    """The training report says which old department names (机构改革) were read as their new ones."""
    lines = remap_lines(data)
    if lines:
        section = "\n## 机构改革：按新单位名称学习的行\n\n" + "".join(f"- {line}\n" for line in lines)
        report.write_text(report.read_text(encoding="utf-8") + section, encoding="utf-8")


def candidate_components(config: TrainConfig, corpus: Corpus) -> list[Component]:
    found: list[Component] = ["baseline"]
    if config.model_type == "transformer":
        found += ["transformer", "cases"]
    if corpus.names and any(h in corpus.heads for h in ("lead", "co")):
        found.append("mentions")
    if "lead" in corpus.heads and any(h in corpus.heads for h in ("topic", "co")):
        found.append("prior")
    if config.components is not None:
        unknown = set(config.components) - set(found)
        if unknown:
            raise SetupError(
                f"这些组件在此数据和模型下不可用：{'、'.join(sorted(unknown))}（可用：{'、'.join(found)}）",
                option="components",
            )
        found = [c for c in found if c in config.components]
    return found


def _refit(corpus: Corpus, components: list[Component], serving: Path) -> None:
    """Every served component fitted once more, on all rows, and written where its scorer reads it."""
    every = np.arange(len(corpus.examples))
    if "baseline" in components:
        fit_tfidf(corpus, every).save(serving / "baseline")
    if "transformer" in components:
        LinearHeads(corpus, every).save(serving)
    if "cases" in components:
        fit_cases(corpus, every).save(serving)
    if "mentions" in components:
        mention_scorer(corpus).save(serving)
    if "prior" in components:
        fit_prior(corpus, every).save(serving)


def _routing(result: CrossFitResult, corpus: Corpus, config: TrainConfig) -> RoutingSettings:
    """Both thresholds on the out-of-fold probabilities of every row."""
    routing = RoutingSettings(target_precision=config.target_precision)
    heads = result.heads
    if "lead" in heads:
        rows, y = targets(corpus.examples, "lead", heads["lead"].labels)
        probs = result.probs["lead"][rows]
        threshold, precision, coverage = auto_threshold(
            probs.max(axis=1), (probs.argmax(axis=1) == y).astype(float), config.target_precision
        )
        routing.lead_threshold = threshold
        routing.validation_precision = None if np.isnan(precision) else precision
        routing.validation_coverage = coverage
    if "co" in heads:
        labels = heads["co"].labels
        rows, _ = targets(corpus.examples, "co", labels)
        leads: list[str | None] = [None] * len(rows)
        if "lead" in heads:
            lead_labels = heads["lead"].labels
            leads = [lead_labels[int(i)] for i in result.probs["lead"][rows].argmax(axis=1)]
        gold = [set(corpus.examples[i].co or []) for i in rows]
        heads["co"].threshold = best_co_threshold(labels, result.probs["co"][rows], gold, leads)
    return routing


def _build_bundle(
    data: LabelledData,
    taxonomy: Taxonomy | None,
    work: Path,
    config: TrainConfig,
    columns: ColumnMap | None,
    rejected: Sequence[Rejected],
) -> BundleManifest:
    started = time.perf_counter()
    for part in (SERVING, TRAINING):
        (work / part).mkdir()
    fit_rows, test = _split(data, config)
    corpus = training_corpus(data, fit_rows, taxonomy, config)
    statements = corpus.statements
    threads = config.threads or default_threads()
    text: TextConfig | None = None
    model = None
    if config.model_type == "transformer":
        text, model = prepare_encoder(config, corpus, work, threads)
    embedded_at = time.perf_counter()
    candidates = candidate_components(config, corpus)
    result = cross_fit(corpus, candidates, config.folds, config.seed)
    routing = _routing(result, corpus, config)
    _refit(corpus, result.components, work / SERVING)
    proper = [e.text for e in fit_rows]
    screening = fit_screener(proper, list(rejected), work / SERVING, config.seed) if rejected else None
    if text is not None and "transformer" not in result.components and "cases" not in result.components:
        text = None  # the stack chose no encoder component: serve without the encoder
        for name in ("encoder.onnx", "tokenizer.json"):
            (work / SERVING / name).unlink(missing_ok=True)
        shutil.rmtree(work / TRAINING, ignore_errors=True)
        (work / TRAINING).mkdir()
        model = None
    if taxonomy is not None:
        save_taxonomy(taxonomy, work / TAXONOMY_FILE)  # a served bundle resolves aliases without the YAML

    created = datetime.now(UTC)
    manifest = BundleManifest(
        version=f"{config.model_type}-{created:%Y%m%dT%H%M%S}-{data.sha256[:8]}",
        model_type=config.model_type,
        base_model=config.base_model if config.model_type == "transformer" else None,
        created_at=created,
        components=result.components,
        heads=result.heads,
        routing=routing,
        text=text,
        encoder_file="encoder.onnx" if text is not None else None,
        crossfit=CrossFit(
            folds=config.folds,
            seed=config.seed,
            rows=len(fit_rows),
            stacker=STACKER,
            out_of_fold=result.scores,
            score="accuracy for topic and lead; label-ranking average precision for co",
        ),
        taxonomy=TaxonomyInfo(
            city=taxonomy.city, version=taxonomy.version, fingerprint=taxonomy.fingerprint(), file=TAXONOMY_FILE
        )
        if taxonomy
        else None,
        screening=screening,
        training_data=DataInfo(
            file="、".join(Path(f.path).name for f in data.files),
            sha256=data.sha256,
            rows=len(data.examples),
            splits={"cross-fitted": len(fit_rows), "held-out test": len(test)},
            files=[DataFileInfo(file=Path(f.path).name, sha256=f.sha256, rows=f.rows) for f in data.files]
            if len(data.files) > 1
            else [],
        ),
        training={
            **config.model_dump(exclude={"threads"}),
            "columns": (columns or ColumnMap()).model_dump(),
            "taxonomy_statements": len(statements),
            "remapped": [{"from": old, "to": new, "rows": rows} for (old, new), rows in data.remapped.items()],
            "embed_seconds": round(embedded_at - started, 1),
            "train_seconds": round(time.perf_counter() - started, 1),
        },
        versions=_versions(),
    )
    oof = Evaluation(
        examples=fit_rows,
        probs=result.probs,
        labels={h: s.labels for h, s in result.heads.items()},
        routing=routing,
        co_threshold=manifest.co_threshold(),
    )
    title = f"{data.path} 全部 {len(fit_rows)} 行的交叉拟合（{config.folds} 折）袋外预测"
    evaluation = work / EVALUATION
    manifest.metrics = {"source": "out-of-fold", **write_evaluation(evaluation, oof, title)}
    _report_remapped(evaluation / "report.md", data)
    if model is not None:
        from proposal_router.training.export import record_export

        record_export(work, manifest, model, "fp32")  # type: ignore[arg-type]
    if test:
        # the bundle's files as served, with the manifest in hand: it is written once, below, when final
        router = Router(work, threads=threads, manifest=manifest)
        held_out = Evaluation(
            examples=test,
            probs=router.probabilities([e.text for e in test]),
            labels={h: s.labels for h, s in result.heads.items()},
            routing=manifest.routing,
            co_threshold=manifest.co_threshold(),
        )
        metrics = write_evaluation(evaluation / "held-out", held_out, f"{data.path} 的留出测试集")
        manifest.metrics = {"source": "held-out", **metrics, "out_of_fold": manifest.metrics}
    write_manifest(work, manifest)
    return manifest
