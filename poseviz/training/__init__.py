"""Configs, the trainer, checkpoints and evaluation reports."""
