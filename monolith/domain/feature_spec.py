"""Which features of a ``tf.train.Example`` the pipeline reads, and how.

A spec names the sparse slots (int64 fid lists), the dense float features
(concatenated in order into ``Batch.dense``) and the label feature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from monolith.domain.errors import ConfigError


@attrs.frozen
class FeatureSpec:
    """Sparse slot names, dense feature names and the label name."""

    sparse: tuple[str, ...]
    dense: tuple[str, ...] = ()
    label: str = "label"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sparse": list(self.sparse),
            "dense": list(self.dense),
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        try:
            return cls(
                sparse=tuple(str(s) for s in data["sparse"]),
                dense=tuple(str(d) for d in data.get("dense", ())),
                label=str(data.get("label", "label")),
            )
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"feature spec {dict(data)!r} is malformed: expected keys "
                "'sparse' (list of names), optional 'dense' and 'label'"
            ) from exc
