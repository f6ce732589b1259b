"""The compliance officer's workbench: the overview and its charts, the audit trail's views and
exports, retention, see-as simulation, policy administration and accounts, records of processing,
redaction evaluation and leaks, and re-analysis. The highest domain: it may
import every other, and none imports it.
"""
