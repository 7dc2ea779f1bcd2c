from __future__ import annotations

from pathlib import Path

import pytest

from proposal_router.model.errors import DataError
from proposal_router.model.taxonomy import Resolver, Taxonomy, load_taxonomy

REPO_TAXONOMY = Path(__file__).resolve().parents[1] / "data" / "taxonomy.yaml"


@pytest.fixture(scope="module")
def taxonomy() -> Taxonomy:
    return load_taxonomy(REPO_TAXONOMY)


def test_demo_city_has_the_agreed_topics_and_departments(taxonomy: Taxonomy) -> None:
    assert [t.key for t in taxonomy.topics][:3] == ["livelihood", "ecology", "industry"]
    assert len(taxonomy.topics) == 9
    assert len(taxonomy.departments) == 27
    assert all(d.duties and d.aliases for d in taxonomy.departments)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("卫健委", "市卫生健康委员会"),
        ("医保局", "市医疗保障局"),
        ("市环境保护局", "市生态环境局"),
        (" 市 住房和城乡建设局 ", "市住房和城乡建设局"),
    ],
)
def test_aliases_and_former_names_resolve(taxonomy: Taxonomy, given: str, canonical: str) -> None:
    assert taxonomy.resolve_department(given) == canonical


def test_topics_resolve_by_key_or_name(taxonomy: Taxonomy) -> None:
    assert taxonomy.resolve_topic("ecology") == "生态环境"
    assert taxonomy.resolve_topic("生态环境") == "生态环境"
    assert taxonomy.resolve_topic("环保") is None


def test_unknown_department_is_a_row_issue_with_a_suggestion(taxonomy: Taxonomy) -> None:
    issue = Resolver(taxonomy).department("市卫生健康委", "a.csv", 7, "lead_department")
    assert not isinstance(issue, str)
    assert str(issue).startswith("a.csv，第 7 行，「lead_department」列：unknown department")
    assert "市卫生健康委员会" in issue.message


def test_an_alias_claimed_by_two_departments_is_refused() -> None:
    with pytest.raises(ValueError, match="同时属于 市甲局 和 市乙局"):
        Taxonomy.model_validate(
            {
                "topics": [{"key": "a", "name": "甲"}],
                "departments": [
                    {"name": "市甲局", "aliases": ["甲局"]},
                    {"name": "市乙局", "aliases": ["甲局"]},
                ],
            }
        )


def test_broken_taxonomy_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("topics: [", encoding="utf-8")
    with pytest.raises(DataError, match=r"t\.yaml：不是有效的分类表"):
        load_taxonomy(path)
    with pytest.raises(DataError, match="找不到分类表文件"):
        load_taxonomy(tmp_path / "absent.yaml")
