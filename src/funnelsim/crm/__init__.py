"""A planner's own funnel: CRM exports in (``funnelsim calibrate``) and out (``export-crm``)."""
