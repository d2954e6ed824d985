"""2D-to-3D lifting models: a registry (``register_model`` / ``create_model``) and one file
per model family.
"""
