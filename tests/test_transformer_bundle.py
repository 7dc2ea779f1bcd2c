"""The transformer path end to end on a tiny random BERT: train, export, load without torch, refuse damage."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from proposal_router.model.encoder import DocumentEmbedder, TransformerScorer
from proposal_router.model.errors import BundleError
from proposal_router.model.intake.records import ColumnMap
from proposal_router.model.manifest import load_manifest
from proposal_router.model.router import Router
from proposal_router.model.schemas import Proposal
from proposal_router.model.text import TextConfig, WindowTokenizer, special_ids
from proposal_router.service.cli import main
from proposal_router.training.data import load_labelled
from proposal_router.training.export import write_onnx
from proposal_router.training.transformer import FrozenEncoder, document_vectors
from tests.conftest import make_rows, write_csv


def test_bundle_is_complete_and_described(tiny_bundle: Path) -> None:
    manifest = load_manifest(tiny_bundle)
    assert manifest.components == ["transformer"]
    serving = {"serving/encoder.onnx", "serving/heads.npz", "serving/tokenizer.json"}
    assert set(manifest.files_of("serving")) >= serving
    assert set(manifest.files_of("training")) >= {"training/evaluation/metrics.json", "training/validation.jsonl"}
    assert any(name.startswith("training/torch/") for name in manifest.files)
    assert manifest.text is not None and manifest.text.strategy == "chunks"
    assert manifest.heads["lead"].labels == sorted(["市医疗保障局", "市教育局", "市交通运输局"])
    assert manifest.training_data.splits == {"cross-fitted": 75, "held-out test": 0}
    assert manifest.crossfit is not None and manifest.crossfit.folds == 5 and manifest.crossfit.rows == 75
    assert set(manifest.crossfit.out_of_fold["lead"]) == {"transformer", "stack"}
    assert manifest.metrics["source"] == "out-of-fold" and manifest.metrics["lead_department"]["n"] == 75
    assert "torch" in manifest.versions
    assert not (tiny_bundle.parent / "bundle.partial").exists()


def test_router_routes_and_learns_the_subjects(tiny_bundle: Path) -> None:
    router = Router(tiny_bundle, threads=1)
    results = router.route(
        [
            Proposal(id="a", title="关于改进医保异地就医结算的提案", body="建议完善医保报销和门诊统筹。"),
            Proposal(id="b", title="关于公交线路的提案", body="建议增加公交线路和站台，方便换乘。"),
        ]
    )
    assert [r.id for r in results] == ["a", "b"]
    assert [r.lead_department.name for r in results if r.lead_department] == ["市医疗保障局", "市交通运输局"]
    for result in results:
        assert len(result.candidates) == 3
        assert result.decision in ("auto", "review")
        assert (result.reason is None) == (result.decision == "auto")
        assert sum(c.confidence for c in result.candidates) == pytest.approx(1.0, abs=1e-4)


def test_long_text_is_chunked_and_a_huge_cell_stays_cheap(tiny_bundle: Path) -> None:
    router = Router(tiny_bundle, threads=1)
    (result,) = router.route([Proposal(title="关于医保的提案", body="医保结算报销。" * 800_000)])
    assert result.lead_department is not None


def test_onnx_matches_torch(tiny_bert: Path, tmp_path: Path) -> None:
    """The exported encoder gives the torch encoder's document vectors, views and windows pooled alike."""
    data = load_labelled(write_csv(tmp_path / "t.csv", make_rows(8)), ColumnMap(), None)
    shutil.copyfile(tiny_bert / "tokenizer.json", tmp_path / "tokenizer.json")
    text = TextConfig(
        max_length=16, max_chunks=2, views=["text", "title", "ask"], **special_ids(tmp_path / "tokenizer.json")
    )
    tokenizer = WindowTokenizer(tmp_path / "tokenizer.json", text)
    model = FrozenEncoder(str(tiny_bert))
    write_onnx(model, tmp_path / "encoder.onnx", text)
    texts = [e.text for e in data.examples]
    served = DocumentEmbedder(tmp_path, tokenizer, "encoder.onnx", threads=1).embeddings(texts)
    expected = document_vectors(model, tokenizer.windows(texts), text.pad_id)
    assert served.shape == (len(texts), 32)
    np.testing.assert_allclose(served, expected, atol=1e-4)


