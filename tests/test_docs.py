"""The documentation: every page in docs/ can be reached from the README by following links, and no link within the
project points at a file that is not there."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: A markdown link or image, ``[text](target)`` or ``[text](target "title")``; the target is group 1.
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def local_links(page: Path) -> list[Path]:
    """The files ``page`` links to (web addresses and in-page anchors left out; ``#section`` cut off)."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)  # code holds no links
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = [t.split("#", 1)[0] for t in LINK.findall(text)]
    return [(page.parent / t).resolve() for t in targets if t and not re.match(r"[a-z][a-z0-9+.-]*:", t)]


def reachable(start: Path) -> set[Path]:
    """Every markdown file reachable from ``start`` through local links, ``start`` included."""
    seen, todo = set(), [start.resolve()]
    while todo:
        page = todo.pop()
        if page in seen or page.suffix != ".md" or not page.is_file():
            continue
        seen.add(page)
        todo.extend(local_links(page))
    return seen


def test_every_docs_page_is_reachable_from_the_readme() -> None:
    pages = {p.resolve() for p in (REPO / "docs").rglob("*.md")}
    found = reachable(REPO / "README.md")
    assert REPO / "docs" / "architecture.md" in found and REPO / "docs" / "models" / "gpu.md" in found
    assert sorted(str(p.relative_to(REPO)) for p in pages - found) == []


def test_links_within_the_project_point_at_files_that_exist() -> None:
    broken = [
        f"{page.relative_to(REPO)} -> {target}"
        for page in sorted(reachable(REPO / "README.md"))
        for target in local_links(page)
        if target.is_relative_to(REPO) and not target.exists()
    ]
    assert broken == []


def test_the_link_parser_finds_links_and_leaves_web_addresses(tmp_path: Path) -> None:
    page = tmp_path / "a.md"
    page.write_text(
        'See [b](b.md#part), [c](sub/c.md "C"), [web](https://example.org/x.md), [top](#top) and `[x](y.md)`.\n'
        "```\n[in code](code.md)\n```\n",
        encoding="utf-8",
    )
    (tmp_path / "b.md").write_text("[back](a.md)\n", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.md").write_text("[up](../b.md) [none](missing.md)\n", encoding="utf-8")
    assert local_links(page) == [tmp_path / "b.md", tmp_path / "sub" / "c.md"]
    assert reachable(page) == {page, tmp_path / "b.md", tmp_path / "sub" / "c.md"}
