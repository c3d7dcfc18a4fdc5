"""The simulation: one replication of a funnel, from a scenario to its records.

Where to look, in the order a replication uses them:

- ``run.py``: ``simulate(scenario, seed, replication)``, the only entry point.
- ``population.py`` (with ``sources.py``): every lead and contact, drawn up front, and the
  random numbers that will decide its fate.
- ``rules.py``: the scenario's rules as the plain numbers the story reads.
- ``story.py``: the lead's story, told as it happens: marketing, the handoff and its SLA,
  first touch, attempts, qualification, outbound sequences, opportunities, deals.
- ``pool.py``: a team of reps working tasks in working hours, its queues and priority rule;
  ``agenda.py``: what a team knows will fall due later; ``decay.py``: a lead's odds as it waits.
- ``queue.py``: the funnel reduced to one queue served in order of arrival, computed directly.
- ``assembly.py``: the story's columns turned into flat, typed records.

Nothing here reads files, prints or plots; the layers above (experiment, metrics, store,
charts) import from here only ``run.simulate``.
"""
