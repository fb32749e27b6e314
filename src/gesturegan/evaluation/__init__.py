"""Evaluation of trained models: metrics (``metrics``) and the ``evaluate`` command (``run``)."""
