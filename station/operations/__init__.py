"""The station's use cases, without Qt: what the command line and the window both call.

People and their PINs (``people``, ``session``), which slot a unit goes to (``slots``), the
recipe, CA and vault (``production``), jobs on slots, rework and recovery (``units``),
inspections and golden units (``supervision``), golden units' references, the station self-test
and the production rule that waits for it (``selftests``), the shift counters (``counters``),
recipe checks (``recipes``); ``station`` bundles them into the ``Station`` the composition root
builds. Every refusal is an error of ``station.domain.errors``.
"""
