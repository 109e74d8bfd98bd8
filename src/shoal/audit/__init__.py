"""The audit trail: one CloudTrail record per API request, kept in the lake.

- ``records``: building a record from the facts of a request (``build_record``), and
  ``annotate`` for handlers to add shoal's own facts (role, bytes scanned …);
- ``trail``: ``AuditTrail``, the durable journal and its roll-over into CloudTrail
  log files (gzipped ``{"Records": [...]}``) at CloudTrail's keys in the audit bucket;
- ``catalog``: the ``shoal_audit.cloudtrail`` table, declared as AWS documents it;
- ``digest`` / ``verify``: signed digest files and the check of the chain.
"""

from __future__ import annotations

from shoal.audit.records import ApiCall, Caller, annotate, build_record
from shoal.audit.trail import AuditTrail, RollSummary, TrailLayout
from shoal.audit.verify import VerifyReport, verify_trail

__all__ = [
    "ApiCall",
    "AuditTrail",
    "Caller",
    "RollSummary",
    "TrailLayout",
    "VerifyReport",
    "annotate",
    "build_record",
    "verify_trail",
]
