"""The README's layout table names the package's modules as they are in the tree."""

from __future__ import annotations

import re

from harmonic.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "harmonic"


def _named_in_layout() -> set[str]:
    """Module paths (relative to ``harmonic/``) the layout table names: ``study*.py`` patterns expanded."""
    named: set[str] = set()
    for line in (REPO_ROOT / "README.md").read_text().splitlines():
        row = re.match(r"\| `harmonic/([a-z_]*/?)`[^|]*\| (.*) \|$", line)
        if not row:
            continue
        folder, text = row.groups()
        for name in re.findall(r"`([a-z_*]+(?:\.py|/))`", text):
            if name.endswith("/"):  # a subpackage named as a whole
                named.update(p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / folder / name).glob("*.py")
                             if p.name != "__init__.py")
            else:
                named.update(p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / folder).glob(name))
                if "*" not in name:
                    named.add(f"{folder}{name}")
    return named


def test_layout_table_names_every_module_and_only_existing_ones():
    modules = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
               if p.name != "__init__.py" and "__pycache__" not in p.parts}
    named = _named_in_layout()
    assert modules - named == set(), "modules the README's layout table does not name"
    assert named - modules == set(), "names in the README's layout table that are not modules"
