"""Record: writes delivery attempts and receipts, and is the one place delivery and
ingest outcomes become metrics, lifecycle/audit log lines and live progress.

Stage: between delivery and routing (see the import-linter layers): the
dispatcher and the ingest handlers call it; it calls the store.
"""

from router.record.backlog import BacklogGauges
from router.record.intake import Intake
from router.record.labels import route_channels
from router.record.progress import ProgressHub
from router.record.recorder import Recorder

__all__ = ["BacklogGauges", "Intake", "ProgressHub", "Recorder", "route_channels"]
