"""Renderers (PyVista) and Panel/param components with shared view state. Takes arrays and
`Prediction` records, never models.
"""