def test_serving_never_imports_torch(tiny_bundle: Path) -> None:
    code = (
        "import sys\n"
        "from proposal_router.model import Router, Proposal\n"
        f"r = Router({str(tiny_bundle)!r}, threads=1)\n"
        "r.route([Proposal(title='关于公交线路的提案', body='增加公交线路')])\n"
        "loaded = [m for m in ('torch', 'transformers', 'sklearn') if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


def _copy(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(bundle, target)
    return target


def test_corrupt_file_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy(tiny_bundle, tmp_path)
    with (bundle / "serving" / "encoder.onnx").open("r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02")
    with pytest.raises(BundleError, match=r"encoder.onnx：内容与 manifest 不符"):
        Router(bundle)


def test_missing_file_and_manifest_are_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy(tiny_bundle, tmp_path)
    (bundle / "serving" / "heads.npz").unlink()
    with pytest.raises(BundleError, match=r"manifest 所列文件 serving/heads\.npz 缺失"):
        Router(bundle)
    (bundle / "manifest.json").unlink()
    with pytest.raises(BundleError, match="不是模型目录"):
        Router(bundle)
    with pytest.raises(BundleError, match="模型目录不存在"):
        Router(tmp_path / "absent")


def test_other_schema_version_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy(tiny_bundle, tmp_path)
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    manifest["schema_version"] = 99
    (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(BundleError, match="模型包格式版本为 99，本版本只能读取版本 3"):
        Router(bundle)


def test_export_int8_checks_parity_and_serves_it(tiny_bundle: Path, tmp_path: Path) -> None:
    bundle = _copy(tiny_bundle, tmp_path)
    assert main(["export", "--model", str(bundle), "--quantize", "int8"]) == 0
    manifest = load_manifest(bundle)
    assert set(manifest.exports) == {"fp32", "int8"} and manifest.encoder_file == "encoder.int8.onnx"
    for info in manifest.exports.values():
        assert info.parity is not None and info.parity.passed and info.parity.rows > 0
        assert info.parity.lead_agreement >= info.parity.bar
    import onnx

    ops = {n.op_type for n in onnx.load(str(bundle / "serving" / "encoder.int8.onnx")).graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    (result,) = Router(bundle).route([Proposal(title="关于公交线路的提案", body="建议增加公交线路和站台")])
    assert result.lead_department is not None
    assert main(["export", "--model", str(bundle), "--serve", "fp32"]) == 0
    assert load_manifest(bundle).encoder_file == "encoder.onnx"
    int8 = Router(bundle, precision="int8").encoder
    assert isinstance(int8, TransformerScorer) and int8.encoder.session._model_path.endswith("encoder.int8.onnx")


def test_an_int8_routing_does_not_depend_on_the_proposals_beside_it(int8_bundle: Path) -> None:
    router = Router(int8_bundle, precision="int8")
    proposals = [Proposal(title=r["title"], body=r["body"] * (i % 3 + 1)) for i, r in enumerate(make_rows(4))]
    alone = [router.route([p])[0] for p in proposals]
    assert router.route(proposals) == alone


def test_an_encoder_not_exported_is_a_clear_error(tiny_bundle: Path) -> None:
    with pytest.raises(BundleError, match=r"没有 int8 编码器（已导出：fp32）：请先运行 export"):
        Router(tiny_bundle, precision="int8")


def test_length_sorted_batching_does_not_change_results(tiny_bundle: Path) -> None:
    scorer = Router(tiny_bundle, threads=1).encoder
    assert isinstance(scorer, TransformerScorer)
    windows = [
        w
        for doc in scorer.tokenizer.windows([r["body"] * (i % 4 + 1) for i, r in enumerate(make_rows(3))])
        for w in doc.ids
    ]
    one_by_one = scorer.encoder.embed(windows, scorer.tokenizer.config.pad_id, batch_tokens=1)
    batched = scorer.encoder.embed(windows, scorer.tokenizer.config.pad_id, batch_tokens=100_000)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)


def test_onnx_of_another_model_is_refused(tiny_bundle: Path, tmp_path: Path) -> None:
    from transformers import BertConfig, BertModel

    from proposal_router.model.manifest import write_manifest

    bundle = _copy(tiny_bundle, tmp_path)
    other = tmp_path / "other"
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    BertModel(config, add_pooling_layer=False).save_pretrained(other)
    manifest = load_manifest(bundle)
    assert manifest.text is not None
    write_onnx(FrozenEncoder(str(other)), bundle / "serving" / "encoder.onnx", manifest.text)
    write_manifest(bundle, manifest)  # as if someone re-hashed a wrongly copied file
    with pytest.raises(BundleError, match=r"编码器输出 16 维向量，预测项 .* 需要 32 维：该 ONNX 文件属于另一个模型"):
        Router(bundle)


def test_baseline_needs_no_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_csv(tmp_path / "t.csv", make_rows(5))
    assert main(["train", "--data", str(data), "--out", str(tmp_path / "b"), "--model-type", "baseline"]) == 0
    assert main(["export", "--model", str(tmp_path / "b")]) == 2
    assert "baseline 模型包无需导出" in capsys.readouterr().err


def test_export_below_the_parity_bar_is_refused_and_not_recorded(
    tiny_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _copy(tiny_bundle, tmp_path)
    assert main(["export", "--model", str(bundle), "--quantize", "int8", "--min-agreement", "1.01"]) == 2
    err = capsys.readouterr().err
    assert "encoder.int8.onnx：int8 导出与 torch 在" in err and "低于门槛 101.0%" in err
    manifest = load_manifest(bundle)
    assert "int8" not in manifest.exports and manifest.encoder_file == "encoder.onnx"
