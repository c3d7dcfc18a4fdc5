"""The CRM export formats funnelsim reads and writes: their columns, dates and stage values.

Two formats are built in, named as their CRMs export them (issue 16):

- **HubSpot**: a contacts export (one row per contact: when it was created, its original
  source, its lifecycle stage, when it became an MQL and an SQL, its first sales engagement,
  how many sales activities it had, its industry and size) and a deals export (one row per
  deal, pointing to its contact, with create and close dates, the stage and the amount).
- **Salesforce**: a Lead export and an Opportunity export. Salesforce has no standard MQL or
  first-touch date: a mapping file names the custom fields that hold them
  (``MQL_Date__c`` and ``First_Touch__c`` when funnelsim writes the export itself).

Dates are written ``YYYY-MM-DD HH:MM`` in local time (the scenario's, or ``--timezone``) and
left empty when the stage was never reached. This module only names things: reading is
``funnelsim.crm.read``, writing ``funnelsim.crm.export``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["hubspot", "salesforce"]
FORMATS: tuple[Format, ...] = ("hubspot", "salesforce")
DATE_FORMAT = "%Y-%m-%d %H:%M"  # local time; empty when the stage was never reached
SPEND_COLUMNS = ("month", "channel", "spend")  # a spend file: YYYY-MM, the source, the money


@dataclass(frozen=True)
class HubSpot:
    """HubSpot's contacts and deals exports (the column names as HubSpot writes them)."""

    contact_id: str = "Record ID"
    created: str = "Create Date"
    source: str = "Original Source"
    lifecycle_stage: str = "Lifecycle Stage"
    mql_date: str = "Became a Marketing Qualified Lead Date"
    sql_date: str = "Became a Sales Qualified Lead Date"
    first_touch: str = "First Engagement Date"  # the first sales touch
    activities: str = "Number of Sales Activities"
    industry: str = "Industry"
    employees: str = "Number of Employees"
    deal_id: str = "Deal ID"
    deal_contact: str = "Contact ID"
    deal_created: str = "Create Date"
    deal_closed: str = "Close Date"
    deal_stage: str = "Deal Stage"
    amount: str = "Amount"


HUBSPOT = HubSpot()
HUBSPOT_CONTACT_COLUMNS = (
    HUBSPOT.contact_id, HUBSPOT.created, HUBSPOT.source, HUBSPOT.lifecycle_stage,
    HUBSPOT.mql_date, HUBSPOT.sql_date, HUBSPOT.first_touch, HUBSPOT.activities,
    HUBSPOT.industry, HUBSPOT.employees,
)  # fmt: skip
HUBSPOT_DEAL_COLUMNS = (
    HUBSPOT.deal_id, HUBSPOT.deal_contact, HUBSPOT.deal_created, HUBSPOT.deal_closed,
    HUBSPOT.deal_stage, HUBSPOT.amount,
)  # fmt: skip
HUBSPOT_WON, HUBSPOT_LOST = "closedwon", "closedlost"  # any other deal stage is open
# HubSpot's lifecycle stages, earliest first (the stage a contact has reached)
HUBSPOT_LIFECYCLE = (
    "subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity",
    "customer", "evangelist", "other",
)  # fmt: skip


@dataclass(frozen=True)
class Salesforce:
    """Salesforce's Lead and Opportunity exports (API field names)."""

    lead_id: str = "Id"
    created: str = "CreatedDate"
    source: str = "LeadSource"
    status: str = "Status"
    converted: str = "IsConverted"
    converted_date: str = "ConvertedDate"
    opportunity: str = "ConvertedOpportunityId"
    industry: str = "Industry"
    employees: str = "NumberOfEmployees"
    mql_date: str = "MQL_Date__c"  # custom: named in the mapping file
    first_touch: str = "First_Touch__c"  # custom: named in the mapping file
    opportunity_id: str = "Id"
    opportunity_created: str = "CreatedDate"
    close_date: str = "CloseDate"
    stage: str = "StageName"
    closed: str = "IsClosed"
    won: str = "IsWon"
    amount: str = "Amount"
    opportunity_source: str = "LeadSource"


SALESFORCE = Salesforce()
SALESFORCE_LEAD_COLUMNS = (
    SALESFORCE.lead_id, SALESFORCE.created, SALESFORCE.source, SALESFORCE.status,
    SALESFORCE.converted, SALESFORCE.converted_date, SALESFORCE.opportunity,
    SALESFORCE.industry, SALESFORCE.employees,
)  # fmt: skip
SALESFORCE_OPPORTUNITY_COLUMNS = (
    SALESFORCE.opportunity_id, SALESFORCE.opportunity_created, SALESFORCE.close_date,
    SALESFORCE.stage, SALESFORCE.closed, SALESFORCE.won, SALESFORCE.amount,
    SALESFORCE.opportunity_source,
)  # fmt: skip


def slug(source: str) -> str:
    """A source's name as a scenario and the fits name it: ``'Organic Search'`` ->
    ``'organic_search'`` (lower case, runs of other characters as one underscore)."""
    out: list[str] = []
    gap = False
    for ch in source.strip().lower():
        if ch.isalnum():
            if gap and out:
                out.append("_")
            out.append(ch)
            gap = False
        else:
            gap = True
    return "".join(out) or "unknown"
