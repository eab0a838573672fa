"""Realistic web access-log generator: sessions, bots, errors and traffic shape, in six formats.

``load_config`` and ``backfill`` are the API other layers use (see docs/design.md); ``run_live`` and
``check_health`` back the container's live writer and its health check.
"""

from __future__ import annotations

from edgelog.generator.backfill import backfill
from edgelog.generator.config import DEFAULTS, GeneratorConfig, load_config
from edgelog.generator.formats import FORMATS, RECORD_FIELDS

__all__ = ["DEFAULTS", "FORMATS", "RECORD_FIELDS", "GeneratorConfig", "backfill", "load_config"]
