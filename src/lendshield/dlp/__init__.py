"""Leak prevention: the PII scanner, redaction, export fingerprints and leak tracing.

The library API::

    from lendshield.dlp import scan_text
    for finding in scan_text("借款人：张三，身份证号：11010519491231002X"):
        print(finding.type, finding.start, finding.end, finding.confidence, finding.validator)
"""

from lendshield.dlp.config import PII_TYPES, DlpConfig, PiiType, default_config, load_config
from lendshield.dlp.scanner import Finding, Scanner, scan_text

__all__ = ["PII_TYPES", "DlpConfig", "Finding", "PiiType", "Scanner", "default_config", "load_config", "scan_text"]
