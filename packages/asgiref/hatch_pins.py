"""Hatchling metadata hook: pin sibling distributions to this release's version.

Every distribution of the monorepo is released together under one version, so
a dependency on a sibling is always exact. The siblings to pin are listed in
the package's ``[tool.hatch.metadata.hooks.custom] siblings`` setting.
"""

from __future__ import annotations

from typing import Any

from hatchling.metadata.plugin.interface import MetadataHookInterface


class PinSiblingsHook(MetadataHookInterface):
    def update(self, metadata: dict[str, Any]) -> None:
        siblings = self.config.get("siblings", [])
        if not isinstance(siblings, list) or not all(isinstance(s, str) for s in siblings):
            raise TypeError("hooks.custom.siblings must be a list of distribution names")
        version = metadata["version"]
        pins = [f"{name}=={version}" for name in siblings]
        metadata["dependencies"] = [*metadata.get("dependencies", []), *pins]
