"""The steps of the per-unit sequence, one small class each (see ``station.flow.sequence``)."""
