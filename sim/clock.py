"""The simulator's clock is the project's one injectable clock (:mod:`microgrid.clock`), re-exported here."""

from microgrid.clock import DEFAULT_TZ, Clock, RealClock, ScaledClock, SteppedClock

__all__ = ["DEFAULT_TZ", "Clock", "RealClock", "ScaledClock", "SteppedClock"]
