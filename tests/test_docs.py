"""The README says what the code does: its example queries are the ones the tests run."""

from __future__ import annotations

import re
from pathlib import Path

from warehouse.adhoc import example_queries

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_sql_blocks() -> list[str]:
    return [block.strip() for block in re.findall(r"```sql\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)]


def test_the_readme_example_queries_are_those_of_examples_sql():
    examples = example_queries()
    assert examples, "warehouse/examples.sql has no examples"
    blocks = readme_sql_blocks()
    for name, text in examples.items():
        sql = "\n".join(line for line in text.splitlines() if not line.startswith("--")).strip()
        description = " ".join(line[2:].strip() for line in text.splitlines() if line.startswith("--"))
        assert description and description in README.read_text(encoding="utf-8"), f"README lacks the description of {name!r}"
        assert sql in blocks, f"README lacks the example query {name!r} exactly as warehouse/examples.sql has it"
        assert f"**{name}**" in README.read_text(encoding="utf-8"), f"README does not name the example {name!r}"
