"""Shadow scoring: a pending model version scores the same rows as the champion, without acting on them.

Pure computation (no I/O, no Airflow); the batch transform writes the shadow scores and the lifecycle
reads and writes the JSON documents. Modules (import them directly; this package imports nothing heavy):

* ``compare``: ``compare_partition`` (one partition's PartitionComparison), ``combine`` (the ShadowSummary
  body from the partitions' counts) and ``paired_quality`` (both models on the labelled rows).
* ``facets``: the facet groups (Clarify's group *d*) and DPPL / DI of both models' decisions from counts.
* ``delong``: the paired DeLong test of the difference of two AUCs (Sun & Xu's midrank algorithm).
* ``gate``: ``evaluate_gate``, the approval gate on the shadow evidence (``shadow.gate``).
"""
