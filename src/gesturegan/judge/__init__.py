"""The independent judge: distances between sets of audio clips in feature spaces no model of this
project was trained in.

One module per concern: ``config`` (settings), ``clips`` (reading folders and datasets),
``features`` (weight-free spectral and envelope statistics), ``randnets`` (fixed-seed random
convolutional networks), ``sfx`` (the optional pretrained ``aisfx`` embedding), ``distances``
(Fréchet, kernel distance, precision/recall/density/coverage), ``degrade`` (controlled degradations
for checking the judge), ``compare`` (the figures beside real-vs-real and real-vs-noise) and
``report`` (table and JSON).

The judge grades; it never picks. What picks the exported generator during training (``heard``,
``probe_fd``) is never what grades it.
"""
