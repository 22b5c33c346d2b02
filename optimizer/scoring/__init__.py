"""Scores from data: customer values from a transaction log (rfm, clv), response models from a randomized
campaign history (uplift: the T-learner; cells), how well they rank (uplift_report), what a plan would
have earned (evaluate), and the score workflow that writes what cvo optimize reads (workflow)."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
