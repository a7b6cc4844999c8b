"""Annual study and green-power target planner (docs/study.md).

- :func:`year_inputs`: a year of weather (typical-year generator or CSV), loads from the day-type profiles
  and the holiday calendar, PV and COP;
- :func:`run_study`: every day planned in sequence through the dispatch optimizer with the carry-overs,
  accounted by the report module; :func:`write_study` writes the monthly table and the HTML page;
- :func:`plan_target` (:mod:`microgrid.study.target`): cheapest added PV, storage and green purchases to
  reach an annual green-power ratio, over representative days.
"""

from microgrid.study.calendar import YearCalendar, site_calendar, year_calendar
from microgrid.study.output import monthly_table, write_study
from microgrid.study.run import StudyResult, run_study
from microgrid.study.year import YearInputs, year_inputs

__all__ = [
    "StudyResult",
    "YearCalendar",
    "YearInputs",
    "monthly_table",
    "run_study",
    "site_calendar",
    "write_study",
    "year_calendar",
    "year_inputs",
]
