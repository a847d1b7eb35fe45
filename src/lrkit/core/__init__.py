"""The core layer: schedule values, their families and combinators, the routes that describe time,
the backends that evaluate closed forms, the registry and the config parser.

It imports numpy and nothing above it (no framework, no reactive state, no tool).
Its public names are re-exported by :mod:`lrkit`; import them from there.
"""
