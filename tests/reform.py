"""The 机构改革 the tests try, as an analyst would: 市政务服务和数据管理局 renamed 市数据局, 市体育局 and
市文化广电和旅游局 merged into 市文化体育和旅游局, on the demo city's taxonomy."""

from __future__ import annotations

from pathlib import Path

from proposal_router.model.taxonomy import Department, Taxonomy, load_taxonomy, save_taxonomy
from tests.conftest import REPO

TAXONOMY = REPO / "data" / "taxonomy.yaml"
RENAMED = ("市政务服务和数据管理局", "市数据局")
MERGED = (("市体育局", "市文化广电和旅游局"), "市文化体育和旅游局")


def reformed(taxonomy: Taxonomy) -> Taxonomy:
    """The taxonomy after the reform: the new names carry the old ones as former names."""
    old_name, new_name = RENAMED
    (sport, culture), merged = MERGED
    by_name = {d.name: d for d in taxonomy.departments}
    departments: list[Department] = []
    for department in taxonomy.departments:
        if department.name == old_name:
            departments.append(department.model_copy(update={"name": new_name, "former_names": [old_name]}))
        elif department.name == culture:
            aliases = [*by_name[culture].aliases, *by_name[sport].aliases]
            duties = by_name[culture].duties + by_name[sport].duties
            departments.append(Department(name=merged, aliases=aliases, former_names=[sport, culture], duties=duties))
        elif department.name != sport:
            departments.append(department)
    return taxonomy.model_copy(update={"version": "2027.1", "departments": departments})


def write_reformed(directory: Path) -> Path:
    path = directory / "taxonomy-2027.yaml"
    save_taxonomy(reformed(load_taxonomy(TAXONOMY)), path)
    return path
