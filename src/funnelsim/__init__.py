"""funnelsim: a discrete-event simulator and what-if modeler for marketing-to-sales funnels."""

from funnelsim.compiled import guard as _guard

_guard()  # before any model module is imported: a stale compiled build never runs
