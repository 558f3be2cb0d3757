"""Accessible variants: every person reached, in a language and form they can use.

Stage: the pure middle (cap -> profiles -> routing -> render). No I/O, no HTTP,
no store: ``router.assets`` reads the configuration and makes the audio, ingest
renders and stores, the dispatcher hands the stored variants to every channel.
"""

from router.render.config import AccessibilityConfig
from router.render.preview import FormRow, fit_findings, preview, short_findings
from router.render.render import Renderer
from router.render.variants import LanguageVariant, RenderedAlert, compose

__all__ = [
    "AccessibilityConfig",
    "FormRow",
    "LanguageVariant",
    "RenderedAlert",
    "Renderer",
    "compose",
    "fit_findings",
    "preview",
    "short_findings",
]
