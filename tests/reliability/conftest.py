"""Hypothesis profiles for the reliability fuzzers (used by `test_fuzz.py` through
`settings.get_profile`, so other tests keep hypothesis' defaults).

- `ci` (default): a few hundred examples in all, within about two minutes.
- `long`: many more, for a hunt: `HYPOTHESIS_PROFILE=long pytest tests/reliability`.
"""

from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "ci", max_examples=150, deadline=None, derandomize=True, suppress_health_check=_QUIET
)
settings.register_profile(
    "long", max_examples=5_000, deadline=None, suppress_health_check=_QUIET, print_blob=True
)
