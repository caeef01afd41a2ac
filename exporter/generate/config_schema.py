"""docs/exporter.schema.json: the JSON Schema of the configuration file, for editors.

With the YAML language server (VS Code's YAML extension, Neovim, JetBrains...) a first line
`# yaml-language-server: $schema=<path or URL of this file>` in exporter.yml validates keys and
values as they are typed. The schema comes from the same dataclasses that read the file.
"""

from __future__ import annotations

import json

from exporter.config import model
from exporter.knowledge.catalog import Catalog

PATH = "docs/exporter.schema.json"


def files(catalog: Catalog) -> dict[str, str]:
    del catalog  # the file's shape does not depend on the catalog's text
    return {PATH: json.dumps(model.schema(), indent=2, ensure_ascii=False) + "\n"}
