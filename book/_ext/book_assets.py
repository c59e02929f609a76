"""Sphinx extension: each script of a page is included once.

With jupyter-book 1.x some extensions register their scripts twice (sphinx-thebe's
``const THEBE_JS_URL``, togglebutton's settings, the MathJax bundle). Browsers then
report "Identifier ... has already been declared" and MathJax initialises twice.
This keeps the first occurrence of every script file or inline body.
"""

from __future__ import annotations

from typing import Any


def _unique_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[str] = set()
    unique = []
    for script in scripts:
        filename = getattr(script, "filename", None)
        key = str(filename).split("?")[0] if filename else "body:" + script.attributes.get("body", "")
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def setup(app: Any) -> dict[str, Any]:
    # priority > 500: run after the extensions that add scripts at html-page-context
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
