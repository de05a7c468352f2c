"""The embedded runtime: the whole Scenergy platform on one machine with only Python (`make run`)."""
