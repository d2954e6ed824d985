"""Crowdsourced MOS studies: schema, store, session protocol, screening and analysis."""
