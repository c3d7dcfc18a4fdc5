"""A CRM export as funnelsim reads it, whatever the CRM: leads, deals and spend, normalised.

``funnelsim.crm.read`` turns a HubSpot, Salesforce or mapped export into an :class:`Export`;
``funnelsim.calibration`` fits a scenario's numbers from it. Times are naive local datetimes
(``--timezone``'s wall clock), as a scenario's calendar reads them; a stage never reached is
``NaT``.

``leads`` (one row per lead or contact), columns:

- ``id`` (str), ``created`` (datetime64), ``source`` (str, the export's value, e.g.
  ``Organic Search``), ``kind`` (``inbound`` or ``outbound``: a mapping file says which sources
  are outbound; by default all are inbound);
- ``mql_at``, ``sql_at``, ``first_touch_at`` (datetime64 or NaT);
- ``activities`` (float: sales activities, NaN when unknown);
- ``industry`` (str or None), ``employees`` (float or NaN), ``segment`` (str: the size band,
  ``smb`` under 200 employees, ``mid`` under 1,000, ``ent`` above, ``unknown`` without a size).

``deals`` (one row per deal), columns: ``id`` (str), ``lead_id`` (str), ``created``,
``closed`` (datetime64; ``closed`` NaT while open), ``outcome`` (``won``, ``lost`` or
``open``), ``amount`` (float, NaN when empty).

``spend`` (optional; one row per month and channel): ``month`` (datetime64, the month's first
day), ``channel`` (str), ``spend`` (float).

``exported_at``: when the export was taken (the latest date in it unless given): records still
open then are right-censored there. ``dropped`` counts the rows left out, by reason.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

SEGMENT_BOUNDS = ((200, "smb"), (1000, "mid"))  # employees below the bound; above: "ent"


def segment_of(employees: float) -> str:
    """The size band of a company of ``employees`` people (``unknown`` when not given)."""
    if employees != employees:  # NaN
        return "unknown"
    for bound, name in SEGMENT_BOUNDS:
        if employees < bound:
            return name
    return "ent"


@dataclass
class Export:
    """Leads, deals and spend of one CRM export (see the module's columns)."""

    leads: pd.DataFrame
    deals: pd.DataFrame
    spend: pd.DataFrame | None
    exported_at: dt.datetime
    source_files: dict[str, str] = field(default_factory=dict)  # "contacts" -> path, ...
    dropped: Counter[str] = field(default_factory=Counter)  # reason -> rows left out
