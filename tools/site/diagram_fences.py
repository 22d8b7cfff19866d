"""MkDocs hook: ```mermaid fences are shown as their stored SVG (tools/pages/diagrams.py), drawn
by `make diagrams`: no script and no other host at read time. Set here, not with
`!!python/name:` in mkdocs.yml: `tools` is not importable when mkdocs reads its config."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # mkdocs restores sys.path after loading a hook
from tools.pages import diagrams  # noqa: E402


def on_config(config):
    for fence in config.mdx_configs.get("pymdownx.superfences", {}).get("custom_fences", []):
        if fence["name"] == "mermaid":
            fence["format"] = diagrams.fence
    return config
