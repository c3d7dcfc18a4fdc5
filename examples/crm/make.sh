#!/bin/sh
# Regenerates the bundled CRM example export from the funnel behind it:
#   examples/crm/make.sh [DIR]      (DIR defaults to examples/crm; run from anywhere)
# One replication of examples/crm/true-scenario.yaml (its own seed) is simulated with per-lead
# records into a temporary results folder, then written as a HubSpot and a Salesforce export
# (DIR/hubspot/, DIR/salesforce/). tests/test_crm_export.py runs this script into a temporary
# folder and checks the bundled files are exactly what it writes.
set -eu
cd "$(dirname "$0")/../.."
FUNNELSIM="${FUNNELSIM:-.venv/bin/funnelsim}"
DIR="${1:-examples/crm}"
RUN="$(mktemp -d)"
trap 'rm -rf "$RUN"' EXIT

"$FUNNELSIM" run examples/crm/true-scenario.yaml --replications 1 --workers 1 --out "$RUN/run" >/dev/null
rm -rf "$DIR/hubspot" "$DIR/salesforce"
"$FUNNELSIM" export-crm "$RUN/run" --format hubspot --out "$DIR/hubspot"
"$FUNNELSIM" export-crm "$RUN/run" --format salesforce --out "$DIR/salesforce"
