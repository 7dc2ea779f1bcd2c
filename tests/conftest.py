"""Shared fixtures: a tiny random BERT with its own tokenizer, and small labelled tables built in code."""

from __future__ import annotations

import io
import json
import os
import random
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PROPOSAL_ROUTER_SHARED_DIR", REPO.parent / "shared"))
L4_MODEL = SHARED / "models" / "me5-small-zh-l4"

# Three departments, each with words a committee would route by.
SUBJECTS = {
    "市医疗保障局": ["医保", "异地就医", "结算", "报销", "药品集采", "门诊统筹"],
    "市教育局": ["学校", "课后服务", "教师", "学位", "校园", "学生"],
    "市交通运输局": ["公交", "线路", "站台", "客运", "出租车", "换乘"],
}
TOPIC_OF = {"市医疗保障局": "医疗卫生", "市教育局": "教育科技", "市交通运输局": "城乡建设"}
CO_OF = {"市医疗保障局": ["市卫生健康委员会"], "市教育局": [], "市交通运输局": ["市公安局"]}


OFFICE_COLUMNS = ["--id-field", "编号", "--title-field", "提案标题", "--body-field", "提案内容"]


def make_rows(n_per_department: int = 20, seed: int = 0) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for dept, words in SUBJECTS.items():
        for i in range(n_per_department):
            picked = rng.sample(words, 4)
            body = (
                f"我市{picked[0]}方面存在不少问题，群众反映{picked[1]}不便，{picked[2]}工作有待加强。"
                f"建议：一是完善{picked[3]}机制；二是加大{picked[0]}投入；三是改进{picked[1]}服务。"
            )
            rows.append(
                {
                    "id": f"{dept[1:3]}-{i:03d}",
                    "title": f"关于改进{picked[0]}和{picked[1]}的提案",
                    "body": body,
                    "topic": TOPIC_OF[dept],
                    "lead_department": dept,
                    "co_departments": "、".join(CO_OF[dept] if i % 2 == 0 else []),
                }
            )
    rng.shuffle(rows)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    import csv

    with path.open("w", encoding=encoding, newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def rows() -> list[dict[str, str]]:
    return make_rows()


@pytest.fixture
def train_csv(tmp_path: Path, rows: list[dict[str, str]]) -> Path:
    return write_csv(tmp_path / "train.csv", rows)


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, 32-wide random BERT and a character-level WordPiece tokenizer, saved like a hub model."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
    from transformers import BertConfig, BertModel

    directory = tmp_path_factory.mktemp("tiny-bert")
    chars = sorted({c for row in make_rows() for field in ("title", "body") for c in row[field]})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    vocab = {token: i for i, token in enumerate(specials + chars)}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(handle_chinese_chars=True, lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.save(str(directory / "tokenizer.json"))
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=0,
    )
    torch.manual_seed(0)  # the weights must not depend on which tests ran first (seeds 0-4 all learn)
    BertModel(config, add_pooling_layer=False).save_pretrained(directory)
    (directory / "SOURCE.md").write_text(json.dumps({"made_by": "tests/conftest.py"}), encoding="utf-8")
    return directory


@pytest.fixture(scope="session")
def tiny_bundle(tiny_bert: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A transformer bundle on the tiny BERT, exported to ONNX: the whole runtime path in seconds."""
    work = tmp_path_factory.mktemp("bundle")
    from proposal_router.model.intake.records import ColumnMap
    from proposal_router.training.config import TrainConfig
    from proposal_router.training.data import load_labelled
    from proposal_router.training.pipeline import train_bundle

    data = load_labelled(write_csv(work / "train.csv", make_rows(25)), ColumnMap(), None)
    config = TrainConfig(
        base_model=str(tiny_bert), max_length=24, strategy="chunks", max_chunks=3, threads=1, components=["transformer"]
    )
    train_bundle(data, None, work / "bundle", config)
    return work / "bundle"


@pytest.fixture(scope="session")
def int8_bundle(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny bundle with an int8 encoder too (parity not gated: the random BERT is not what is tested)."""
    import shutil

    from proposal_router.service.cli import main

    bundle = tmp_path_factory.mktemp("int8") / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    assert main(["export", "--model", str(bundle), "--quantize", "int8", "--min-agreement", "0"]) == 0
    return bundle


def require_shared_model() -> Path:
    if not (L4_MODEL / "config.json").is_file():
        pytest.skip(f"integration test needs the pretrained encoder at {L4_MODEL} (../shared beside the checkout)")
    return L4_MODEL


def formulas(xlsx: bytes) -> list[str]:
    """Every <f> element in any sheet of the workbook: a cell Excel would compute."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        return [
            name for name in archive.namelist() if name.startswith("xl/worksheets/") and b"<f>" in archive.read(name)
        ]
