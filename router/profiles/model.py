"""The profile file format: what a ``cap_profiles/*.yaml`` file may say.

Stage: the pure middle (profiles). Every model forbids unknown keys, so a typo
in a profile is an error at start-up with its path, never a silently ignored
rule. A rule has an ``id``, an optional ``severity`` (default ``error``), an
optional ``when`` (alert-level conditions), an optional ``message`` and
``source`` (where the requirement comes from), and exactly one *check*:

========================  =====================================================
check                     meaning
========================  =====================================================
``require``               every parent has the element (``min``, default 1)
``require_any``           every parent has at least one of these sibling elements
``count``                 every parent has between ``min`` and ``max`` of them
``require_value``         the element occurs with this exact value
``allowed_values``        every occurrence has one of these values
``pattern``               every occurrence matches this regular expression
``max_length``            every occurrence is at most ``chars`` characters
``required_languages``    ``<info>`` blocks exist in these languages
``bounding_box``          every polygon vertex and circle lies in one of the boxes
``max_polygon_points``    no polygon has more coordinate pairs than this
========================  =====================================================

Signatures are not a rule but a profile-level setting, ``signature:``
(``required`` | ``if-present`` | ``ignore``; inherited, ``ignore`` when no profile
in the chain says), applied by ``router.trust`` after the XML-DSig check:

- ``required``: the alert must carry a signature that verifies and is trusted;
- ``if-present``: an unsigned alert passes; a signed one must verify and be trusted;
- ``ignore``: trust is not demanded (an untrusted signature is a warning).

Whatever the setting, an ``invalid`` signature (it does not verify, or covers
something other than the whole alert) is an error: a forged warning that
claims a signature is never let through. ``signature_legacy`` opts a profile in
to what strict XML-DSig refuses, for archived feeds only: ``allow_sha1`` (RSA-SHA1
and SHA-1 digests) and ``strip_blank_text`` (verify after removing whitespace-only
text nodes, as the WMO CAP validator does; this is not XML-DSig processing).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from router.cap.model import MsgType, Scope, Status

_CHECKS = (
    "require", "require_any", "count", "require_value", "allowed_values", "pattern", "max_length",
    "required_languages", "bounding_box", "max_polygon_points",
)
SignatureMode = Literal["required", "if-present", "ignore"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PathCheck(_Strict):
    path: str


class Require(PathCheck):
    min: int = Field(default=1, ge=1)


class RequireAny(_Strict):
    """Sibling elements of which at least one must be present, e.g. polygon or circle."""

    paths: list[str] = Field(min_length=2)


class Count(PathCheck):
    min: int = Field(default=0, ge=0)
    max: int | None = Field(default=None, ge=0)


class RequireValue(PathCheck):
    value: str


class AllowedValues(PathCheck):
    values: list[str] = Field(min_length=1)


class Pattern(PathCheck):
    regex: str


class MaxLength(PathCheck):
    chars: int = Field(ge=1)


class RequiredLanguages(_Strict):
    """Languages compared by primary subtag (``nl`` matches ``nl-NL`` and ``nl-BE``)."""

    languages: list[str] = Field(default_factory=list)
    min_distinct: int = Field(default=0, ge=0)


class Box(_Strict):
    min_lat: float = Field(ge=-90, le=90)
    max_lat: float = Field(ge=-90, le=90)
    min_lon: float = Field(ge=-180, le=180)
    max_lon: float = Field(ge=-180, le=180)
    name: str = ""


class BoundingBox(_Strict):
    boxes: list[Box] = Field(min_length=1)


class When(_Strict):
    """Alert-level conditions; a rule applies only when every listed field matches."""

    status: list[Status] | None = None
    msg_type: list[MsgType] | None = None
    scope: list[Scope] | None = None


class RuleSpec(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    severity: Literal["error", "warning"] = "error"
    when: When | None = None
    message: str | None = None
    source: str | None = None
    require: Require | None = None
    require_any: RequireAny | None = None
    count: Count | None = None
    require_value: RequireValue | None = None
    allowed_values: AllowedValues | None = None
    pattern: Pattern | None = None
    max_length: MaxLength | None = None
    required_languages: RequiredLanguages | None = None
    bounding_box: BoundingBox | None = None
    max_polygon_points: int | None = Field(default=None, ge=4)

    @model_validator(mode="before")
    @classmethod
    def _retired_checks(cls, data: object) -> object:
        if isinstance(data, dict) and "signature_required" in data:
            raise ValueError("the rule signature_required is replaced by the profile-level "
                             "setting `signature: required | if-present | ignore`")
        return data

    @model_validator(mode="after")
    def _exactly_one_check(self) -> RuleSpec:
        present = [name for name in _CHECKS if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(
                f"a rule has exactly one check ({', '.join(_CHECKS)}); found "
                f"{', '.join(present) or 'none'}"
            )
        return self

    @property
    def check_name(self) -> str:
        return next(name for name in _CHECKS if getattr(self, name) is not None)


class SignatureLegacy(_Strict):
    """Non-strict signature processing a profile may opt in to for legacy feeds."""

    allow_sha1: bool = False
    strip_blank_text: bool = False


class ProfileSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    title: str
    description: str = ""
    extends: str | None = None
    sources: list[str] = Field(default_factory=list)
    disable: list[str] = Field(default_factory=list)
    signature: SignatureMode | None = None
    signature_legacy: SignatureLegacy | None = None
    rules: list[RuleSpec] = Field(default_factory=list)
