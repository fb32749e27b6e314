"""Listening surveys and videos of sounds.

Modules: ``store`` (surveys, stimuli, invitations and answers in SQLite), ``loudness`` (BS.1770
loudness and levelling), ``video`` (spectrogram, envelope and playhead encoded as WebM),
``sources`` (what ``gesturegan video`` films: clips, mixes, growth, morphs), ``server`` (the
participant pages of one survey for remote participants), ``stats`` (intervals, d', agreement) and
``report`` (the results as Markdown with figures). The studio builds surveys with ``store``.
"""
