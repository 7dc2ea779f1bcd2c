"""The analyst notebook runs top to bottom on the demo data."""

from __future__ import annotations

import nbformat
from nbclient import NotebookClient

from tests.conftest import REPO


def test_notebook_runs_top_to_bottom() -> None:
    notebook = nbformat.read(REPO / "notebooks" / "analyst_workflow.ipynb", as_version=4)
    NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(REPO / "notebooks")}},
    ).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "intake accuracy:" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
