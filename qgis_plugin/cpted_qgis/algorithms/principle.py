"""The shared shape of the one-principle algorithms (each in its own file)."""

from __future__ import annotations

from ..bridge import progress
from .base import CptedAlgorithm


class PrincipleAlgorithm(CptedAlgorithm):
    """Runs one of the library's measures (:attr:`MEASURES`) on a site."""

    REQUIRED = ("streets",)

    def compute(self, cpted, parameters, context, feedback):
        site = self.site(cpted, parameters, context, feedback)
        result = cpted.audit(site, measures=self.MEASURES, progress=progress(feedback, span=90),
                             **self.audit_options(parameters, context))
        return result.layers, {}
